# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One container, the article's four steps as one idempotent operation: populate the root,
let root log in on the LXC console, set root's password, define (and start) the domain."""

import os

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap import rootdir, rootfs
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.domain import (
    LxcDomain,
    differences,
)
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.inroot import Root
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.populate import (
    FEDORA_PACKAGES,
    DebootstrapRoot,
    PopulateError,
    RpmRoot,
    check_packages,
)

DEFAULT_BASE = "/var/lib/libvirt/filesystems"
# Paths of a root that the package manager, run with --installroot, reaches the host's way:
# each must lead where the guest's view of it leads (checked before it runs on a root).
_HOST_VIEW = ("etc", "usr", "var", "var/lib", "var/lib/rpm", "var/lib/dpkg", "var/cache",
              "tmp", "dev", "proc", "sys", "run")


def check_params(params):
    """Check every option that names a place or becomes a word of a command, where it
    enters; fills in the default root. Raises vocabulary.InvalidValue naming the field."""
    name = vocabulary.object_name(params["name"], "name")
    base = vocabulary.absolute_path(params.get("root_base") or DEFAULT_BASE, "root_base")
    params["root_base"] = base
    if params.get("root") is None:
        params["root"] = base + "/" + name
    vocabulary.absolute_path(params["root"], "root")
    if params.get("osid") is not None:
        vocabulary.text(params["osid"], "osid", 100)
    if params.get("network") is not None:
        vocabulary.object_name(params["network"], "network")
    vocabulary.absolute_path(params.get("init") or "/sbin/init", "init")
    vocabulary.text(params.get("uri") or "lxc:///system", "uri", 1024)
    idmap = params.get("idmap")
    if idmap:  # the argument spec requires its three keys
        for key in ("uid_target", "gid_target", "count"):
            value = idmap[key]
            if isinstance(value, bool) or not str(value).isdigit() or int(value) > 2 ** 32 - 1:
                raise vocabulary.InvalidValue("idmap." + key, value, "is not a whole number "
                                                                     "(0 to 4294967295)")
        if int(idmap["count"]) < 1:
            raise vocabulary.InvalidValue("idmap.count", idmap["count"], "must be at least 1")
    hashed = params.get("root_password_hash")
    if hashed is not None:
        try:
            vocabulary.text(hashed, "root_password_hash", 1024)
            valid = ":" not in hashed
        except vocabulary.InvalidValue:
            valid = False
        if not valid:  # the value is a secret: named, not shown
            raise vocabulary.InvalidValue("root_password_hash", "(not shown)", "is not a crypt "
                                          "hash (not empty, no ':', no control character or "
                                          "line break)")
    check_packages(params.get("packages") or ())
    return params


