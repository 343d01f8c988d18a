# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Looking an operating system up by its osinfo short id (``fedora19``, ``debian11``,
``centos-stream9``) in the host's osinfo database, and choosing the tool that can populate a
root filesystem for it (the database records no package manager)."""

import difflib
import glob
import os
import re
from xml.etree import ElementTree

DB_PATHS = ("/usr/share/osinfo", "/usr/local/share/osinfo", "/etc/osinfo")
RPM_DISTROS = ("fedora", "rhel", "centos", "centos-stream", "rocky", "almalinux", "ol")
DEB_DISTROS = ("debian", "ubuntu")


class OsinfoError(ValueError):
    pass


class OperatingSystem(object):
    def __init__(self, short_id, name, distro, version, codename, trees):
        self.short_id = short_id
        self.name = name
        self.distro = distro
        self.version = version
        self.codename = codename
        self.trees = trees  # arch -> install tree URL

    @property
    def installer(self):
        """"dnf", "yum" or "debootstrap"."""
        major = _major(self.version)
        if self.distro in RPM_DISTROS:
            old = (self.distro == "fedora" and major is not None and major < 22) or (
                self.distro in ("rhel", "centos") and major is not None and major < 8)
            return "yum" if old else "dnf"
        if self.distro in DEB_DISTROS:
            return "debootstrap"
        raise OsinfoError("%s (%s): distribution %r has no supported installer (supported: "
                          "%s with dnf or yum; %s with debootstrap)"
                          % (self.short_id, self.name, self.distro, ", ".join(RPM_DISTROS),
                             ", ".join(DEB_DISTROS)))

    @property
    def suite(self):
        """debootstrap's suite: the codename's first word, lower case (bullseye, jammy)."""
        if not self.codename:
            raise OsinfoError("%s has no codename in the osinfo database" % self.short_id)
        return self.codename.split()[0].lower()


def _major(version):
    match = re.match(r"(\d+)", version or "")
    return int(match.group(1)) if match else None


class OsinfoDb(object):
    """The osinfo database's OS entries, read on demand."""

    def __init__(self, paths=DB_PATHS):
        self.files = []
        for path in paths:
            self.files += sorted(glob.glob(os.path.join(path, "os", "*", "*.xml")))
        if not self.files:
            raise OsinfoError("no osinfo database found under %s (install osinfo-db)"
                              % ", ".join(paths))

    def lookup(self, short_id):
        marker = "<short-id>%s</short-id>" % short_id
        for path in self.files:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            if marker in text:
                return self._parse(text, short_id, path)
        known = self.short_ids()
        close = difflib.get_close_matches(short_id, known, n=5, cutoff=0.6)
        raise OsinfoError("osid %r is not in the osinfo database%s"
                          % (short_id, "; close matches: " + ", ".join(close) if close else ""))

    def short_ids(self):
        ids = []
        for path in self.files:
            with open(path, encoding="utf-8") as handle:
                ids += re.findall(r"<short-id>([^<]+)</short-id>", handle.read())
        return ids

    @staticmethod
    def _parse(text, short_id, path):
        root = ElementTree.fromstring(text)
        for element in root.findall("os"):
            if short_id in [e.text for e in element.findall("short-id")]:
                def first(tag):
                    for child in element.findall(tag):
                        if not child.attrib:
                            return (child.text or "").strip()
                    return None
                trees = {}
                for tree in element.findall("tree"):
                    url = tree.findtext("url")
                    if url:
                        trees.setdefault(tree.get("arch", "all"), url.strip())
                return OperatingSystem(short_id, first("name"), first("distro"),
                                       first("version"), first("codename"), trees)
        raise OsinfoError("%s: entry for %s could not be read" % (path, short_id))
