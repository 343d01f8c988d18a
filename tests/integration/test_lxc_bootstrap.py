"""lxc_bootstrap with the real dnf --installroot (a local RPM repository), a real libvirtd LXC
driver (private socket), and the container started and entered."""

import os

import pytest

from harness import LibvirtNwfilterd, NetworkNamespace, require, run, run_module
from rpmrepo import build

OSID = "fedora36"  # in Debian 12's osinfo-db; the packages come from the local repository
PACKAGES = ["fedora-release", "setup", "busybox-init"]


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    require("rpmbuild", "createrepo_c", "dnf", "rpm", "/bin/busybox")
    return build(str(tmp_path_factory.mktemp("rpmrepo")))


@pytest.fixture
def libvirtd():
    with NetworkNamespace():
        daemon = LibvirtNwfilterd(command_log=False, driver="lxc")
        try:
            yield daemon
        finally:
            daemon.stop()


def args(tmp_path, repository, daemon, **extra):
    base = {"name": "demo", "root": str(tmp_path / "demo"), "root_base": str(tmp_path),
            "osid": OSID, "packages": PACKAGES,
            "repos": [{"name": "local", "baseurl": repository}], "nogpgcheck": True,
            "root_password": "s3cret", "memory": 128, "uri": daemon.uri, "state": "running"}
    base.update(extra)
    return base


