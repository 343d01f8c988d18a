"""The libvirt_logging role against a real libvirtd: settings written, read back with
virt-admin, applied at run time, bad values caught before any daemon sees them."""

import re
import subprocess

import pytest

from harness import LibvirtNwfilterd, run_playbook

from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_logging import daemon_words

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
        assert code == 0 and changed == 2, out  # check mode counts the run-time change too
        # Check mode set on the play (not on the command line) changes nothing either.
        code, changed, out = run_playbook(tmp_path, PLAY.replace("gather_facts: false",
                                                                 "gather_facts: false\n  check_mode: true"),
                                          variables)
        assert code == 0 and changed == 2, out
        assert config.read_text() == written
        assert "1:*util.firewall* 3:*qemu*" in daemon.admin("daemon-log-filters")
        assert "1:file:" in daemon.admin("daemon-log-outputs")
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 2, out  # written; filters and outputs applied
        assert "2:*rpc*" in daemon.admin("daemon-log-filters")
        assert "2:syslog:virtkit" in daemon.admin("daemon-log-outputs")
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0, out
        assert daemon.proc.poll() is None  # never restarted
    finally:
        daemon.stop()


def test_libvirt_reads_the_first_line_of_a_key_and_the_role_writes_it_there(tmp_path, netns):  # pylint: disable=unused-argument
    """Measured first: libvirtd given two log_filters (log_outputs, log_level) lines takes the
    first. The role writes a key on its first uncommented line and removes the others, so the
    daemon started on the file runs with the role's value."""
    daemon = LibvirtNwfilterd(extra_config='log_filters = "1:first"\nlog_filters = "2:second"\n'
                                           'log_outputs = "4:stderr"\nlog_outputs = "3:stderr"\n',
                              command_log=False)
    try:
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["1:*first*"]
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["4:stderr"]
    finally:
        daemon.stop()
    daemon = LibvirtNwfilterd(extra_config="log_level = 4\nlog_level = 3\n", command_log=False)
    try:  # the default output takes log_level's priority
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["4:stderr"]
    finally:
        daemon.stop()
    config = tmp_path / "logging.conf"
    config.write_text('#log_filters = "3:remote"\nlog_filters = "1:old"\n# more\n'
                      'log_filters = "2:older"\n#log_outputs = "3:syslog:libvirtd"\n')
    variables = {"libvirt_logging_config": str(config), "libvirt_logging_apply_runtime": False,
                 "libvirt_logging_filters": [{"level": 2, "match": "rpc"}],
                 "libvirt_logging_outputs": [{"level": 4, "type": "stderr"}]}
    code, changed, out = playbook(tmp_path, variables, "--check", "--diff")
    assert code == 0 and changed == 1 and '-log_filters = "2:older"' in out, out
    code, changed, out = playbook(tmp_path, variables)
    assert code == 0 and changed == 1, out
    assert config.read_text() == ('#log_filters = "3:remote"\nlog_filters = "2:rpc"\n# more\n'
                                  '#log_outputs = "3:syslog:libvirtd"\nlog_outputs = "4:stderr"\n')
    code, changed, out = playbook(tmp_path, variables)
    assert code == 0 and changed == 0, out
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["2:*rpc*"]
    finally:
        daemon.stop()


def test_a_daemon_left_behind_is_brought_in_line(tmp_path, netns):  # pylint: disable=unused-argument
    """The file already says what is wanted but the daemon runs with something else (an earlier
    run had libvirt_logging_apply_runtime off, or its apply failed): the role compares and
    applies; check mode reads the daemon, reports and changes nothing."""
    config = tmp_path / "logging.conf"
    config.write_text('log_filters = "3:remote"\nlog_outputs = "4:stderr"\n')
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        variables = {"libvirt_logging_config": str(config), "libvirt_logging_apply_runtime": False,
                     "libvirt_logging_admin_uri": daemon.admin_uri,
                     "libvirt_logging_filters": [{"level": 2, "match": "rpc"}],
                     "libvirt_logging_outputs": [{"level": 3, "type": "stderr"}]}
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 1, out  # written only
        written = config.read_text()
        variables["libvirt_logging_apply_runtime"] = True
        for options in (("--check",), ("--check", "--diff")):
            code, changed, out = playbook(tmp_path, variables, *options)
            assert code == 0 and changed == 1, out
            assert "item=log_filters" in out and "item=log_outputs" in out, out
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["3:*remote*"]
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["4:stderr"]
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 1, out  # applied, file untouched
        assert config.read_text() == written
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["2:*rpc*"]
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["3:stderr"]
        # Drift by hand is noticed too, and only what differs is applied.
        daemon.admin("daemon-log-filters", "1:qemu")
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 1 and "item=log_outputs" not in out, out
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["2:*rpc*"]
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0, out
        assert daemon.proc.poll() is None
    finally:
        daemon.stop()
    # A daemon that does not answer fails the play, naming what to do.
    code, _changed, out = playbook(tmp_path, variables)
    assert code != 0 and "is the daemon running?" in out, out


