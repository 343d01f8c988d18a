"""The libvirt_logging role against a real libvirtd: settings written, read back with
virt-admin, applied at run time, bad values caught before any daemon sees them."""

import re
import subprocess

import pytest

from harness import LibvirtNwfilterd, run_playbook

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: virtkit.host.libvirt_logging
"""


def playbook(tmp_path, variables, *options):
    return run_playbook(tmp_path, PLAY, variables, *options)


def settings_of(text):
    return {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
            for line in text.splitlines() if re.match(r"^\s*log_", line)}


def test_settings_reach_the_daemon_and_change_at_run_time(tmp_path, netns):  # pylint: disable=unused-argument
    config = tmp_path / "logging.conf"
    config.write_text("# logging settings of libvirtd\n#log_filters = \"3:remote\"\n")
    variables = {"libvirt_logging_config": str(config), "libvirt_logging_level": 3,
                 "libvirt_logging_apply_runtime": False,
                 "libvirt_logging_filters": [{"level": 1, "match": "util.firewall"},
                                             {"level": 3, "match": "qemu"}],
                 "libvirt_logging_outputs": [{"level": 1, "type": "file",
                                              "path": str(tmp_path / "libvirtd.log")},
                                             {"level": 4, "type": "stderr"}]}
    code, changed, out = playbook(tmp_path, variables)
    assert code == 0 and changed == 1, out  # one task writes the three settings
    assert settings_of(config.read_text()) == {
        "log_filters": '"1:util.firewall 3:qemu"', "log_level": "3",
        "log_outputs": '"1:file:%s 4:stderr"' % (tmp_path / "libvirtd.log")}
    for options in ((), ("--check", "--diff")):
        code, changed, out = playbook(tmp_path, variables, *options)
        assert code == 0 and changed == 0, out
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        assert "1:*util.firewall* 3:*qemu*" in daemon.admin("daemon-log-filters")
        assert "1:file:%s 4:stderr" % (tmp_path / "libvirtd.log") in daemon.admin("daemon-log-outputs")
        # A change reaches the running daemon through virt-admin, no restart.
        variables.update(libvirt_logging_apply_runtime=True,
                         libvirt_logging_admin_uri=daemon.admin_uri,
                         libvirt_logging_filters=[{"level": 2, "match": "rpc"}],
                         libvirt_logging_outputs=[{"level": 2, "type": "syslog",
                                                   "ident": "virtkit"}])
        written = config.read_text()
        code, changed, out = playbook(tmp_path, variables, "--check")
        assert code == 0 and changed == 3, out  # check mode counts the run-time changes too
        # Check mode set on the play (not on the command line) changes nothing either.
        code, changed, out = run_playbook(tmp_path, PLAY.replace("gather_facts: false",
                                                                 "gather_facts: false\n  check_mode: true"),
                                          variables)
        assert code == 0 and changed == 3, out
        assert config.read_text() == written
        assert "1:*util.firewall* 3:*qemu*" in daemon.admin("daemon-log-filters")
        assert "1:file:" in daemon.admin("daemon-log-outputs")
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 3, out  # written, filters applied, outputs applied
        assert "2:*rpc*" in daemon.admin("daemon-log-filters")
        assert "2:syslog:virtkit" in daemon.admin("daemon-log-outputs")
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0, out
        assert daemon.proc.poll() is None  # never restarted
    finally:
        daemon.stop()


BAD_VALUES = [
    ([{"level": 9, "match": "x"}], [], "libvirt_logging_filters[0].level: 9 is not 1"),
    ([{"level": "1", "match": "x"}], [], "libvirt_logging_filters[0].level: '1' is a str, not a level"),
    ([{"level": 1, "match": "two words"}], [], "libvirt_logging_filters[0].match: 'two words'"),
    ([{"level": 1, "match": "qemu\n"}], [],
     "libvirt_logging_filters[0].match: 'qemu\\n' contains a control character or a line break"),
    ([{"level": 1, "match": "qemu\u2028"}], [],
     "libvirt_logging_filters[0].match: 'qemu\\u2028' contains a control character"),
    ([{"level": 1, "match": "</script>"}], [], "libvirt_logging_filters[0].match: '</script>' is not"),
    ([{"level": 1, "match": None}], [], "libvirt_logging_filters[0].match: None is a null, not a string"),
    ([{"level": 1, "match": ["qemu", "rpc"]}], [],
     "libvirt_logging_filters[0].match: ['qemu', 'rpc'] is a list, not a string"),
    ([], [{"level": 1, "type": "syslog", "ident": "virtkit\n"}],
     "libvirt_logging_outputs[0].ident: 'virtkit\\n' contains a control character"),
    ([], [{"level": 1, "type": "file", "path": "relative.log"}],
     "libvirt_logging_outputs[0].path: 'relative.log' is not an absolute path"),
    ([], [{"level": 1, "type": "file", "path": "/var/log/a:b.log"}],
     "libvirt_logging_outputs[0].path: '/var/log/a:b.log' contains ':'"),
    ([], [{"level": 1, "type": "file", "path": "/var/log/" + "w" * 300}],
     "has a component longer than 255 bytes"),
    ([], [{"level": 1, "type": "file", "path": "/var/log/\U0001F600\u2028.log"}],
     "contains a control character or a line break"),
    ([], [{"level": 1, "type": "fax"}],
     "value of type must be one of: stderr, syslog, file, journald, got: fax found in "
     "libvirt_logging_outputs"),
    ([{"level": 1, "match": "qemu", "stack_trace": True}], [],
     "stack traces ('+'), which libvirt 9.0.0 does not honour"),
]


@pytest.mark.parametrize("filters, outputs, message", BAD_VALUES,
                         ids=lambda value: ascii(value)[:30] if isinstance(value, str) else None)
def test_bad_values_are_caught_before_anything_is_written(tmp_path, filters, outputs, message):
    config = tmp_path / "logging.conf"
    config.write_text('log_filters = "3:remote"\n')
    code, _changed, out = playbook(tmp_path, {"libvirt_logging_config": str(config),
                                              "libvirt_logging_version": "9.0.0",
                                              "libvirt_logging_filters": filters,
                                              "libvirt_logging_outputs": outputs})
    assert code != 0 and message in out, out
    assert config.read_bytes() == b'log_filters = "3:remote"\n'


def test_quoted_paths_reach_the_daemon(tmp_path, netns):  # pylint: disable=unused-argument
    """A path holding a double quote is written between single quotes (libvirt's parser has no
    escapes): libvirtd starts, reports the path with virt-admin and opens the file; a path
    holding a single quote, applied at run time, likewise."""
    logs = tmp_path / "logs"
    logs.mkdir()
    first, second = logs / 'a"b;{c}#d*.log', logs / "it's.log"
    config = tmp_path / "logging.conf"
    config.write_text("# logging settings of libvirtd\n")
    variables = {"libvirt_logging_config": str(config), "libvirt_logging_apply_runtime": False,
                 "libvirt_logging_outputs": [{"level": 1, "type": "file", "path": str(first)},
                                             {"level": 4, "type": "stderr"}]}
    code, changed, out = playbook(tmp_path, variables)
    assert code == 0 and changed == 1, out
    assert "log_outputs = '1:file:%s 4:stderr'" % first in config.read_text()
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        assert "1:file:%s 4:stderr" % first in daemon.admin("daemon-log-outputs")
        assert first.is_file()
        variables.update(libvirt_logging_apply_runtime=True,
                         libvirt_logging_admin_uri=daemon.admin_uri,
                         libvirt_logging_outputs=[{"level": 2, "type": "file",
                                                   "path": str(second)}])
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 2, out  # written, outputs applied
        assert "2:file:%s" % second in daemon.admin("daemon-log-outputs")
        assert second.is_file()
    finally:
        daemon.stop()
    assert "log_outputs = \"2:file:%s\"" % second in config.read_text()
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        assert "2:file:%s" % second in daemon.admin("daemon-log-outputs")
    finally:
        daemon.stop()


@pytest.mark.parametrize("make, message, check", [
    (lambda logs: logs / "missing" / "libvirtd.log",
     "libvirt_logging_outputs[1].path: {path} is in {logs}/missing, which does not exist on the "
     "target", False),
    (lambda logs: logs / "missing" / "libvirtd.log",
     "libvirt_logging_outputs[1].path: {path} is in {logs}/missing, which does not exist on the "
     "target", True),
    (lambda logs: logs,
     "libvirt_logging_outputs[1].path: {path} is a directory on the target, not a file", False),
    (lambda logs: logs / "file.log" / "libvirtd.log",
     "libvirt_logging_outputs[1].path: {path} is in {logs}/file.log, which is not a directory on "
     "the target", False),
], ids=["missing-directory", "missing-directory-check-mode", "directory", "under-a-file"])
def test_output_files_are_checked_on_the_target(tmp_path, make, message, check):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "file.log").write_text("")
    path = make(logs)
    config = tmp_path / "logging.conf"
    config.write_text('log_outputs = "3:stderr"\n')
    variables = {
        "libvirt_logging_config": str(config), "libvirt_logging_version": "9.0.0",
        "libvirt_logging_outputs": [{"level": 3, "type": "stderr"},
                                    {"level": 1, "type": "file", "path": str(path)}]}
    code, _changed, out = playbook(tmp_path, variables, *(["--check"] if check else []))
    assert code != 0 and message.format(path=path, logs=logs) in out, out
    assert config.read_bytes() == b'log_outputs = "3:stderr"\n'


def test_libvirt_refuses_what_the_role_refuses(tmp_path, netns):  # pylint: disable=unused-argument
    """libvirt's own view of the values refused above: virt-admin exits 1 on them, and libvirtd
    does not start on the configuration lines the role used to write for them."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "file.log").write_text("")
    daemon = LibvirtNwfilterd(command_log=False)
    try:
        before = daemon.admin("daemon-log-outputs")
        for value in ["1:file:%s/a:b.log" % logs, "1:file:%s/missing/l.log" % logs,
                      "1:file:%s" % logs, "1:file:%s/file.log/l.log" % logs,
                      "1:file:%s/%s" % (logs, "w" * 300)]:
            proc = subprocess.run(["virt-admin", "-c", daemon.admin_uri, "daemon-log-outputs",
                                   value], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, check=False)
            assert proc.returncode == 1 and "error" in proc.stderr, (value, proc.stderr)
        assert daemon.admin("daemon-log-outputs") == before
    finally:
        daemon.stop()
    for line in ['log_outputs = "1:file:%s/a"b.log"' % logs,  # a double quote, double-quoted
                 'log_filters = "1:qemu\n"',  # a match ending in a newline
                 'log_outputs = "1:syslog:virtkit\n"']:
        with pytest.raises(pytest.fail.Exception) as info:
            LibvirtNwfilterd(extra_config=line + "\n", command_log=False)
        assert "libvirtd did not start" in str(info.value)


def test_old_libvirt_gets_its_ring_buffer_off(tmp_path):
    config = tmp_path / "logging.conf"
    code, _changed, out = playbook(tmp_path, {
        "libvirt_logging_config": str(config), "libvirt_logging_version": "1.2.2",
        "libvirt_logging_apply_runtime": False,
        "libvirt_logging_filters": [{"level": 1, "match": "qemu", "stack_trace": True}]})
    assert code == 0, out
    assert settings_of(config.read_text()) == {"log_filters": '"1:+qemu"', "log_buffer_size": "0"}