def test_bootstrap_start_enter_rerun_and_remove(tmp_path, repository, libvirtd):
    wanted = args(tmp_path, repository, libvirtd)
    checked = run_module("lxc_bootstrap", wanted, check=True)
    assert checked["changed"] and not os.path.exists(wanted["root"]), checked
    result = run_module("lxc_bootstrap", wanted, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["os"]["installer"] == "dnf" and result["os"]["version"] == "36"
    assert result["changes"][0] == "install %s into %s" % (", ".join(PACKAGES), wanted["root"])
    root = wanted["root"]
    assert open(os.path.join(root, "etc", "securetty")).read() == "pts/0\n"
    shadow = open(os.path.join(root, "etc", "shadow")).read()
    assert shadow.startswith("root:$6$") and "s3cret" not in shadow
    assert "running" in libvirtd.virsh("domstate", "demo")
    release = libvirtd.virsh("lxc-enter-namespace", "demo", "--noseclabel", "/bin/cat",
                             "/etc/os-release")
    assert 'PRETTY_NAME="Fedora 40 (virtkit test)"' in release
    again = run_module("lxc_bootstrap", wanted)
    assert not again["changed"] and again["changes"] == [], again
    bigger = run_module("lxc_bootstrap", dict(wanted, memory=256), check=True, diff=True)
    assert bigger["changes"] == ["redefine domain demo (memory_kib)"]
    assert bigger["diff"]["after"]["domain"] == {"memory_kib": 262144}
    gone = run_module("lxc_bootstrap", {"name": "demo", "root": root, "uri": libvirtd.uri,
                                        "root_base": str(tmp_path), "state": "absent",
                                        "remove_root": True})
    assert gone["changes"] == ["stop domain demo", "undefine domain demo", "remove %s" % root]
    assert not os.path.exists(root) and "demo" not in libvirtd.virsh("list", "--all", "--name")


@pytest.mark.parametrize("change, message", [
    ({"osid": "fedora363"}, "osid 'fedora363' is not in the osinfo database; close matches: "),
    ({"packages": ["fedora-release", "no-such-package"]}, "populate: dnf failed"),
    ({"repos": [{"name": "gone", "baseurl": "file:///nonexistent/repo"}]}, "populate: dnf failed"),
    ({"memory": 0}, "memory 0 must be a whole number of MiB"),
    ({"name": "a/b"}, "name: 'a/b' is not a name"),
    ({"osid": "win11"}, "distribution 'win' has no supported installer"),
])
def test_bad_input_leaves_nothing(tmp_path, repository, libvirtd, change, message):
    wanted = args(tmp_path, repository, libvirtd, **change)
    result = run_module("lxc_bootstrap", wanted)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert not os.path.exists(wanted["root"])
    assert libvirtd.virsh("list", "--all", "--name").strip() == ""


def test_existing_root_is_never_deleted(tmp_path, repository, libvirtd):
    root = tmp_path / "demo"
    root.mkdir()
    (root / "precious").write_text("keep me")
    result = run_module("lxc_bootstrap", args(tmp_path, repository, libvirtd,
                                              packages=["no-such-package"]))
    assert result["failed"] and (root / "precious").read_text() == "keep me"


def test_debootstrap_root_from_the_machines_mirror(tmp_path):
    """debootstrap builds a real Debian root (minbase, from the apt mirror this machine uses).
    It needs the network, so this test stays in the machine's namespace: libvirtd runs only its
    LXC driver, which touches no firewall, and the domain is only defined."""
    require("debootstrap")
    libvirtd = LibvirtNwfilterd(command_log=False, driver="lxc")
    try:
        _debootstrap(tmp_path, libvirtd)
    finally:
        libvirtd.stop()


def _debootstrap(tmp_path, libvirtd):
    mirror = None
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if os.path.exists(path):
            for line in open(path):
                words = line.split()
                if words[:1] == ["URIs:"] or (words[:1] == ["deb"] and len(words) > 1):
                    mirror = words[1]
                    break
        if mirror:
            break
    assert mirror, "no apt mirror configured"
    wanted = {"name": "deb", "root": str(tmp_path / "deb"), "osid": "debian11",
              "suite": "bookworm", "mirror": mirror, "uri": libvirtd.uri, "state": "defined",
              "root_password": "s3cret"}
    result = run_module("lxc_bootstrap", wanted)
    assert not result.get("failed"), result.get("msg")
    assert result["os"]["installer"] == "debootstrap"
    assert "VERSION_CODENAME=bookworm" in open(os.path.join(wanted["root"], "etc", "os-release")).read()
    assert open(os.path.join(wanted["root"], "etc", "shadow")).read().startswith("root:$6$")
    assert "shut off" in libvirtd.virsh("domstate", "deb")
    again = run_module("lxc_bootstrap", wanted)
    assert not again["changed"], again
    run("rm", "-rf", wanted["root"])


ROLE_PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: virtkit.host.lxc_guest
"""


def test_role_for_a_list_of_guests(tmp_path, repository, libvirtd):
    from harness import run_playbook  # pylint: disable=import-outside-toplevel
    defaults = {"osid": OSID, "packages": PACKAGES, "nogpgcheck": True, "uri": libvirtd.uri,
                "repos": [{"name": "local", "baseurl": repository}], "state": "defined"}
    guests = [{"name": "web%d" % i, "root": str(tmp_path / ("web%d" % i)), "memory": 64,
               "root_password": "s3cret-%d" % i} for i in (1, 2)]
    variables = {"lxc_guest_defaults": defaults, "lxc_guest_containers": guests}
    code, changed, out = run_playbook(tmp_path, ROLE_PLAY, variables)
    assert code == 0 and changed == 1, out
    assert "s3cret" not in out  # no_log
    assert libvirtd.virsh("list", "--all", "--name").split() == ["web1", "web2"]
    code, changed, out = run_playbook(tmp_path, ROLE_PLAY, variables)
    assert code == 0 and changed == 0, out


def test_role_refuses_an_unknown_option_before_anything_runs(tmp_path, libvirtd):
    from harness import run_playbook  # pylint: disable=import-outside-toplevel
    variables = {"lxc_guest_defaults": {"uri": libvirtd.uri},
                 "lxc_guest_containers": [{"name": "web9", "colour": "blue",
                                           "root": str(tmp_path / "web9")}]}
    code, _changed, out = run_playbook(tmp_path, ROLE_PLAY, variables)
    assert code != 0 and "lxc_guest_containers entry web9: unknown options colour" in out, out
    assert not (tmp_path / "web9").exists()
    assert libvirtd.virsh("list", "--all", "--name").split() == []


# Hardening: names and paths, creation records, links inside a root, failed populates, hashes.

def _module(args, check=False, prefix=(), timeout=120):
    """run_module, with a timeout (a stalled run fails the test instead of hanging it) and an
    optional command prefix (a private mount namespace)."""
    import json  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel
    from harness import checkout  # pylint: disable=import-outside-toplevel
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    env = dict(os.environ, PYTHONPATH=os.path.join(checkout(), "build", "collections"))
    try:
        proc = subprocess.run(list(prefix) + [
            sys.executable, "-m", "ansible_collections.virtkit.host.plugins.modules.lxc_bootstrap",
            handle.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            env=env, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("lxc_bootstrap ran for more than %d s" % timeout)
    finally:
        os.unlink(handle.name)
    first = proc.stdout.split("\n@@\n")[0]
    try:
        return json.loads(first), proc.stdout
    except ValueError:
        pytest.fail("no result (exit %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))


# Inside a private mount namespace, a tmpfs over /var/lib stands for the machine's /var/lib with
# a libvirt directory and a sentinel; the module runs there with its default root base.
PRIVATE_VAR_LIB = """set -e
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/libvirt/filesystems/demo
echo keep > /var/lib/libvirt/sentinel
"$@" || true
printf '\\n@@\\n'
find /var/lib | sort
"""


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/..", "-x"])
def test_dot_names_never_reach_the_default_base(libvirtd, name):
    require("unshare")
    result, out = _module({"name": name, "state": "absent", "remove_root": True,
                           "uri": libvirtd.uri},
                          prefix=["unshare", "-m", "--propagation", "private", "sh", "-c",
                                  PRIVATE_VAR_LIB, "sh"])
    assert result.get("failed") and result["msg"].startswith("name: %r is not a name" % name), result
    listing = out.split("\n@@\n")[1].split()
    assert "/var/lib/libvirt/sentinel" in listing and "/var/lib/libvirt/filesystems/demo" in listing


@pytest.mark.parametrize("change, message", [
    ({"root": "relative/demo"}, "root: 'relative/demo' is not an absolute path"),
    ({"root": "/srv/../demo"}, "root: '/srv/../demo' is not a normalised path"),
    ({"root": "/"}, "root: '/' is the root directory"),
    ({"root_base": "/"}, "root_base: '/' is the root directory"),
    ({"root_password_hash": "x:0:0::\nevil::", "root_password": None},
     "root_password_hash: '(not shown)' is not a crypt hash"),
    ({"idmap": {"uid_target": "x", "gid_target": 1, "count": 1}},
     "argument 'uid_target' is of type str found in 'idmap'"),
    ({"idmap": {"uid_target": -1, "gid_target": 1, "count": 1}}, "idmap.uid_target: -1 is not"),
    ({"idmap": {"uid_target": 1, "gid_target": 1}}, "missing required arguments: count found in idmap"),
    ({"packages": ["--nogpgcheck"]}, "packages: '--nogpgcheck' is not a package name"),
    ({"repos": [{"name": "r", "baseurl": "-x"}]}, "repos.baseurl: '-x' is not a URL"),
    ({"repos": [{"name": "r"}]}, "missing required arguments: baseurl found in repos"),
    ({"network": "../x"}, "network: '../x' is not a name"),
])
def test_bad_paths_and_values_fail_clearly(tmp_path, repository, libvirtd, change, message):
    wanted = args(tmp_path, repository, libvirtd, **change)
    if "root" in change or "root_base" in change:
        # Harmless even to a module that took the path: nothing to populate, nothing removed.
        wanted = dict(change, name="demo", uri=libvirtd.uri, state="absent")
    wanted = {key: value for key, value in wanted.items() if value is not None}
    result, _out = _module(wanted)
    assert result.get("failed") and message in result["msg"], result
    assert "Traceback" not in result.get("module_stderr", "")
    assert os.listdir(str(tmp_path)) == [] and "x:0:0" not in result["msg"]
    assert libvirtd.virsh("list", "--all", "--name").strip() == ""


def test_remove_root_only_what_it_created(tmp_path, repository, libvirtd):
    made = args(tmp_path, repository, libvirtd, state="defined")
    assert not run_module("lxc_bootstrap", made).get("failed")
    record = tmp_path / ".demo.virtkit-bootstrap"
    assert record.is_file() and oct(record.stat().st_mode & 0o777) == "0o600"
    absent = {"name": "demo", "root": made["root"], "uri": libvirtd.uri, "state": "absent",
              "remove_root": True, "root_base": str(tmp_path)}
    # Outside the configured base: refused before anything changes (the domain stays).
    outside = run_module("lxc_bootstrap", dict(absent, root_base=str(tmp_path / "other")))
    assert outside["failed"] and "is not inside the base directory" in outside["msg"]
    # Another container's name: refused.
    other = run_module("lxc_bootstrap", dict(absent, name="demo2", root=made["root"]))
    assert other["failed"] and "was created for the container 'demo'" in other["msg"]
    # A root this module did not create (no record beside it): refused, left as it was.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious").write_text("keep me")
    mine = run_module("lxc_bootstrap", dict(absent, name="mine", root=str(tmp_path / "mine")))
    assert mine["failed"] and "has no creation record" in mine["msg"]
    assert (tmp_path / "mine" / "precious").read_text() == "keep me"
    assert "demo" in libvirtd.virsh("list", "--all", "--name")
    # A root replaced since its creation (the record's inode differs): refused.
    os.rename(made["root"], str(tmp_path / "moved"))
    os.mkdir(made["root"])
    replaced = run_module("lxc_bootstrap", absent)
    assert replaced["failed"] and "not the directory lxc_bootstrap created" in replaced["msg"]
    os.rmdir(made["root"])
    os.rename(str(tmp_path / "moved"), made["root"])
    # A link inside the root to a host directory: removal never follows it.
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "file").write_text("host data")
    os.symlink(str(host), os.path.join(made["root"], "link"))
    checked = run_module("lxc_bootstrap", absent, check=True)
    assert checked["changes"][-1] == "remove %s" % made["root"] and os.path.isdir(made["root"])
    gone = run_module("lxc_bootstrap", absent)
    assert gone["changes"] == ["undefine domain demo", "remove %s" % made["root"]], gone
    assert not os.path.lexists(made["root"]) and not record.exists()
    assert (host / "file").read_text() == "host data"
    assert not run_module("lxc_bootstrap", absent)["changed"]


def test_remove_root_refuses_a_mount_point(tmp_path, repository, libvirtd):
    require("unshare")
    made = args(tmp_path, repository, libvirtd, state="defined")
    assert not run_module("lxc_bootstrap", made).get("failed")
    absent = {"name": "demo", "root": made["root"], "uri": libvirtd.uri, "state": "absent",
              "remove_root": True, "root_base": str(tmp_path)}
    for mount in ("", "/proc"):
        script = ('set -e; mount -t tmpfs tmpfs "$0%s"; echo kept > "$0%s/file"; "$@" || true; '
                  "printf '\\n@@\\n'; cat \"$0%s/file\"" % (mount, mount, mount))
        os.makedirs(made["root"] + "/proc", exist_ok=True)
        result, out = _module(absent, prefix=["unshare", "-m", "--propagation", "private", "sh",
                                              "-c", script, made["root"]])
        assert result["failed"] and "file systems are mounted at or under" in result["msg"], result
        assert out.split("\n@@\n")[1].strip() == "kept"
        assert "demo" in libvirtd.virsh("list", "--all", "--name")  # nothing changed


def _hand_made_root(tmp_path, shadow="root:*:19000:0:99999:7:::\n"):
    root = tmp_path / "demo"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text(shadow)
    (root / "etc" / "shadow").chmod(0o640)
    return root


def _host_files(tmp_path):
    """A stand-in for the host's /etc: a shadow with other accounts' hashes, a securetty."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "shadow").write_text("root:$6$hostsalt$HOSTHASH:19000:0:99999:7:::\n"
                                 "alice:$6$alicesalt$ALICEHASH:19000:0:99999:7:::\n")
    (host / "securetty").write_text("console\n")
    return host


