"""virtkit.host.nwfilter_binding as a module: filters (directories and inline XML), bindings,
check mode, result keys, diff and failures, with the planner's host side faked."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.binding import (
    NwfilterBindings,
    PlannedBinding,
)
from ansible_collections.virtkit.host.plugins.modules import nwfilter_binding
from ansible_collections.virtkit.host.tests.unit.plugins.modules.fake_planner import (
    FakePlanner,
    argvs,
)
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

MAIN = nwfilter_binding.main
NO_SPOOF = ("<filter name='no-spoof' chain='root'><rule action='drop' direction='out'>"
            "<mac match='no' srcmacaddr='$MAC'/></rule></filter>")
BIND = {"interface": "vnet7", "mac": "52:54:00:12:34:56", "filter": "no-spoof"}
ADD = [["ebtables", "--concurrent", "-t", "nat", "-N", "libvirt-J-vnet7"]]
FINAL = {"ebtables": {"libvirt-J-vnet7": ["-s ! 52:54:00:12:34:56 -j DROP"]}}


def planned_bindings(bindings):
    planned = []
    for binding in bindings:
        item = PlannedBinding(binding)
        if binding.state == "present":
            item.action, item.final = "added", FINAL
        planned.append(item)
    return planned


@pytest.fixture
def planner(monkeypatch):
    return FakePlanner(planned=planned_bindings, commands=ADD, queries=[
        ["ebtables", "--concurrent", "-t", "nat", "-L"]]).install(monkeypatch, NwfilterBindings)


def args(**more):
    base = {"bindings": [BIND], "filters": [NO_SPOOF], "filter_dirs": []}
    base.update(more)
    return base


def test_a_binding_is_planned_applied_and_reported(planner):
    result = run(MAIN, args())
    [bindings] = planner.wanted
    assert [(b.interface, b.mac, b.filter, b.state, b.variables) for b in bindings] == [
        ("vnet7", "52:54:00:12:34:56", "no-spoof", "present", {"MAC": ["52:54:00:12:34:56"]})]
    filters = planner.created[0][0][0]
    assert filters.get("no-spoof").name == "no-spoof"
    assert result["changed"] is True and argvs(result["commands"]) == ADD
    assert result["bindings"] == [{"interface": "vnet7", "filter": "no-spoof",
                                   "action": "added"}]
    assert argvs(result["queries"]) == [["ebtables", "--concurrent", "-t", "nat", "-L"]]
    assert result["backend"] == "iptables"
    assert planner.calls == ["init", "lock", "plan", "apply", "unlock"]


def test_filters_are_read_from_the_directories_given(planner, tmp_path):
    (tmp_path / "no-spoof.xml").write_text(NO_SPOOF)
    run(MAIN, args(filters=[], filter_dirs=[str(tmp_path), str(tmp_path / "missing")]))
    assert planner.created[0][0][0].get("no-spoof").name == "no-spoof"


def test_check_mode_runs_nothing(planner):
    result = run(MAIN, args(), check_mode=True)
    assert planner.created[0][1]["check_mode"] is True and planner.ran == []
    assert result["changed"] is True and argvs(result["commands"]) == ADD


def test_diff_shows_the_interfaces_chains(planner):
    result = run(MAIN, args(), diff=True)
    assert result["diff"] == [{"before_header": "vnet7", "after_header": "vnet7", "before": "",
                               "after": "ebtables libvirt-J-vnet7:\n"
                                        "  -s ! 52:54:00:12:34:56 -j DROP\n"}]


def test_removal_needs_no_filter_or_mac(planner):
    planner.commands = []
    result = run(MAIN, args(bindings=[{"interface": "vnet7"}], state="absent"))
    assert result["changed"] is False
    assert result["bindings"] == [{"interface": "vnet7", "filter": None, "action": "unchanged"}]


@pytest.mark.parametrize("more, words", [
    ({"bindings": [{"mac": "52:54:00:12:34:56"}]}, ["interface"]),
    ({"backend": "nftables"}, ["backend"]),
    ({"bindings": [dict(BIND, state="gone")]}, ["state"]),
    ({"bindings": [dict(BIND, parameters=["IP"])]}, ["parameters"]),
])
def test_bad_arguments_fail_before_any_planner(planner, more, words):
    result = fail(MAIN, args(**more))
    assert all(word in result["msg"] for word in words), result["msg"]
    assert planner.calls == []


@pytest.mark.parametrize("more, field", [
    ({"bindings": [dict(BIND, interface="vnet 7")]}, "bindings[0].interface"),
    ({"bindings": [dict(BIND, mac="52:54:00:12:34")]}, "bindings[0].mac"),
    ({"bindings": [dict(BIND, filter=None)]}, "bindings[0]"),
    ({"bindings": [dict(BIND, filter="no spoof")]}, "bindings[0].filter"),
    ({"bindings": [BIND, dict(BIND, parameters={"IP": "1.2.3.4; reboot"})]},
     "bindings[1].parameters.IP"),
    ({"filters": ["<filter name='x'><rule"]}, "filters[0]"),
])
def test_bad_input_is_refused_naming_the_field_before_the_host_is_read(planner, more, field):
    result = fail(MAIN, args(**more))
    assert field in result["msg"] and "Traceback" not in result["msg"]
    assert "plan" not in planner.calls and planner.ran == [] and result["changed"] is False


def test_a_failure_while_applying_reports_what_ran(planner):
    planner.fail_at = "apply"
    planner.error = FirewallError("ebtables: Chain 'libvirt-J-vnet7' already exists")
    result = fail(MAIN, args())
    assert result["msg"] == "ebtables: Chain 'libvirt-J-vnet7' already exists"
    assert argvs(result["commands"]) == ADD and "exception" not in result
    assert result["bindings"] == [] and planner.calls[-1] == "unlock"
