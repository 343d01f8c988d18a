"""The converged container: libvirtd.conf holds the settings, each key once where libvirt reads
it (a real libvirtd reads them in tests/integration/test_libvirt_logging.py), and the role said
the changed log_level needs a restart."""


def test_settings(host):
    lines = host.file("/etc/libvirt/libvirtd.conf").content_string.splitlines()
    assert lines == [
        "# Logging controls",
        "#log_level = 3",
        "log_level = 3",
        '#log_filters="1:qemu 1:libvirt 4:object 4:json 4:event 1:util"',
        'log_filters = "1:util.firewall 3:qemu"',
        '#log_outputs="3:syslog:libvirtd"',
        'log_outputs = "1:file:/var/log/libvirt/libvirtd.log 4:journald"',
    ]


def test_restart_needed_was_reported(host):
    record = host.file("/root/libvirt-logging-restart.txt").content_string
    assert record.startswith("log_level 3 (was 2): virt-admin cannot set the default level")
