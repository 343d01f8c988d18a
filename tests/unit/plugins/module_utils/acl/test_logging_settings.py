"""libvirt's logging settings as the role writes them: typed, checked by character, quoted as
libvirt's configuration parser reads them."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_logging import (
    LoggingSettingsError,
    conf_string,
    settings,
    values,
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


def test_quotes_in_a_path_are_written_as_libvirt_reads_them():
    outputs = [{"level": 1, "type": "file", "path": '/var/log/a"b;{c}#d*/e.log'}]
    assert settings(None, [], outputs)["log_outputs"] == '\'1:file:/var/log/a"b;{c}#d*/e.log\''
    assert values(None, [], outputs)["log_outputs"] == '1:file:/var/log/a"b;{c}#d*/e.log'
    outputs = [{"level": 1, "type": "file", "path": "/var/log/it's.log"}]
    assert settings(None, [], outputs)["log_outputs"] == '"1:file:/var/log/it\'s.log"'


def test_conf_string():
    assert conf_string("a'b", "k") == '"a\'b"'
    assert conf_string('a"b', "k") == "'a\"b'"
    assert conf_string("", "k") == '""'
    for value in ["a\"b'c", "a\nb", "a\u2028b"]:
        with pytest.raises(vocabulary.InvalidValue):
            conf_string(value, "k")


def test_the_top_level_may_be_a_decimal_string():
    # -e libvirt_logging_level=3 gives a string; the argument spec takes it as an int
    assert settings("3")["log_level"] == "3"


@pytest.mark.parametrize("level, filters, outputs, message", [
    (7, [], [], "libvirt_logging_level: 7 is not 1 (debug)"),
    (True, [], [], "libvirt_logging_level: True is a bool, not a level"),
    (None, [{"level": "x", "match": "q"}], [],
     "libvirt_logging_filters[0].level: 'x' is a str, not a level"),
    (None, [{"level": "1", "match": "q"}], [],
     "libvirt_logging_filters[0].level: '1' is a str, not a level"),
    (None, [{"level": None, "match": "q"}], [],
     "libvirt_logging_filters[0].level: None is a null, not a level"),
    (None, [{"level": 1, "match": "a;b"}], [], "libvirt_logging_filters[0].match: 'a;b' is not"),
    (None, [{"level": 1, "match": "qemu\n"}], [],
     "libvirt_logging_filters[0].match: 'qemu\\n' contains a control character or a line break"),
    (None, [{"level": 1, "match": "qemu\u2028"}], [],
     "libvirt_logging_filters[0].match: 'qemu\\u2028' contains a control character"),
    (None, [{"level": 1, "match": "q\U0001F600"}], [], "libvirt_logging_filters[0].match: 'q"),
    (None, [{"level": 1, "match": "q" * 257}], [], "libvirt_logging_filters[0].match: 'qqq"),
    (None, [{"level": 1, "match": None}], [],
     "libvirt_logging_filters[0].match: None is a null, not a string"),
    (None, [{"level": 1, "match": ["qemu", "rpc"]}], [],
     "libvirt_logging_filters[0].match: ['qemu', 'rpc'] is a list, not a string"),
    (None, [{"level": 1, "match": "q", "stack_trace": "yes"}], [],
     "libvirt_logging_filters[0].stack_trace: 'yes' is a str, not a boolean"),
    (None, [{"level": 1, "mach": "q"}], [],
     "libvirt_logging_filters[0].mach: 'q' is not a setting of a filter"),
    (None, ["1:qemu"], [], "libvirt_logging_filters[0]: '1:qemu' is a str, not a mapping"),
    (None, None, [], "libvirt_logging_filters: None is a null, not a list"),
    (None, [], None, "libvirt_logging_outputs: None is a null, not a list"),
    (None, [], [{"level": 1, "type": "syslog", "ident": "a b"}],
     "libvirt_logging_outputs[0].ident: 'a b' is not a syslog ident"),
    (None, [], [{"level": 1, "type": "syslog", "ident": "virtkit\n"}],
     "libvirt_logging_outputs[0].ident: 'virtkit\\n' contains a control character"),
    (None, [], [{"level": 1, "type": "syslog", "ident": None}],
     "libvirt_logging_outputs[0].ident: None is a null, not a string"),
    (None, [], [{"level": 1, "type": "file"}],
     "libvirt_logging_outputs[0].path: None is a null, not a string"),
    (None, [], [{"level": 1, "type": "file", "path": "relative.log"}],
     "libvirt_logging_outputs[0].path: 'relative.log' is not an absolute path"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/a:b.log"}],
     "libvirt_logging_outputs[0].path: '/var/log/a:b.log' contains ':'"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/a b.log"}],
     "libvirt_logging_outputs[0].path: '/var/log/a b.log' contains white space"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/a\u2028b.log"}],
     "libvirt_logging_outputs[0].path: '/var/log/a\\u2028b.log' contains a control character"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/l.log\n"}],
     "libvirt_logging_outputs[0].path: '/var/log/l.log\\n' contains a control character"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/" + "w" * 256}],
     "has a component longer than 255 bytes"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/../l.log"}],
     "is not a normalised path"),
    (None, [], [{"level": 1, "type": "file", "path": "/var/log/a\"b'c.log"}],
     "contains both \" and '"),
    (None, [], [{"level": 1, "type": "file", "path": 5}],
     "libvirt_logging_outputs[0].path: 5 is a int, not a string"),
    (None, [], [{"level": 1, "type": "fax"}], "libvirt_logging_outputs[0].type: 'fax' is not one of"),
    (None, [], [{"level": 1, "type": None}], "libvirt_logging_outputs[0].type: None is a null"),
    (None, [], [{"level": 1, "type": "stderr", "path": "/x"}],
     "libvirt_logging_outputs[0].path: '/x' is not a setting of a stderr output"),
])
def test_errors_name_the_entry(level, filters, outputs, message):
    with pytest.raises(LoggingSettingsError if "is not a setting" in message
                       or "is not 1" in message else vocabulary.InvalidValue) as info:
        settings(level, filters, outputs)
    assert message in str(info.value)


def test_quotes_of_two_entries_cannot_share_a_string():
    with pytest.raises(vocabulary.InvalidValue) as info:
        settings(None, [], [{"level": 1, "type": "file", "path": "/var/log/a\"b.log"},
                            {"level": 1, "type": "file", "path": "/var/log/it's.log"}])
    assert str(info.value).startswith("log_outputs: ")


def test_stack_traces_on_new_libvirt():
    with pytest.raises(LoggingSettingsError) as info:
        settings(None, [{"level": 1, "match": "qemu", "stack_trace": True}], [], "9.0.0")
    assert "libvirt_logging_filters[0].stack_trace: True asks for stack traces ('+'), which " \
           "libvirt 9.0.0 does not honour" in str(info.value)
