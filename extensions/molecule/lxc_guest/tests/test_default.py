"""The converged libvirt host: web1's root populated by dnf from the local repository and
started by libvirt's LXC driver (its init runs from the root, in namespaces of its own); web2
populated and defined, not started. Each test is one command on the host (testinfra's Ansible
backend takes seconds per command)."""

import re

VIRSH = "virsh -c lxc:///system "
ROOTS = "/var/lib/libvirt/filesystems/"


def sections(host, script):
    """The script's output split at its '== NAME' lines: {NAME: text}."""
    found = {}
    for part in host.check_output(script).split("== ")[1:]:
        name, _newline, text = part.partition("\n")
        found[name.strip()] = text
    return found


def test_domains(host):
    out = sections(host, "echo '== list'; %(v)slist --all --name; for d in web1 web2; do "
                         "echo \"== state $d\"; %(v)sdomstate $d; echo \"== xml $d\"; %(v)sdumpxml $d; "
                         "done" % {"v": VIRSH})
    assert out["list"].split() == ["web1", "web2"]
    assert out["state web1"].strip() == "running"
    assert out["state web2"].strip() == "shut off"
    for name in ("web1", "web2"):
        xml = out["xml " + name]
        assert "<source dir='%s%s'/>" % (ROOTS, name) in xml
        assert "<init>/sbin/init</init>" in xml and "<privnet/>" in xml
        assert re.search(r"<memory unit='KiB'>65536</memory>", xml)


def test_roots(host):
    out = sections(host, "for d in web1 web2; do for f in os-release securetty shadow; do "
                         "echo \"== $d $f\"; cat %s$d/etc/$f; done; done" % ROOTS)
    for name in ("web1", "web2"):
        assert 'PRETTY_NAME="Fedora 40 (virtkit test)"' in out[name + " os-release"]
        assert out[name + " securetty"] == "pts/0\n"
    assert out["web1 shadow"].startswith("root:$6$") and "molecule-s3cret" not in out["web1 shadow"]
    assert out["web2 shadow"].startswith("root:*:")


def test_running_guest(host):
    """web1's init (busybox, from the guest's root) is libvirt_lxc's child, in mount, network,
    PID and UTS namespaces other than the host's."""
    out = sections(host, """set -e
pid=$(cat /run/libvirt/lxc/web1.pid)
init=$(cut -d' ' -f1 /proc/$pid/task/$pid/children)
echo "== controller"; tr '\\0' ' ' < /proc/$pid/cmdline; echo
echo "== exe"; readlink /proc/$init/exe
echo "== release"; nsenter -t $init -m cat /etc/os-release
for ns in mnt net pid uts; do
  echo "== ns $ns"; readlink /proc/$init/ns/$ns /proc/1/ns/$ns
done""")
    assert out["controller"].startswith("/usr/lib/libvirt/libvirt_lxc --name web1 ")
    assert out["exe"].strip().endswith("/bin/busybox")
    assert 'PRETTY_NAME="Fedora 40 (virtkit test)"' in out["release"]
    for space in ("mnt", "net", "pid", "uts"):
        guest, host_ns = out["ns " + space].split()
        assert guest != host_ns, space
