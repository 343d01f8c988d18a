"""virtkit.host.firewall as a module: its inputs, check mode, result keys and failures, with the
planner's host side (reads, scratch namespace, the lock, applying) replaced by a fake."""

import pytest

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._declarative import RuleSet
from ansible_collections.virtkit.host.plugins.modules import firewall
from ansible_collections.virtkit.host.tests.unit.plugins.modules.fake_planner import (
    FakePlanner,
    argvs,
)
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

SSH = {"chain": "INPUT", "rule": "-p tcp --dport 22 -j ACCEPT"}
ADD = [["iptables", "-w", "-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "22",
        "-j", "ACCEPT"]]
QUERY = [["iptables", "-w", "--table", "filter", "--list-rules"]]
TOUCHED = {("ipv4", "filter", "INPUT"): (["-P INPUT ACCEPT"],
                                         ["-P INPUT ACCEPT",
                                          "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"])}


@pytest.fixture
def planner(monkeypatch):
    """A fake planner with one rule to add; tests change its attributes as they need."""
    return FakePlanner(planned=("changes", TOUCHED), commands=ADD,
                       queries=QUERY).install(monkeypatch, RuleSet)


def test_a_rule_to_add_is_applied_and_reported(planner):
    result = run(firewall.main, {"rules": [SSH]})
    assert result["changed"] is True
    assert argvs(result["commands"]) == ADD
    assert argvs(result["queries"]) == QUERY
    assert result["backend"] == "iptables"
    assert "diff" not in result and "trace" not in result
    assert [c.argv for c in planner.ran] == ADD and planner.applied == "changes"
    # Read and applied under the host lock, in this order.
    assert planner.calls == ["init", "lock", "plan", "apply", "unlock"]
    assert planner.created[0][1]["check_mode"] is False


def test_the_declared_rules_reach_the_planner_as_given(planner):
    run(firewall.main, {"state": "absent", "backend": "iptables", "batch": False, "rules": [
        SSH, dict(SSH, layer="ipv6", table="filter", position=2, state="present")],
        "chains": [{"name": "LIBVIRT_INP", "layer": "ethernet", "table": "nat"}]})
    args, kwargs = planner.created[0]
    assert (args + (kwargs.get("backend"),))[0] == "iptables" and kwargs["batch"] is False
    chains, rules = planner.wanted
    assert [(r.layer, r.table, r.chain, list(r.spec), r.position, r.state) for r in rules] == [
        ("ipv4", "filter", "INPUT", ["-p", "tcp", "--dport", "22", "-j", "ACCEPT"], None,
         "absent"),
        ("ipv6", "filter", "INPUT", ["-p", "tcp", "--dport", "22", "-j", "ACCEPT"], 2,
         "present")]
    assert [(c.layer, c.table, c.name, c.state) for c in chains] == [
        ("ethernet", "nat", "LIBVIRT_INP", "absent")]


def test_check_mode_plans_from_the_host_and_runs_nothing(planner):
    result = run(firewall.main, {"rules": [SSH]}, check_mode=True)
    assert planner.created[0][1]["check_mode"] is True
    assert result["changed"] is True and argvs(result["commands"]) == ADD
    assert argvs(result["queries"]) == QUERY
    assert planner.ran == []


def test_nothing_to_do_is_not_a_change(planner):
    planner.commands, planner.planned = [], ([], {})
    result = run(firewall.main, {"rules": [SSH]})
    assert result["changed"] is False and result["commands"] == []


def test_diff_shows_each_touched_chain_before_and_after(planner):
    result = run(firewall.main, {"rules": [SSH]}, diff=True)
    assert result["diff"] == [{
        "before_header": "ipv4 filter INPUT", "after_header": "ipv4 filter INPUT",
        "before": "-P INPUT ACCEPT\n",
        "after": "-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"}]


def test_a_removed_chain_diffs_to_nothing(planner):
    planner.planned = ("changes", {("ipv4", "filter", "OLD"): (["-N OLD"], None)})
    result = run(firewall.main, {"chains": [{"name": "OLD"}], "state": "absent"}, diff=True)
    assert result["diff"][0]["before"] == "-N OLD\n" and result["diff"][0]["after"] == ""