def test_log_level_needs_a_restart_and_says_so(tmp_path, netns):  # pylint: disable=unused-argument
    """virt-admin cannot set log_level: the running daemon keeps the old one (its default
    output's priority shows it) until it restarts. The role says RESTART NEEDED, records it,
    and restarts only when asked (check mode: reports)."""
    config = tmp_path / "logging.conf"
    config.write_text("log_level = 3\n")
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        variables = {"libvirt_logging_config": str(config),
                     "libvirt_logging_admin_uri": daemon.admin_uri,
                     "libvirt_logging_level": 4}
        code, changed, out = playbook(tmp_path, variables, "--check")
        assert code == 0 and changed == 1 and "RESTART NEEDED: log_level 4 (was 3)" in out, out
        assert config.read_text() == "log_level = 3\n"
        variables["libvirt_logging_service"] = "virtkit-no-such-service"
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 1, out
        assert "RESTART NEEDED: log_level 4 (was 3)" in out and "Not restarted" in out, out
        assert config.read_text() == "log_level = 4\n"
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["3:stderr"]  # unchanged
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0 and "RESTART NEEDED" not in out, out
        # Asked to restart, the role notifies its handler (check mode: reported, not run).
        variables.update(libvirt_logging_level=2, libvirt_logging_restart=True)
        code, changed, out = playbook(tmp_path, variables, "--check")
        assert "RUNNING HANDLER [virtkit.host.libvirt_logging : Restart the libvirt daemon" in out, out
        assert "Restarting virtkit-no-such-service" in out, out
        assert config.read_text() == "log_level = 4\n" and daemon.proc.poll() is None
    finally:
        daemon.stop()
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["4:stderr"]
    finally:
        daemon.stop()


def test_clearing_goes_back_to_libvirt_defaults(tmp_path, netns):  # pylint: disable=unused-argument
    """An empty list leaves a key alone; libvirt_logging_clear removes it from the file and
    resets the running daemon (no filters, one default output)."""
    config = tmp_path / "logging.conf"
    config.write_text('#log_filters = "3:remote"\nlog_filters = "2:rpc"\nlog_filters = "1:x"\n'
                      'log_outputs = "4:stderr 3:file:%s"\n' % (tmp_path / "l.log"))
    daemon = LibvirtNwfilterd(extra_config=config.read_text(), command_log=False)
    try:
        variables = {"libvirt_logging_config": str(config),
                     "libvirt_logging_admin_uri": daemon.admin_uri}
        before = config.read_text()
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0 and config.read_text() == before, out
        variables["libvirt_logging_clear"] = ["filters", "outputs"]
        code, changed, out = playbook(tmp_path, variables, "--check")
        assert code == 0 and changed == 2 and config.read_text() == before, out
        assert daemon_words(daemon.admin("daemon-log-filters")) == ["2:*rpc*"]
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 2, out
        assert config.read_text() == '#log_filters = "3:remote"\n'
        assert daemon_words(daemon.admin("daemon-log-filters")) == []
        assert daemon_words(daemon.admin("daemon-log-outputs")) == ["3:stderr"]
        code, changed, out = playbook(tmp_path, variables)
        assert code == 0 and changed == 0, out
        code, _changed, out = playbook(tmp_path, dict(
            variables, libvirt_logging_filters=[{"level": 1, "match": "qemu"}]))
        assert code != 0 and "libvirt_logging_clear[0]: 'filters' clears the filters" in out, out
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
    # Unknown keys (a typo) are refused, not ignored: by the argument spec first (the filter
    # refuses them too, naming the entry: unit tests).
    ([], [{"level": 1, "type": "syslog", "idnet": "virtkit"}],
     "libvirt_logging_outputs.idnet. Supported parameters include: ident, level, path, type"),
    ([{"level": 1, "match": "qemu", "mach": "rpc"}], [],
     "libvirt_logging_filters.mach. Supported parameters include: level, match, stack_trace"),
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
        assert code == 0 and changed == 2, out  # written; outputs applied
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
