"""The polkit_acl role on this host's files, then the policy asked of a real polkitd through
the polkit_check module (for a non-root subject: polkit always authorises uid 0)."""

import os

import pytest

from harness import Polkitd, run_module, run_playbook

POLICY = [
    {"name": "the article's first example", "user": "nobody", "actions": ["connect.getattr"],
     "details": {"connect_driver": "QEMU"}},
    {"name": "the article's second example", "user": "nobody", "actions": ["domain.getattr"],
     "details": {"connect_driver": "LXC", "domain_name": "demo"}},
    {"user": "nobody", "actions": ["domain.start"],
     "details": {"domain_name": 'x"); return polkit.Result.YES; //'}},
]
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: virtkit.host.polkit_acl
"""


def playbook(tmp_path, variables, *options):
    return run_playbook(tmp_path, PLAY, variables, *options)


@pytest.fixture
def setup(tmp_path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    config = tmp_path / "libvirtd.conf"
    config.write_text('# libvirtd.conf\n#access_drivers = [ "polkit" ]\nlog_level = 3\n')
    variables = {"polkit_acl_rules": POLICY,
                 "polkit_acl_rules_file": str(rules / "50-virtkit-libvirt-acl.rules"),
                 "polkit_acl_daemon_config": str(config),
                 "polkit_acl_restart_daemon": False, "polkit_acl_install_validator": False}
    return tmp_path, rules, config, variables


def test_role_installs_a_policy_polkit_enforces(setup, private_bus):
    tmp_path, rules, config, variables = setup
    code, changed, out = playbook(tmp_path, variables)
    assert code == 0 and changed == 2, out
    assert config.read_text().splitlines()[1] == 'access_drivers = [ "polkit" ]'
    installed = rules / "50-virtkit-libvirt-acl.rules"
    assert oct(installed.stat().st_mode & 0o777) == "0o644"
    assert installed.read_text().startswith("//")  # ansible_managed header, as a comment
    for options in ((), ("--check", "--diff")):
        code, changed, out = playbook(tmp_path, variables, *options)
        assert code == 0 and changed == 0, out
    daemon = Polkitd(private_bus, str(rules))
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        for action, details, expected in [
                ("connect.getattr", {"connect_driver": "QEMU"}, True),
                ("connect.getattr", {"connect_driver": "LXC"}, False),
                ("domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"}, True),
                ("domain.getattr", {"connect_driver": "LXC", "domain_name": "other"}, False),
                ("domain.getattr", {"connect_driver": "QEMU", "domain_name": "demo"}, False),
                ("domain.start", {"domain_name": "other"}, False),
                ("domain.start", {"domain_name": 'x"); return polkit.Result.YES; //'}, True)]:
            result = run_module("polkit_check", {"user": "nobody", "action": action,
                                                 "details": details, "expect": expected}, env=env)
            assert not result.get("failed"), result.get("msg")
            assert result["authorized"] is expected
        wrong = run_module("polkit_check", {"user": "nobody", "action": "connect.getattr",
                                            "details": {"connect_driver": "LXC"},
                                            "expect": True}, env=env)
        assert wrong["failed"] and "polkit says not authorized, expected authorized" in wrong["msg"]
    finally:
        daemon.stop()


def test_bad_policy_changes_nothing(setup):
    tmp_path, rules, config, variables = setup
    before = config.read_text()
    variables["polkit_acl_rules"] = [{"user": "nobody", "actions": ["domain.getatr"]}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code != 0
    assert "polkit_acl_rules[0]: action 'domain.getatr': libvirt's domain object has no permission" in out
    assert os.listdir(str(rules)) == [] and config.read_text() == before


def test_syntax_check_keeps_a_broken_file_out(setup):
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_validate_command"] = "false %s"  # a checker that refuses everything
    code, _changed, out = playbook(tmp_path, variables)
    assert code != 0 and "failed to validate" in out
    assert os.listdir(str(rules)) == []


def test_absent_removes_the_rules(setup):
    tmp_path, rules, _config, variables = setup
    playbook(tmp_path, variables)
    code, changed, out = playbook(tmp_path, dict(variables, polkit_acl_state="absent"))
    assert code == 0 and changed == 1, out
    assert os.listdir(str(rules)) == []


def test_polkit_check_without_polkitd(private_bus):
    result = run_module("polkit_check", {"user": "nobody", "action": "domain.getattr"},
                        env={"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address})
    assert result["failed"] and "org.freedesktop" in result["msg"]