def _snapshot(*paths):
    return {path: open(path, "rb").read() for path in paths if os.path.exists(path)}


@pytest.mark.parametrize("layout", ["etc-absolute", "etc-dotdot", "shadow-absolute",
                                    "shadow-dotdot", "securetty-absolute", "loop"])
def test_links_in_the_root_never_lead_out(tmp_path, libvirtd, layout):
    host = _host_files(tmp_path)
    root = _hand_made_root(tmp_path)
    etc = root / "etc"
    depth = "../" * (len(str(etc).split("/")) + 2)
    if layout == "etc-absolute":
        (etc / "shadow").unlink()
        etc.rmdir()
        os.symlink(str(host), str(etc))
    elif layout == "etc-dotdot":
        (etc / "shadow").unlink()
        etc.rmdir()
        os.symlink(depth + str(host).lstrip("/"), str(etc))
    elif layout == "shadow-absolute":
        (etc / "shadow").unlink()
        os.symlink(str(host / "shadow"), str(etc / "shadow"))
    elif layout == "shadow-dotdot":
        (etc / "shadow").unlink()
        os.symlink(depth + str(host / "shadow").lstrip("/"), str(etc / "shadow"))
    elif layout == "securetty-absolute":
        os.symlink(str(host / "securetty"), str(etc / "securetty"))
    else:
        (etc / "shadow").unlink()
        os.symlink("shadow2", str(etc / "shadow"))
        os.symlink("/etc/shadow", str(etc / "shadow2"))
    watched = [str(host / "shadow"), str(host / "securetty"), "/etc/shadow", "/etc/securetty"]
    before = _snapshot(*watched)
    wanted = {"name": "demo", "root": str(root), "root_base": str(tmp_path),
              "uri": libvirtd.uri, "state": "defined", "root_password": "s3cret"}
    result, _out = _module(wanted)
    assert _snapshot(*watched) == before
    assert "HOSTHASH" not in str(result) and "ALICEHASH" not in str(result)
    assert result.get("failed"), result
    assert "Traceback" not in result.get("module_stderr", "")
    if layout == "loop":
        assert "too many levels of symbolic links" in result["msg"]
    if layout == "securetty-absolute":
        # The link's target, taken inside the root, does not exist: nothing to keep there.
        assert "No such file or directory" in result["msg"]
    for dirpath, _dirs, files in os.walk(str(tmp_path)):
        assert not [f for f in files if ".virtkit-" in f], (dirpath, files)
    assert libvirtd.virsh("list", "--all", "--name").strip() == ""


