"""The converged libvirt host: web1's root populated by dnf from the local repository and
started by libvirt's LXC driver (its init runs in the root, in namespaces of its own); web2
populated and defined, not started."""

import re


def virsh(host, *args):
    return host.check_output("virsh -c lxc:///system " + " ".join(args))


def test_domains(host):
    assert virsh(host, "list", "--all", "--name").split() == ["web1", "web2"]
    assert virsh(host, "domstate", "web1").strip() == "running"
    assert virsh(host, "domstate", "web2").strip() == "shut off"
    for name in ("web1", "web2"):
        xml = virsh(host, "dumpxml", name)
        assert "<source dir='/var/lib/libvirt/filesystems/%s'/>" % name in xml
        assert "<init>/sbin/init</init>" in xml and "<privnet/>" in xml
        assert re.search(r"<memory unit='KiB'>65536</memory>", xml)


def test_roots(host):
    for name in ("web1", "web2"):
        root = "/var/lib/libvirt/filesystems/" + name
        assert 'PRETTY_NAME="Fedora 40 (virtkit test)"' in host.file(root + "/etc/os-release").content_string
        assert host.file(root + "/etc/securetty").content_string == "pts/0"
    shadow = host.file("/var/lib/libvirt/filesystems/web1/etc/shadow").content_string
    assert shadow.startswith("root:$6$") and "molecule-s3cret" not in shadow


def test_running_guest(host):
    """web1's init (busybox, from the guest's root) runs under libvirt_lxc, in a mount and a
    network namespace other than the host's."""
    pid = host.check_output("cat /run/libvirt/lxc/web1.pid").strip()
    init = host.check_output("cat /proc/%s/task/%s/children" % (pid, pid)).split()[0]
    assert host.check_output("readlink /proc/%s/exe" % init).endswith("busybox")
    release = host.check_output("nsenter -t %s -m cat /etc/os-release" % init)
    assert 'PRETTY_NAME="Fedora 40 (virtkit test)"' in release
    for space in ("mnt", "net", "pid", "uts"):
        assert (host.check_output("readlink /proc/%s/ns/%s" % (init, space))
                != host.check_output("readlink /proc/1/ns/%s" % space))
