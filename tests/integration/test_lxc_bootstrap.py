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
    base = {"name": "demo", "root": str(tmp_path / "demo"), "osid": OSID, "packages": PACKAGES,
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
                                        "state": "absent", "remove_root": True})
    assert gone["changes"] == ["stop domain demo", "undefine domain demo", "remove %s" % root]
    assert not os.path.exists(root) and "demo" not in libvirtd.virsh("list", "--all", "--name")


@pytest.mark.parametrize("change, message", [
    ({"osid": "fedora363"}, "osid 'fedora363' is not in the osinfo database; close matches: "),
    ({"packages": ["fedora-release", "no-such-package"]}, "populate: dnf failed"),
    ({"repos": [{"name": "gone", "baseurl": "file:///nonexistent/repo"}]}, "populate: dnf failed"),
    ({"memory": 0}, "memory 0 must be a whole number of MiB"),
    ({"name": "a/b"}, "name 'a/b' must not contain a slash"),
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