def test_links_inside_the_root_resolve_inside_it(tmp_path, libvirtd):
    """A decoy: links that would reach the host's files resolve to the root's own copies."""
    host = _host_files(tmp_path)
    root = _hand_made_root(tmp_path)
    etc = root / "etc"
    (etc / "shadow").unlink()
    decoy = root / str(host).lstrip("/")
    decoy.mkdir(parents=True)
    (decoy / "shadow").write_text("root:*:19000:0:99999:7:::\nbob:!:19000::::::\n")
    (decoy / "shadow").chmod(0o600)
    os.symlink(str(host / "shadow"), str(etc / "shadow"))  # absolute: the guest's own path
    os.symlink("../../../../../../../.." + str(host / "securetty"), str(etc / "securetty"))
    (decoy / "securetty").write_text("tty1\n")
    (decoy / "securetty").chmod(0o644)
    before = _snapshot(str(host / "shadow"), str(host / "securetty"), "/etc/shadow")
    wanted = {"name": "demo", "root": str(root), "root_base": str(tmp_path),
              "uri": libvirtd.uri, "state": "defined", "root_password": "s3cret"}
    result, _out = _module(wanted)
    assert not result.get("failed"), result
    assert _snapshot(str(host / "shadow"), str(host / "securetty"), "/etc/shadow") == before
    text = (decoy / "shadow").read_text()
    assert text.startswith("root:$6$") and text.endswith("\nbob:!:19000::::::\n")
    assert oct((decoy / "shadow").stat().st_mode & 0o777) == "0o600"
    assert (decoy / "securetty").read_text() == "tty1\npts/0\n"
    assert oct((decoy / "securetty").stat().st_mode & 0o777) == "0o644"
    assert os.path.islink(str(etc / "shadow"))  # the link itself stays
    again, _out = _module(wanted)
    assert not again["changed"], again


