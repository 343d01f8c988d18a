# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One container, the article's four steps as one idempotent operation: populate the root,
let root log in on the LXC console, set root's password, define (and start) the domain."""

import os
import shutil

from ansible_collections.virtkit.host.plugins.module_utils.bootstrap import rootfs
from ansible_collections.virtkit.host.plugins.module_utils.bootstrap.domain import (
    LxcDomain,
    differences,
)
from ansible_collections.virtkit.host.plugins.module_utils.bootstrap.populate import (
    FEDORA_PACKAGES,
    DebootstrapRoot,
    PopulateError,
    RpmRoot,
    check_packages,
)


class Container(object):
    """``libvirt``: the libvirt Python module (passed in so that this code imports no optional
    library itself)."""

    def __init__(self, params, os_info, libvirt, check_mode=False):
        self.params = params
        self.os_info = os_info
        self.libvirt = libvirt
        self.check_mode = check_mode
        self.changes = []  # what was (or would be) done, in words
        self.diff = {"before": {}, "after": {}}
        # Every setting is checked before anything changes.
        idmap = params["idmap"]
        if idmap and set(idmap) != {"uid_target", "gid_target", "count"}:
            raise PopulateError("input", "idmap needs uid_target, gid_target and count, not %s"
                                % ", ".join(sorted(idmap)))
        self.wanted = LxcDomain(params["name"], params["root"], params["memory"],
                                params["vcpus"], params["network"], params["init"],
                                (int(idmap["uid_target"]), int(idmap["gid_target"]),
                                 int(idmap["count"])) if idmap else None)
        check_packages(params["packages"] or ())

    # populate -----------------------------------------------------------------------------

    def _installer(self):
        params, os_info = self.params, self.os_info
        if os_info.installer == "debootstrap":
            return DebootstrapRoot(params["root"], params["suite"] or os_info.suite, params["mirror"],
                                   params["variant"], params["packages"] or ())
        repos = params["repos"]
        if not repos:
            tree = os_info.trees.get(os.uname()[4]) or next(iter(os_info.trees.values()), None)
            if not tree:
                raise PopulateError("input", "%s has no install tree in the osinfo database: "
                                             "give repos" % os_info.short_id)
            repos = [{"name": "osinfo-tree", "baseurl": tree}]
        return RpmRoot(params["installer"] or os_info.installer, params["root"],
                       params["releasever"] or os_info.version, repos, params["nogpgcheck"])

    def populate(self):
        params = self.params
        packages = params["packages"]
        if packages is None:
            packages = FEDORA_PACKAGES if self.os_info.distro == "fedora" else ()
        check_packages(packages)
        installer = self._installer()
        try:
            missing = installer.missing(list(packages))
            if not missing:
                return
            self.changes.append("install %s into %s" % (", ".join(missing), params["root"]))
            self.diff["after"]["packages"] = sorted(missing)
            if self.check_mode:
                return
            created = not os.path.exists(params["root"]) or not os.listdir(params["root"])
            try:
                os.makedirs(params["root"], exist_ok=True)
                installer.install(missing if isinstance(installer, RpmRoot) else packages)
            except BaseException:
                if created:  # a root this run made is not left half-populated
                    shutil.rmtree(params["root"], ignore_errors=True)
                raise
        finally:
            close = getattr(installer, "close", None)
            if close:
                close()

    # root's login ---------------------------------------------------------------------------

    def login(self):
        root = self.params["root"]
        if self.params["securetty"] and (not self.check_mode or os.path.isdir(root)):
            if rootfs.securetty_needs(root):
                self.changes.append("add pts/0 to /etc/securetty")
                self.diff["after"]["securetty"] = "pts/0"
                if not self.check_mode:
                    rootfs.securetty_add(root)
        password, hashed = self.params["root_password"], self.params["root_password_hash"]
        if not (password or hashed) or (self.check_mode and not os.path.exists(
                os.path.join(root, "etc", "shadow"))):
            return
        current = rootfs.root_hash(root)
        if password:
            if rootfs.hash_matches(password, current):
                return
            hashed = rootfs.sha512_crypt(password)
        elif current == hashed:
            return
        self.changes.append("set root's password")
        self.diff["after"]["root_password"] = "(changed)"
        if not self.check_mode:
            rootfs.set_root_hash(root, hashed)

    # domain ---------------------------------------------------------------------------------

    def _connect(self):
        try:
            return self.libvirt.open(self.params["uri"])
        except self.libvirt.libvirtError as exc:
            raise PopulateError("domain", "cannot connect to %s: %s" % (self.params["uri"], exc))

    def _lookup(self, conn):
        """The domain of this name, or None."""
        try:
            return conn.lookupByName(self.params["name"])
        except self.libvirt.libvirtError:
            return None

    def domain(self):
        params = self.params
        wanted = self.wanted
        conn = self._connect()
        try:
            existing = self._lookup(conn)
            xml = wanted.xml()
            if existing is None:
                self.changes.append("define domain %s" % params["name"])
                self.diff["after"]["domain"] = xml
                if not self.check_mode:
                    existing = conn.defineXML(xml)
            else:
                defined = existing.XMLDesc(0)
                changed = differences(wanted, defined)
                if changed:
                    self.changes.append("redefine domain %s (%s)" % (
                        params["name"], ", ".join(sorted(changed))))
                    self.diff["before"]["domain"] = {k: v[0] for k, v in changed.items()}
                    self.diff["after"]["domain"] = {k: v[1] for k, v in changed.items()}
                    if not self.check_mode:
                        # Same UUID, so libvirt updates the definition instead of refusing it.
                        uuid = existing.UUIDString()
                        existing = conn.defineXML(xml.replace(
                            "<name>", "<uuid>%s</uuid><name>" % uuid, 1))
            if params["state"] == "running":
                if existing is None or not existing.isActive():
                    self.changes.append("start domain %s" % params["name"])
                    if not self.check_mode:
                        existing.create()
            return existing.UUIDString() if existing is not None else None
        except self.libvirt.libvirtError as exc:
            raise PopulateError("domain", str(exc))
        finally:
            conn.close()

    def remove(self):
        params = self.params
        conn = self._connect()
        try:
            existing = self._lookup(conn)
            if existing is not None:
                if existing.isActive():
                    self.changes.append("stop domain %s" % params["name"])
                    if not self.check_mode:
                        existing.destroy()
                self.changes.append("undefine domain %s" % params["name"])
                if not self.check_mode:
                    existing.undefine()
        except self.libvirt.libvirtError as exc:
            raise PopulateError("domain", str(exc))
        finally:
            conn.close()
        if params["remove_root"] and os.path.exists(params["root"]):
            self.changes.append("remove %s" % params["root"])
            if not self.check_mode:
                shutil.rmtree(params["root"])
