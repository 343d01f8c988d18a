"""The libvirt_logging role against a real libvirtd: settings written, read back with
virt-admin, applied at run time, bad values caught before any daemon sees them."""

import re

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


def test_bad_values_are_caught_before_anything_is_written(tmp_path):
    config = tmp_path / "logging.conf"
    config.write_text('log_filters = "3:remote"\n')
    for filters, outputs, message in [
            ([{"level": 9, "match": "x"}], [], "libvirt_logging_filters[0]: level 9 is not 1"),
            ([{"level": 1, "match": "two words"}], [], "libvirt_logging_filters[0]: match 'two words'"),
            ([], [{"level": 1, "type": "file", "path": "relative.log"}],
             "libvirt_logging_outputs[0]: path 'relative.log' is not an absolute path"),
            ([], [{"level": 1, "type": "fax"}], "libvirt_logging_outputs[0]: type 'fax' is not one of"),
            ([{"level": 1, "match": "qemu", "stack_trace": True}], [],
             "stack traces ('+') are not honoured by libvirt 9.0.0")]:
        code, _changed, out = playbook(tmp_path, {"libvirt_logging_config": str(config),
                                                  "libvirt_logging_filters": filters,
                                                  "libvirt_logging_outputs": outputs})
        assert code != 0 and message in out, out
        assert config.read_text() == 'log_filters = "3:remote"\n'


def test_old_libvirt_gets_its_ring_buffer_off(tmp_path):
    config = tmp_path / "logging.conf"
    code, _changed, out = playbook(tmp_path, {
        "libvirt_logging_config": str(config), "libvirt_logging_version": "1.2.2",
        "libvirt_logging_apply_runtime": False,
        "libvirt_logging_filters": [{"level": 1, "match": "qemu", "stack_trace": True}]})
    assert code == 0, out
    assert settings_of(config.read_text()) == {"log_filters": '"1:+qemu"', "log_buffer_size": "0"}