def test_failed_populate_leaves_no_root_and_keeps_an_existing_one(tmp_path, repository, libvirtd):
    fresh = args(tmp_path, repository, libvirtd, packages=["fedora-release", "no-such-package"])
    result = run_module("lxc_bootstrap", fresh)
    assert result["failed"] and "populate: dnf failed" in result["msg"]
    assert os.listdir(str(tmp_path)) == []  # no root, no staging directory, no record
    (tmp_path / "demo").mkdir()  # an existing, empty root
    kept = run_module("lxc_bootstrap", fresh)
    assert kept["failed"] and "existed before this run" in kept["msg"], kept["msg"]
    assert "the package manager changed" in kept["msg"]  # dnf wrote its cache and database
    assert os.path.isdir(fresh["root"]) and sorted(os.listdir(str(tmp_path))) == ["demo"]
    # An existing root whose var leads out to the host: the package manager is not run.
    run("rm", "-rf", fresh["root"])
    os.mkdir(fresh["root"])
    host_var = tmp_path / "hostvar"
    host_var.mkdir()
    os.symlink(str(host_var), os.path.join(fresh["root"], "var"))
    out = run_module("lxc_bootstrap", dict(fresh, packages=PACKAGES))
    assert out["failed"] and "leads out of the root" in out["msg"], out["msg"]
    assert os.listdir(str(host_var)) == []