class Container(object):
    """``libvirt``: the libvirt Python module (passed in so that this code imports no optional
    library itself)."""

    def __init__(self, params, os_info, libvirt, check_mode=False):
        self.params = check_params(params)
        self.os_info = os_info
        self.libvirt = libvirt
        self.check_mode = check_mode
        self.changes = []  # what was (or would be) done, in words
        self.diff = {"before": {}, "after": {}}
        # Every setting is checked before anything changes.
        idmap = params["idmap"]
        self.wanted = LxcDomain(params["name"], params["root"], params["memory"],
                                params["vcpus"], params["network"], params["init"],
                                (int(idmap["uid_target"]), int(idmap["gid_target"]),
                                 int(idmap["count"])) if idmap else None)

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

    def _check_host_view(self, root):
        """Refuse to run a package manager on an existing root where a path it uses leads
        somewhere else for the host than for the guest (a link out of the root)."""
        if not os.path.isdir(root) or os.path.islink(root):
            raise PopulateError("input", "root %s exists and is not a directory" % root)
        with Root(root) as opened:
            names = list(_HOST_VIEW)
            for name in sorted(os.listdir(root)):
                if os.path.islink(os.path.join(root, name)):
                    names.append(name)
            for name in names:
                if not opened.same_on_host(name):
                    raise PopulateError(
                        "populate", "%s/%s leads out of the root for a program run on the host "
                        "(a symbolic link to %r): refusing to run the package manager on it"
                        % (root, name, os.path.realpath(os.path.join(root, name))))

    def populate(self):
        params = self.params
        root = params["root"]
        packages = params["packages"]
        if packages is None:
            packages = FEDORA_PACKAGES if self.os_info.distro == "fedora" else ()
        check_packages(packages)
        installer = self._installer()
        try:
            existed = os.path.lexists(root)
            if existed:
                self._check_host_view(root)
            missing = installer.missing(list(packages))
            if not missing:
                return
            self.changes.append("install %s into %s" % (", ".join(missing), root))
            self.diff["after"]["packages"] = sorted(missing)
            if self.check_mode:
                return
            wanted = missing if isinstance(installer, RpmRoot) else packages
            if existed:
                self._install_in_place(installer, wanted)
            else:
                self._install_fresh(installer, wanted)
        finally:
            close = getattr(installer, "close", None)
            if close:
                close()

    def _install_in_place(self, installer, packages):
        """An existing root is populated where it is; a failure leaves it in place and says
        whether the package manager changed it."""
        root = self.params["root"]
        before = rootdir.snapshot(root)
        try:
            installer.install(packages)
        except PopulateError as exc:
            changed = rootdir.changed_entries(before, rootdir.snapshot(root))
            if changed:
                note = ("%s existed before this run and is left in place, not removed, but the "
                        "package manager changed %d entries in it (%s%s)"
                        % (root, len(changed), ", ".join(changed[:5]),
                           ", ..." if len(changed) > 5 else ""))
            else:
                note = "%s existed before this run and is left as it was" % root
            raise PopulateError(exc.step, "%s; %s" % (exc.message, note), exc.output)

    def _install_fresh(self, installer, packages):
        """A new root is populated in a fresh directory beside it and renamed into place only
        when complete, with its creation record; a failure removes that directory."""
        root = self.params["root"]
        staged = rootdir.staging(root)
        try:
            installer.root = staged
            installer.install(packages)
            rootdir.move_into_place(staged, root, self.params["name"])
        except BaseException as exc:
            if os.path.lexists(staged):
                try:
                    rootdir.remove_tree(staged)
                except (OSError, rootdir.RootDirError) as cleanup:
                    if isinstance(exc, PopulateError):
                        raise PopulateError(exc.step, "%s; the partial root %s could not be "
                                            "removed: %s" % (exc.message, staged, cleanup),
                                            exc.output)
            raise
        finally:
            installer.root = root

    # root's login ---------------------------------------------------------------------------

    def login(self):
        root = self.params["root"]
        password, hashed = self.params["root_password"], self.params["root_password_hash"]
        wants_securetty = self.params["securetty"]
        if not (wants_securetty or password or hashed):
            return
        if self.check_mode and not os.path.isdir(root):
            return  # populated by this run (reported above); nothing to read yet
        if not os.path.isdir(root):
            raise PopulateError("login", "root %s does not exist (give osid to populate it)"
                                % root)
        with Root(root) as opened:
            if wants_securetty and rootfs.securetty_needs(opened):
                self.changes.append("add pts/0 to /etc/securetty")
                self.diff["after"]["securetty"] = "pts/0"
                if not self.check_mode:
                    rootfs.securetty_add(opened)
            if not (password or hashed) or (self.check_mode and not opened.exists("/etc/shadow")):
                return
            current = rootfs.root_hash(opened)
            note = None
            if password:
                matches, note = rootfs.compare_hash(password, current)
                if matches:
                    return
                hashed = rootfs.sha512_crypt(password)
            elif current == hashed:
                return
            self.changes.append("set root's password" + (" (%s)" % note if note else ""))
            self.diff["after"]["root_password"] = "(changed)"
            if not self.check_mode:
                rootfs.set_root_hash(opened, hashed)

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
        root, name = params["root"], params["name"]
        remove_root = params["remove_root"] and os.path.lexists(root)
        if remove_root:  # refused before anything changes
            reason = rootdir.refusal(root, params["root_base"], name)
            if reason:
                raise PopulateError("remove_root", "refusing to remove the root: %s" % reason)
        conn = self._connect()
        try:
            existing = self._lookup(conn)
            if existing is not None:
                if existing.isActive():
                    self.changes.append("stop domain %s" % name)
                    if not self.check_mode:
                        existing.destroy()
                self.changes.append("undefine domain %s" % name)
                if not self.check_mode:
                    existing.undefine()
        except self.libvirt.libvirtError as exc:
            raise PopulateError("domain", str(exc))
        finally:
            conn.close()
        if remove_root:
            self.changes.append("remove %s" % root)
            if not self.check_mode:
                reason = rootdir.refusal(root, params["root_base"], name)  # again: time passed
                if reason:
                    raise PopulateError("remove_root", "refusing to remove the root: %s" % reason)
                try:
                    rootdir.remove_tree(root)
                except (OSError, rootdir.RootDirError) as exc:
                    raise PopulateError("remove_root", "removing %s failed: %s" % (root, exc))
                rootdir.remove_record(root)
        elif params["remove_root"] and not self.check_mode and rootdir.read_record(root):
            rootdir.remove_record(root)  # the root is gone already: its record goes too
