"""libvirt's logging settings as the role writes them: typed, checked by character, quoted as
libvirt's configuration parser reads them."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_logging import (
    LoggingSettingsError,
    conf_string,
    config_text,
    configured,
    daemon_words,
    filter_words,
    plan,
    runtime_changes,
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
    (None, [], [{"level": 1, "type": "syslog", "idnet": "virtkit"}],
     "libvirt_logging_outputs[0].idnet: 'virtkit' is not a setting of a syslog output"),
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


def test_a_key_is_written_on_its_first_line_and_only_there():
    # libvirtd 9.0 reads the first uncommented line of a key (tests/integration measures it)
    current = ('#log_filters = "3:remote"\nlog_filters = "1:a"\nx = 1\nlog_filters = "2:b"\n'
               '#log_outputs = "3:syslog:libvirtd"\n# end')
    assert config_text(current, {"log_filters": '"1:qemu"', "log_outputs": '"4:stderr"',
                                 "log_level": "3"}) == (
        '#log_filters = "3:remote"\nlog_filters = "1:qemu"\nx = 1\n'
        '#log_outputs = "3:syslog:libvirtd"\nlog_outputs = "4:stderr"\n# end\nlog_level = 3\n')
    assert config_text("", {"log_level": "2"}) == "log_level = 2\n"
    assert config_text('log_filters="1:a"\n  log_filters = "2:b"\n', {}, ["log_filters"]) == ""
    assert configured('#log_level = 1\nlog_level = 2\nlog_level = 3\n', "log_level") == "2"


def test_daemon_words_and_filters_as_the_daemon_shows_them():
    assert daemon_words(" Logging filters: 1:*util.firewall* 3:*qemu** \n\n") == [
        "1:*util.firewall*", "3:*qemu**"]
    assert daemon_words(" Logging filters: \n") == []
    assert daemon_words(" Logging outputs: 1:file:/var/log/a.log 4:stderr\n") == [
        "1:file:/var/log/a.log", "4:stderr"]
    assert filter_words("1:util.firewall 3:qemu*") == ["1:*util.firewall*", "3:*qemu**"]


@pytest.mark.parametrize("wanted, clear, filters, outputs, changes", [
    ({"log_filters": "1:qemu"}, [], " Logging filters: 1:*qemu* \n", None, {}),
    ({"log_filters": "1:qemu"}, [], " Logging filters: 2:*qemu* \n", None,
     {"log_filters": "1:qemu"}),
    ({"log_outputs": "1:stderr"}, [], None, " Logging outputs: 1:stderr\n", {}),
    ({"log_outputs": "1:stderr"}, [], None, " Logging outputs: 3:stderr\n",
     {"log_outputs": "1:stderr"}),
    ({}, ["log_filters"], " Logging filters: 1:*qemu* \n", None, {"log_filters": ""}),
    ({}, ["log_filters"], " Logging filters: \n", None, {}),
    ({}, ["log_outputs"], None, " Logging outputs: 3:journald\n", {}),
    ({}, ["log_outputs"], None, " Logging outputs: 3:stderr 1:file:/x\n", {"log_outputs": ""}),
    ({"log_filters": "1:qemu"}, [], None, None, {}),  # not read: nothing to compare
])
def test_runtime_changes(wanted, clear, filters, outputs, changes):
    assert runtime_changes(wanted, clear, filters, outputs) == changes


def test_plan():
    result = plan('log_level = 3\nlog_filters = "1:x"\n', 4, [{"level": 1, "match": "qemu"}], [],
                  "9.0.0", None, " Logging filters: 1:*x* \n", None)
    assert result["config"] == 'log_level = 4\nlog_filters = "1:qemu"\n' and result["differs"]
    assert result["runtime"] == {"log_filters": "1:qemu"}
    assert result["restart"] and result["restart"][0].startswith("log_level 4 (was 3)")
    same = plan(result["config"], 4, [{"level": 1, "match": "qemu"}], [], "9.0.0", None,
                " Logging filters: 1:*qemu* \n", None)
    assert same == {"config": result["config"], "differs": False, "runtime": {}, "restart": []}


@pytest.mark.parametrize("clear, filters, message", [
    ("filters", [], "libvirt_logging_clear: 'filters' is a str, not a list"),
    (["filtres"], [], "libvirt_logging_clear[0]: 'filtres' is not one of"),
    (["filters"], [{"level": 1, "match": "q"}],
     "libvirt_logging_clear[0]: 'filters' clears the filters that libvirt_logging_filters sets"),
])
def test_clear_is_checked(clear, filters, message):
    with pytest.raises(vocabulary.InvalidValue) as info:
        plan("", None, filters, [], None, clear)
    assert message in str(info.value)