def test_trace_only_at_vvv(planner):
    planner.trace_lines = ["iptables -w --table filter --list-rules"]
    assert "trace" not in run(firewall.main, {"rules": [SSH]}, verbosity=2)
    assert planner.created[-1][1]["trace"] is None
    result = run(firewall.main, {"rules": [SSH]}, verbosity=3)
    assert result["trace"] == ["iptables -w --table filter --list-rules"]


@pytest.mark.parametrize("args, field", [
    ({"rules": [{"rule": "-j ACCEPT"}]}, "chain"),
    ({"rules": [{"chain": "INPUT"}]}, "rule"),
    ({"rules": [dict(SSH, layer="ipv5")]}, "layer"),
    ({"rules": [SSH], "backend": "pf"}, "backend"),
    ({"rules": [SSH], "state": "gone"}, "state"),
    ({"rules": [dict(SSH, family="ipx")]}, "family"),
    ({"chains": [{"layer": "ipv4"}]}, "name"),
    ({"rules": [dict(SSH, position="first")]}, "position"),
    ({"rules": [SSH], "colour": "red"}, "colour"),
])
def test_bad_arguments_fail_before_any_planner(planner, args, field):
    result = fail(firewall.main, args)
    assert field in result["msg"] and "Traceback" not in result["msg"]
    assert planner.calls == []


@pytest.mark.parametrize("rule, field", [
    (dict(SSH, chain="IN PUT"), "rules[0].chain"),
    (dict(SSH, rule=""), "rules[0]"),
    (dict(SSH, rule="-j ACCEPT\n-A INPUT -j DROP"), "rules[0].rule"),
    (dict(SSH, table="nosuch"), "rules[0]"),
    (dict(SSH, rule="-A INPUT -j ACCEPT"), "rules[0]"),
    (dict(SSH, position=0), "rules[0]"),
])
def test_bad_rules_are_refused_naming_the_field_before_the_host_is_read(planner, rule, field):
    result = fail(firewall.main, {"rules": [rule]})
    assert result["msg"].startswith(field) and "Traceback" not in result["msg"]
    assert "plan" not in planner.calls and planner.ran == []
    assert result["commands"] == [] and result["changed"] is False


def test_a_built_in_chain_is_not_a_chain_to_declare(planner):
    result = fail(firewall.main, {"chains": [{"name": "INPUT"}]})
    assert result["msg"].startswith("chains[0].name") and "built-in" in result["msg"]


def test_a_failure_while_applying_reports_what_ran(planner):
    planner.commands = ADD + [["iptables", "-w", "-t", "filter", "-A", "INPUT", "-j", "NOPE"]]
    planner.fail_at = "apply"
    planner.error = FirewallError("rules[1]: iptables: No chain/target/match by that name")
    result = fail(firewall.main, {"rules": [SSH, dict(SSH, rule="-j NOPE")]})
    assert result["msg"] == "rules[1]: iptables: No chain/target/match by that name"
    assert argvs(result["commands"]) == ADD[:1] and len(planner.ran) == 1
    assert argvs(result["queries"]) == QUERY and result["backend"] == "iptables"
    assert "exception" not in result
    assert planner.calls[-1] == "unlock"  # the lock is given back


def test_a_failure_while_reading_fails_the_task(planner):
    planner.fail_at, planner.error = "plan", FirewallError("iptables: Permission denied")
    result = fail(firewall.main, {"rules": [SSH]})
    assert result["msg"] == "iptables: Permission denied" and result["changed"] is False


def test_a_rollback_that_left_changes_says_so(planner):
    class Rule(object):
        args = ("-t", "filter", "-D", "INPUT", "-j", "ACCEPT")
    error = FirewallError("iptables: Bad rule")
    error.undo_failed = [Rule()]
    planner.fail_at, planner.error = "apply", error
    result = fail(firewall.main, {"rules": [SSH]})
    assert result["changed"] is True
    assert result["msg"] == ("iptables: Bad rule; the rollback could not undo: "
                             "-t filter -D INPUT -j ACCEPT")


def test_a_missing_library_gets_ansibles_standard_message(planner):
    planner.fail_at = "init"
    planner.error = MissingLibraryError("dbus-next", "the firewalld backend")
    result = fail(firewall.main, {"rules": [SSH], "backend": "firewalld"})
    assert result["msg"] == missing_required_lib("dbus-next")
    assert "dbus-next" in result["exception"]
