"""libvirt's logging settings as the role writes them."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils.libvirt_logging import (
    LoggingSettingsError,
    settings,
    version_tuple,
)


def test_settings_text():
    assert settings(3, [{"level": 1, "match": "util.firewall"}, {"level": 4, "match": "*"}],
                    [{"level": 2, "type": "syslog"}, {"level": 1, "type": "file",
                                                      "path": "/var/log/l.log"},
                     {"level": 4, "type": "journald"}, {"level": 4, "type": "stderr"}],
                    "libvirtd (libvirt) 9.0.0") == {
        "log_level": "3", "log_filters": '"1:util.firewall 4:*"',
        "log_outputs": '"2:syslog:libvirtd 1:file:/var/log/l.log 4:journald 4:stderr"'}


def test_old_libvirt():
    assert settings(None, [{"level": 1, "match": "qemu", "stack_trace": True}], [], "1.2.2") == {
        "log_filters": '"1:+qemu"', "log_buffer_size": "0"}
    assert "log_buffer_size" not in settings(None, [], [], "1.2.3")
    assert version_tuple("libvirtd (libvirt) 10.1") == (10, 1, 0)


@pytest.mark.parametrize("level, filters, outputs, message", [
    (7, [], [], "libvirt_logging_level: level 7 is not 1"),
    (None, [{"level": "x", "match": "q"}], [], "libvirt_logging_filters[0]: level 'x'"),
    (None, [{"level": 1, "match": "a;b"}], [], "libvirt_logging_filters[0]: match 'a;b'"),
    (None, ["1:qemu"], [], "libvirt_logging_filters[0]: an entry is a mapping"),
    (None, [], [{"level": 1, "type": "syslog", "ident": "a b"}], "syslog ident 'a b'"),
    (None, [], [{"level": 1, "type": "file"}], "path '' is not an absolute path"),
])
def test_errors_name_the_entry(level, filters, outputs, message):
    with pytest.raises(LoggingSettingsError) as info:
        settings(level, filters, outputs)
    assert message in str(info.value)