def _crypt(password, setting):
    import warnings  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crypt = pytest.importorskip("crypt")
    return crypt.crypt(password, setting)


def test_rounds_in_the_current_hash(tmp_path, libvirtd):
    explicit = _crypt("s3cret", "$6$rounds=5000$saltsalt$")
    assert explicit.startswith("$6$rounds=5000$saltsalt$")  # glibc keeps the explicit spec
    root = _hand_made_root(tmp_path, "root:%s:19000:0:99999:7:::\n" % explicit)
    wanted = {"name": "demo", "root": str(root), "root_base": str(tmp_path), "securetty": False,
              "uri": libvirtd.uri, "state": "defined", "root_password": "s3cret"}
    same, _out = _module(wanted)
    assert not same.get("failed") and same["changes"] == ["define domain demo"], same
    assert (root / "etc" / "shadow").read_text().split(":")[1] == explicit
    # A huge rounds count is not computed: the run ends at once and writes a default hash.
    huge = "$6$rounds=999999999$saltsalt$" + "A" * 86
    (root / "etc" / "shadow").write_text("root:%s:19000:0:99999:7:::\n" % huge)
    rewritten, _out = _module(wanted, timeout=60)
    assert rewritten["changes"] == [
        "set root's password (the current hash's rounds=999999999 is above 1000000: not "
        "compared)"], rewritten
    new = (root / "etc" / "shadow").read_text().split(":")[1]
    assert new.startswith("$6$") and "rounds=" not in new and _crypt("s3cret", new) == new
    assert not _module(wanted)[0]["changed"]
