# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Populating a container's root filesystem with the OS's own package manager: dnf or yum with
--installroot (repositories disabled but the ones given), or debootstrap."""

import os
import re
import shutil
import tempfile

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.inroot import (
    Root,
    RootPathError,
)
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner

# The article's package set for a Fedora container.
FEDORA_PACKAGES = ("systemd", "passwd", "yum", "fedora-release", "vim-minimal",
                   "openssh-server", "procps-ng")
# Values that become words of dnf's or debootstrap's command line: never starting with "-"
# (it would read as an option).
_REPO_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")
_PACKAGE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.+:~-]{0,199}\Z")
_RELEASEVER = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_SUITE = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z")
_VARIANT = re.compile(r"\A(?:-|[a-z][a-z0-9_-]{0,31})\Z")
_URL = re.compile(r"\A(?:https?|ftp|file|copy)://[^\s,]+\Z")


class PopulateError(Exception):
    """A step failed; ``step`` names it and ``output`` holds the tool's own message."""

    def __init__(self, step, message, output=""):
        super(PopulateError, self).__init__("%s: %s%s" % (step, message,
                                                          "\n" + output.strip() if output else ""))
        self.step = step
        self.message = message
        self.output = output


def check_packages(packages, where="packages"):
    for package in packages:
        if not isinstance(package, str) or not _PACKAGE.match(package):
            raise vocabulary.InvalidValue(where, package, "is not a package name (letters, "
                                          "digits, _ . + : ~ -, not starting with - or .)")


def _check(pattern, value, field, what):
    if not isinstance(value, str) or not pattern.match(value):
        raise vocabulary.InvalidValue(field, value, "is not %s" % what)
    return value


def _run(runner, argv, step="populate"):
    """``(status, output)`` of a tool run by the engine's ProcessRunner (the sbin directories
    searched, C locale), its stderr in its output."""
    try:
        status, out, _err = runner.run(argv, merge_output=True)
    except (FirewallUnavailableError, OSError) as exc:  # not installed; not runnable
        raise PopulateError(step, "cannot run %s: %s" % (argv[0], exc))
    return status, out


class RpmRoot(object):
    """dnf (or yum) --installroot. Debian's rpm keeps its database under HOME unless told
    otherwise, so the tools run with a HOME whose .rpmmacros puts it in ROOT/var/lib/rpm."""

    def __init__(self, installer, root, releasever, repos, nogpgcheck=False):
        for repo in repos:
            if not isinstance(repo, dict) or set(repo) != {"name", "baseurl"}:
                raise vocabulary.InvalidValue("repos", repo, "needs a name and a baseurl "
                                                             "(and nothing else)")
            _check(_REPO_NAME, repo["name"], "repos.name",
                   "a repository name (letters, digits, _ . -, not starting with . or -)")
            _check(_URL, repo["baseurl"], "repos.baseurl",
                   "a URL (http, https, ftp or file; no space or comma)")
        _check(_RELEASEVER, str(releasever), "releasever", "a release version (letters, digits, "
                                                           "_ . -)")
        self.installer = installer
        self.root = root
        self.releasever = str(releasever)
        self.repos = repos
        self.nogpgcheck = nogpgcheck
        self._home = tempfile.mkdtemp(prefix="virtkit-rpm-")
        with open(os.path.join(self._home, ".rpmmacros"), "w") as handle:
            handle.write("%_dbpath /var/lib/rpm\n")
        self.runner = ProcessRunner(env=dict(os.environ, HOME=self._home))

    def close(self):
        shutil.rmtree(self._home, ignore_errors=True)

    def missing(self, packages):
        """The packages not installed in the root (all of them when it has no database). The
        caller has made sure that rpm, following ROOT/var/lib/rpm as the host does, reaches the
        root's own database (see Root.same_on_host)."""
        if not os.path.isdir(self.root):
            return list(packages)
        with Root(self.root) as root:
            if not root.is_dir("/var/lib/rpm"):
                return list(packages)
        _code, out = _run(self.runner, ["rpm", "--root", self.root, "-q", "--whatprovides"]
                          + list(packages), "query")
        gone = set()
        for line in out.splitlines():
            match = re.match(r"^no package provides (\S+)$", line.strip()) or re.match(
                r"^package (\S+) is not installed$", line.strip())
            if match:
                gone.add(match.group(1))
        return [package for package in packages if package in gone]

    def argv(self, packages):
        argv = [self.installer, "-y", "--installroot=" + self.root,
                "--releasever=" + self.releasever]
        if self.nogpgcheck:
            argv.append("--nogpgcheck")
        argv.append("--disablerepo=*")
        for repo in self.repos:
            argv.append("--repofrompath=%s,%s" % (repo["name"], repo["baseurl"]))
        for repo in self.repos:
            argv.append("--enablerepo=" + repo["name"])
        return argv + ["install"] + list(packages)

    def install(self, packages):
        code, out = _run(self.runner, self.argv(packages))
        if code != 0:
            raise PopulateError("populate", "%s failed (exit status %d)" % (self.installer, code), out)
        return out


class DebootstrapRoot(object):
    def __init__(self, root, suite, mirror, variant="minbase", include=()):
        if not mirror:
            raise PopulateError("input", "mirror is required for debootstrap (your Debian or "
                                         "Ubuntu mirror's URL)")
        _check(_URL, mirror, "mirror", "a URL (http, https, ftp, file or copy; no space or comma)")
        _check(_SUITE, suite, "suite", "a suite or codename (a-z 0-9 _ . -, not starting with -)")
        _check(_VARIANT, variant, "variant", "a debootstrap variant (a-z 0-9 _ -, or -)")
        check_packages(include, "packages")
        self.root, self.suite, self.mirror = root, suite, mirror
        self.variant, self.include = variant, list(include)

    def complete(self):
        """Whether debootstrap finished here (it removes ROOT/debootstrap when done)."""
        if not os.path.isdir(self.root):
            return False
        with Root(self.root) as root:
            return root.exists("/etc/os-release") and not root.exists("/debootstrap")

    def missing(self, packages):
        if not self.complete():
            return ["(base system)"] + list(packages)
        with Root(self.root) as root:
            try:
                text, _info = root.read("/var/lib/dpkg/status")
            except RootPathError as exc:
                raise PopulateError("query", str(exc))
        installed = set()
        if text is not None:
            name = None
            for line in text.splitlines():
                if line.startswith("Package: "):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Status: ") and "install ok installed" in line:
                    installed.add(name)
        return [package for package in packages if package not in installed]

    def argv(self):
        argv = ["debootstrap", "--variant=" + self.variant]
        if self.include:
            argv.append("--include=" + ",".join(self.include))
        return argv + [self.suite, self.root, self.mirror]

    def install(self, _packages):
        code, out = _run(ProcessRunner(), self.argv())
        if code != 0:
            raise PopulateError("populate", "debootstrap failed (exit status %d)" % code, out)
        return out
