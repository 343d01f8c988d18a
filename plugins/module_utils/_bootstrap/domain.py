# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt LXC domain of a bootstrapped container: its XML, and the comparison of wanted
settings with a defined domain's XML on what they set (libvirt adds defaults, UUIDs and
reorders, so a textual comparison would always differ)."""

import re
from xml.etree import ElementTree

_NAME = re.compile(r"\A(?!\.)[A-Za-z0-9_.+-]{1,64}\Z")


class DomainError(ValueError):
    pass


class LxcDomain(object):
    """``memory`` in MiB; ``network`` a libvirt network name, or None for a private network
    namespace with no interface (<privnet/>); ``idmap`` (uid target, gid target, count)."""

    def __init__(self, name, root, memory=800, vcpus=1, network=None, init="/sbin/init",
                 idmap=None):
        if not name or not _NAME.match(name):
            raise DomainError("name %r is not a domain name (letters, digits, . _ + -; no slash)"
                              % (name,))
        if not root or not root.startswith("/"):
            raise DomainError("root %r is not an absolute path" % (root,))
        if not isinstance(memory, int) or memory < 1:
            raise DomainError("memory %r must be a whole number of MiB, at least 1" % (memory,))
        if not isinstance(vcpus, int) or vcpus < 1:
            raise DomainError("vcpus %r must be at least 1" % (vcpus,))
        self.name, self.root, self.memory, self.vcpus = name, root, memory, vcpus
        self.network, self.init, self.idmap = network, init, idmap

    def xml(self):
        domain = ElementTree.Element("domain", type="lxc")
        ElementTree.SubElement(domain, "name").text = self.name
        ElementTree.SubElement(domain, "memory", unit="KiB").text = str(self.memory * 1024)
        ElementTree.SubElement(domain, "vcpu").text = str(self.vcpus)
        os_element = ElementTree.SubElement(domain, "os")
        ElementTree.SubElement(os_element, "type").text = "exe"
        ElementTree.SubElement(os_element, "init").text = self.init
        if self.idmap:
            uid, gid, count = self.idmap
            idmap = ElementTree.SubElement(domain, "idmap")
            ElementTree.SubElement(idmap, "uid", start="0", target=str(uid), count=str(count))
            ElementTree.SubElement(idmap, "gid", start="0", target=str(gid), count=str(count))
        if self.network is None:
            features = ElementTree.SubElement(domain, "features")
            ElementTree.SubElement(features, "privnet")
        devices = ElementTree.SubElement(domain, "devices")
        filesystem = ElementTree.SubElement(devices, "filesystem", type="mount")
        ElementTree.SubElement(filesystem, "source", dir=self.root)
        ElementTree.SubElement(filesystem, "target", dir="/")
        if self.network is not None:
            interface = ElementTree.SubElement(devices, "interface", type="network")
            ElementTree.SubElement(interface, "source", network=self.network)
        console = ElementTree.SubElement(devices, "console", type="pty")
        ElementTree.SubElement(console, "target", type="lxc", port="0")
        return ElementTree.tostring(domain, encoding="unicode")

    def facts(self):
        return facts_of(self.xml())


def facts_of(xml):
    """What the wanted settings decide, read from any domain XML (libvirt's own included)."""
    root = ElementTree.fromstring(xml)
    memory = root.find("memory")
    scale = {"KiB": 1, "k": 1, "KB": 1, "MiB": 1024, "M": 1024, "GiB": 1024 * 1024,
             "G": 1024 * 1024, "b": 1.0 / 1024, "bytes": 1.0 / 1024}
    kib = int(int(memory.text) * scale.get(memory.get("unit", "KiB"), 1)) if memory is not None else None
    rootfs = None
    for filesystem in root.findall("devices/filesystem"):
        target = filesystem.find("target")
        if target is not None and target.get("dir") == "/":
            source = filesystem.find("source")
            rootfs = source.get("dir") if source is not None else None
    networks = sorted(i.find("source").get("network") for i in root.findall("devices/interface")
                      if i.get("type") == "network" and i.find("source") is not None)
    idmap = None
    uid, gid = root.find("idmap/uid"), root.find("idmap/gid")
    if uid is not None and gid is not None:
        idmap = (int(uid.get("target")), int(gid.get("target")), int(uid.get("count")))
    return {
        "name": root.findtext("name"),
        "memory_kib": kib,
        "vcpus": int(root.findtext("vcpu") or 1),
        "init": root.findtext("os/init"),
        "root": rootfs,
        "networks": networks,
        "privnet": root.find("features/privnet") is not None,
        "idmap": idmap,
        "console": root.find("devices/console") is not None,
    }


def differences(wanted, defined_xml):
    """{setting: (defined, wanted)} where a defined domain differs from the wanted one."""
    have = facts_of(defined_xml)
    want = wanted.facts()
    return {key: (have[key], want[key]) for key in want if have[key] != want[key]}
