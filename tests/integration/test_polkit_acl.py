"""The polkit_acl role on this host's files, then the policy asked of a real polkitd through
the polkit_check module and pkcheck (for a non-root subject: polkit always authorises uid 0)."""

import os
import subprocess

import pytest

from harness import Polkitd, require, run_module, run_playbook

from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_acl import js_string, render
from ansible_collections.virtkit.host.plugins.module_utils._polkit import (
    ProcessAs,
    process_start_time,
)

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


def pkcheck(bus, process, action, details):
    """polkitd's own answer for ``process`` (pid, start time, uid), as pkcheck gives it:
    True authorised (exit 0), False not (exit 1)."""
    argv = ["pkcheck", "--action-id", "org.libvirt.api." + action.replace("_", "-"), "--process",
            "%d,%d,%d" % (process.pid, process_start_time(process.pid), process.entry.pw_uid)]
    for key, value in sorted(details.items()):
        argv += ["--detail", key, value]
    proc = subprocess.run(argv, env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode in (0, 1), (argv, proc.returncode, proc.stderr)
    return proc.returncode == 0


# Values a domain may be named that mean something to JavaScript, to a rules file or to HTML;
# each is granted by its own action below.
HOSTILE = {
    "domain.getattr": 'x"); return polkit.Result.YES; //',
    "domain.read": "x'); return polkit.Result.YES; //",
    "domain.write": "a;b{c}d#e",
    "domain.start": "*/ return polkit.Result.YES; /*",
    "domain.stop": "</script><script>alert(1)</script>",
    "domain.reset": "a\\\"b\\u0041",  # backslashes and an escape's spelling, not "A"
    "domain.save": "w" * 4096,  # a very long word, at the limit
    "domain.delete": "caf\u00e9 \u65e5\u672c \uffef",  # non-ASCII within the BMP
    "domain.migrate": "${x} %s $(id) `id` {x}",
}


def test_hostile_values_round_trip_through_polkitd(setup, private_bus):
    """Each value granted by a rule matches exactly that value in polkitd, through pkcheck
    --detail, and nothing else: not the other values, not a character more or less."""
    require("pkcheck")
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_rules"] = [
        {"user": "nobody", "actions": [action], "details": {"domain_name": value},
         "otherwise": "undecided"} for action, value in sorted(HOSTILE.items())] + [
        {"user": "nobody", "actions": ["domain.*"], "result": "deny"}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code == 0, out
    daemon = Polkitd(private_bus, str(rules))
    try:
        with ProcessAs("nobody") as process:
            for action, granted in HOSTILE.items():
                for other in HOSTILE.values():
                    assert pkcheck(private_bus, process, action, {"domain_name": other}) is \
                        (other == granted), (action, other)
                for near in (granted + "x", granted[:-1], "x" + granted, granted.upper(), ""):
                    if near != granted:
                        assert not pkcheck(private_bus, process, action, {"domain_name": near})
    finally:
        daemon.stop()


def test_duktape_never_matches_a_character_outside_the_bmp(tmp_path, private_bus):
    """Why such characters are refused: polkitd's engine (duktape) holds a JavaScript literal's
    surrogate pair and the same character passed as a detail from C as different strings, so a
    rule naming one would silently never match."""
    require("pkcheck")
    rules = tmp_path / "rules.d"
    rules.mkdir()
    emoji, bmp = "web\U0001F600", "web\u00e9"
    (rules / "50-test.rules").write_text(
        "polkit.addRule(function (action, subject) {\n"
        "    if (action.id == \"org.libvirt.api.network.getattr\" && subject.user == \"nobody\") {\n"
        "        var name = action.lookup(\"network_name\");\n"
        "        if (name == %s || name == %s) { return polkit.Result.YES; }\n"
        "        return polkit.Result.NO;\n"
        "    }\n"
        "});\n" % (js_string(emoji), js_string(bmp)))
    daemon = Polkitd(private_bus, str(rules))
    try:
        with ProcessAs("nobody") as process:
            assert pkcheck(private_bus, process, "network.getattr", {"network_name": bmp})
            assert not pkcheck(private_bus, process, "network.getattr", {"network_name": emoji})
    finally:
        daemon.stop()


@pytest.mark.parametrize("details, message", [
    ({"domain_name": None}, "polkit_acl_rules[1].details.domain_name: None is a null, not a string"),
    ({"domain_name": ["web1", None]},
     "polkit_acl_rules[1].details.domain_name[1]: None is a null, not a string"),
    ({"domain_name": 5}, "polkit_acl_rules[1].details.domain_name: 5 is a int, not a string"),
    ({"domain_name": "web\U0001F600"},
     "polkit_acl_rules[1].details.domain_name: 'web\U0001f600' contains U+1F600, outside the Basic "
     "Multilingual Plane"),
    ({"domain_name": "web1\n"},
     "polkit_acl_rules[1].details.domain_name: 'web1\\n' contains a control character or a line "
     "break"),
    ({"domain_name": "web1\u2028return polkit.Result.YES;"},
     "polkit_acl_rules[1].details.domain_name: 'web1\\u2028return polkit.Result.YES;' contains a "
     "control character or a line break"),
    ({"domain_name": "w" * 4097}, "polkit_acl_rules[1].details.domain_name: 'wwww"),
    ({"connect_driver": True}, "polkit_acl_rules[1].details.connect_driver: True is a bool, not "
                               "a string"),
], ids=["null", "list", "int", "emoji", "newline", "u2028", "long", "bool"])
def test_wrong_types_and_characters_change_nothing(setup, details, message):
    """Refused before anything is written: the rules file and the daemon's configuration stay
    byte for byte what they were."""
    tmp_path, rules, config, variables = setup
    installed = rules / "50-virtkit-libvirt-acl.rules"
    installed.write_text(render(POLICY))
    before = installed.read_bytes(), config.read_bytes()
    variables["polkit_acl_rules"] = [POLICY[0], {"user": "nobody", "actions": ["domain.getattr"],
                                                 "details": details}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code != 0 and message in out, out
    assert (installed.read_bytes(), config.read_bytes()) == before
    assert os.listdir(str(rules)) == ["50-virtkit-libvirt-acl.rules"]


def test_a_null_grants_nothing_and_a_list_means_any_of(setup, private_bus):
    """polkitd's own view: a refused null grants no domain named "None"; a list grants each of
    its values (not a domain named "['web1', 'web2']", what str() once made of it)."""
    require("pkcheck")
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_rules"] = [{"user": "nobody", "actions": ["domain.getattr"],
                                      "details": {"domain_name": None}}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code != 0 and os.listdir(str(rules)) == [], out
    variables["polkit_acl_rules"] = [{"user": "nobody", "actions": ["domain.getattr"],
                                      "details": {"domain_name": ["web1", "web2"]}}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code == 0, out
    daemon = Polkitd(private_bus, str(rules))
    try:
        with ProcessAs("nobody") as process:
            for name, expected in (("None", False), ("['web1', 'web2']", False), ("web1", True),
                                   ("web2", True), ("web3", False)):
                assert pkcheck(private_bus, process, "domain.getattr",
                               {"domain_name": name}) is expected, name
    finally:
        daemon.stop()


def answers(bus, cases):
    """polkitd's answers (pkcheck) for (user, action, details) cases."""
    found = []
    for user, action, details in cases:
        with ProcessAs(user) as process:
            found.append(pkcheck(bus, process, action, details))
    return found


def test_lock_down_deny_and_libvirt(setup, private_bus):
    """An unlisted user: "no" on domain.getattr with polkit_acl_default deny, "yes" with
    libvirt (libvirt's policy allows its read-only actions to anyone); root is authorised
    either way (polkitd never runs rules for uid 0)."""
    require("pkcheck")
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_rules"] = [{"user": "daemon", "actions": ["domain.getattr"],
                                      "details": {"domain_name": "web1"}}]
    cases = [("nobody", "domain.getattr", {"domain_name": "web1"}),
             ("nobody", "connect.search_domains", {"connect_driver": "QEMU"}),
             ("nobody", "network.read", {"network_name": "default"}),
             ("daemon", "domain.getattr", {"domain_name": "web1"}),
             ("daemon", "domain.getattr", {"domain_name": "web2"}),
             ("daemon", "domain.start", {"domain_name": "web1"})]
    expected = {"deny": [False, False, False, True, False, False],
                "libvirt": [True, True, True, True, True, False]}
    for default in ("deny", "libvirt"):
        variables["polkit_acl_default"] = default
        code, _changed, out = playbook(tmp_path, variables)
        assert code == 0, out
        daemon = Polkitd(private_bus, str(rules))
        try:
            assert answers(private_bus, cases) == expected[default], default
            root = run_module("polkit_check", {"pid": os.getpid(), "action": "domain.start",
                                               "details": {"domain_name": "web2"}},
                              env={"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address})
            assert root["authorized"] is True, root
        finally:
            daemon.stop()


def test_entries_fall_through(setup, private_bus):
    """The first-match trap: two entries for one user and action with different domains both
    apply (the first no longer refuses the second's domain); the lock-down says the final no."""
    require("pkcheck")
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_rules"] = [
        {"user": "nobody", "actions": ["domain.getattr"], "details": {"domain_name": "web1"}},
        {"user": "nobody", "actions": ["domain.getattr"], "details": {"domain_name": "web2"}},
        {"user": "nobody", "actions": ["domain.start"], "details": {"domain_name": "web1"},
         "otherwise": "deny"},
        {"user": "nobody", "actions": ["domain.start"], "details": {"domain_name": "web2"}}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code == 0, out
    daemon = Polkitd(private_bus, str(rules))
    try:
        assert answers(private_bus, [
            ("nobody", "domain.getattr", {"domain_name": "web1"}),
            ("nobody", "domain.getattr", {"domain_name": "web2"}),
            ("nobody", "domain.getattr", {"domain_name": "web3"}),
            ("nobody", "domain.start", {"domain_name": "web1"}),
            ("nobody", "domain.start", {"domain_name": "web2"}),  # an explicit otherwise stops
        ]) == [True, True, False, True, False]
    finally:
        daemon.stop()


GLOB_HOSTILE = 'x"); return polkit.Result.YES; //'


def test_lists_globs_sessions_and_subjects(setup, private_bus):
    """Each new form, enforced by polkitd: any of several values, globs (with quotes and
    comment openers in them), several users and groups in one entry, subject.local and
    subject.active (pkcheck's processes have no login session: neither local nor active)."""
    require("pkcheck")
    tmp_path, rules, _config, variables = setup
    variables["polkit_acl_rules"] = [
        {"user": ["daemon", "nobody"], "actions": ["domain.getattr"],
         "details": {"domain_name": ["db1", {"glob": "web-*"}, {"glob": "c?t"}]}},
        {"user": "nobody", "actions": ["domain.read"],
         "details": {"domain_name": {"glob": GLOB_HOSTILE[:3] + "*"}}},
        {"group": ["wheel", "nogroup"], "actions": ["network.getattr"]},
        {"user": "nobody", "actions": ["network.start"], "local": True},
        {"user": "nobody", "actions": ["network.stop"], "active": True},
        {"user": "nobody", "actions": ["network.save"], "local": False, "active": False}]
    code, _changed, out = playbook(tmp_path, variables)
    assert code == 0, out
    daemon = Polkitd(private_bus, str(rules))
    try:
        cases = [
            (("nobody", "domain.getattr", {"domain_name": "db1"}), True),
            (("daemon", "domain.getattr", {"domain_name": "db1"}), True),
            (("daemon", "domain.getattr", {"domain_name": "db2"}), False),
            (("nobody", "domain.getattr", {"domain_name": "web-"}), True),
            (("nobody", "domain.getattr", {"domain_name": "web-1.example"}), True),
            (("nobody", "domain.getattr", {"domain_name": "web1"}), False),
            (("nobody", "domain.getattr", {"domain_name": "xweb-1"}), False),
            (("nobody", "domain.getattr", {"domain_name": "cat"}), True),
            (("nobody", "domain.getattr", {"domain_name": "cart"}), False),
            (("nobody", "domain.getattr", {}), False),
            (("nobody", "domain.read", {"domain_name": GLOB_HOSTILE}), True),
            (("nobody", "domain.read", {"domain_name": "x'); return polkit.Result.YES; //"}),
             False),
            (("nobody", "domain.read", {"domain_name": 'x")'}), True),
            (("nobody", "domain.read", {"domain_name": "x"}), False),
            (("nobody", "network.getattr", {"network_name": "default"}), True),
            (("daemon", "network.getattr", {"network_name": "default"}), False),
            (("nobody", "network.start", {}), False),
            (("nobody", "network.stop", {}), False),
            (("nobody", "network.save", {}), True),
        ]
        assert answers(private_bus, [c for c, _e in cases]) == [e for _c, e in cases]
    finally:
        daemon.stop()


def test_the_role_checks_its_expectations(setup, private_bus, monkeypatch):
    """polkit_acl_expect: after installing, the role asks the running polkitd (which reloads
    the new file) each expectation; a wrong one fails the play, naming it."""
    tmp_path, rules, _config, variables = setup
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private_bus.address)
    daemon = Polkitd(private_bus, str(rules))
    try:
        variables["polkit_acl_rules"] = [{"user": "nobody", "actions": ["domain.getattr"],
                                          "details": {"domain_name": ["web1", {"glob": "db*"}]}}]
        variables["polkit_acl_expect"] = [
            {"user": "nobody", "action": "domain.getattr", "details": {"domain_name": "web1"},
             "expect": True},
            {"user": "nobody", "action": "domain.getattr", "details": {"domain_name": "db7"},
             "expect": True},
            {"user": "nobody", "action": "domain.getattr", "details": {"domain_name": "web2"},
             "expect": False},
            {"user": "daemon", "action": "domain.getattr", "details": {"domain_name": "web1"},
             "expect": False}]
        code, changed, out = playbook(tmp_path, variables, "-v")
        assert code == 0 and changed == 2, out
        # Every question asked, in one module run, each answered as expected.
        assert out.count('"expected": true') == 4 and '"expected": false' not in out, out
        assert '"subject": "daemon"' in out and '"domain_name": "db7"' in out, out
        for options in ((), ("--check", "--diff")):
            code, changed, out = playbook(tmp_path, variables, *options)
            assert code == 0 and changed == 0, out
            assert "Check the policy with polkitd" in out and "skipping" not in out.split(
                "Check the policy with polkitd")[1], out
        variables["polkit_acl_expect_retries"] = 1
        variables["polkit_acl_expect"].append(
            {"user": "daemon", "action": "domain.getattr", "details": {"domain_name": "web1"},
             "expect": True})
        code, _changed, out = playbook(tmp_path, variables)
        assert code != 0, out
        assert ("org.libvirt.api.domain.getattr for daemon with details {'domain_name': 'web1'}: "
                "polkit says not authorized, expected authorized") in out, out
        # check mode with a rules file that would change: the old file would answer, skipped
        variables["polkit_acl_rules"][0]["details"]["domain_name"] = "web9"
        code, changed, out = playbook(tmp_path, variables, "--check")
        assert code == 0 and changed == 1, out
    finally:
        daemon.stop()
