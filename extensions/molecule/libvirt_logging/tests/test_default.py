"""The converged container: libvirtd.conf holds the settings (a real libvirtd reads them in
tests/integration/test_libvirt_logging.py)."""


def test_settings(host):
    lines = host.file("/etc/libvirt/libvirtd.conf").content_string.splitlines()
    assert 'log_filters = "1:util.firewall 3:qemu"' in lines
    assert 'log_outputs = "1:file:/var/log/libvirt/libvirtd.log 4:journald"' in lines
    assert "log_level = 3" in lines
