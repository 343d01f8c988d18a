"""The firewalld planner against a scripted DBus client: which calls, in which order, and what a
failure undoes (the real firewalld: tests/integration/test_firewalld_module.py)."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import model
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.planner import (
    Planner,
    plain,
)
from ansible_collections.virtkit.host.plugins.module_utils._vocabulary import InvalidValue


class Variant(object):
    def __init__(self, signature, value):
        self.signature = signature
        self.value = value


class FakeClient(object):
    """Answers the reads from ``zones`` ({name: settings}, the same in both layers; names in
    ``builtin`` are firewalld's own), records the writes, fails the write whose member and first
    argument are in ``fail``."""

    variant = Variant

    def __init__(self, zones, builtin=(), fail=None):
        self.zones = zones
        self.builtin = builtin
        self.fail = fail
        self.sent = []

    def read(self, calls, what):  # pylint: disable=unused-argument
        return [self._answer(call) for call in calls]

    def _answer(self, call):
        if call.member in ("getZones", "getZoneNames"):
            return list(self.zones)
        if call.member in ("getPolicies", "getPolicyNames"):
            return []
        if call.member in ("listServices", "getServiceNames"):
            return ["ssh", "http"]
        if call.member == "getZoneSettings2":
            return self.zones[call.body[0]]
        if call.member == "getZoneByName":
            return "/config/zone/" + call.body[0]
        if call.member == "getSettings2":
            return self.zones[call.path.rsplit("/", 1)[1]]
        if call.member == "Get":
            return call.path.rsplit("/", 1)[1] in self.builtin
        raise AssertionError(call.member)

    def send(self, calls):
        replies = []
        for call in calls:
            self.sent.append((call.path.rsplit("/", 1)[1], call.member, plain(call.body)))
            target = call.body[0] if call.body and isinstance(call.body[0], str) else \
                call.path.rsplit("/", 1)[1]
            failing = self.fail == (call.member, target)
            replies.append(("org.fedoraproject.FirewallD1.Exception", "INVALID_PORT: x")
                           if failing else (None, None))
        return replies


def planned(client, zones, persist="both", check_mode=False):
    planner = Planner(client, model.items_from({"zones": zones}), persist, check_mode)
    planner.read()
    return planner.plan()


def zone(name, **options):
    return dict(dict(name=name, state="present", mode="merge"), **options)


def test_removals_go_before_additions_in_each_layer():
    client = FakeClient({"a": {"interfaces": ["eth1"], "ports": [["22", "tcp"]]},
                         "b": {"interfaces": []}})
    planner = planned(client, [zone("b", interfaces=["eth1"]),
                               zone("a", mode="exact", interfaces=[], ports=["22/tcp"])])
    assert [(c.member, plain(c.body)) for c in planner.calls()] == [
        ("update2", [{"interfaces": []}]),             # permanent: a gives eth1 up
        ("update2", [{"interfaces": ["eth1"]}]),       # then b takes it
        ("setZoneSettings2", ["a", {"interfaces": []}]),  # the same at runtime
        ("setZoneSettings2", ["b", {"interfaces": ["eth1"]}])]
    assert [a["action"] for a in planner.actions] == ["changed", "changed"]
    assert planner.apply() and len(client.sent) == 4
    assert planner.steps["permanent"][0].item.name == "a"


def test_check_mode_sends_nothing():
    client = FakeClient({"public": {}})
    planner = planned(client, [zone("public", ports=["80/tcp"])], check_mode=True)
    assert [c.member for c in planner.apply()] == ["update2", "setZoneSettings2"]
    assert client.sent == []


def test_unchanged_sends_nothing():
    client = FakeClient({"public": {"ports": [["80", "tcp"]], "masquerade": True}})
    planner = planned(client, [zone("public", ports=["80/tcp"], masquerade=True)])
    assert planner.calls() == [] and planner.diffs == []
    assert planner.actions[0]["action"] == "unchanged"


def test_runtime_failure_undoes_both_layers_in_reverse():
    client = FakeClient({"public": {}, "work": {"services": ["ssh"]}}, builtin=("public",),
                        fail=("setZoneSettings2", "work"))
    planner = planned(client, [zone("public", ports=["80/tcp"]),
                               zone("work", mode="exact", services=["http"])])
    with pytest.raises(FirewallError) as caught:
        planner.apply()
    assert "zones[1] (zone work), runtime" in str(caught.value)
    undo = client.sent[len(planner.calls()):]
    assert undo == [
        # the failed runtime call may have done part of its work: undone too
        ("FirewallD1", "setZoneSettings2", ["work", {"services": []}]),
        ("FirewallD1", "setZoneSettings2", ["public", {"ports": []}]),
        ("FirewallD1", "setZoneSettings2", ["work", {"services": ["ssh"]}]),
        ("work", "update2", [{"services": []}]),
        ("public", "loadDefaults", []),  # firewalld's own zone: its file goes again
        ("work", "update2", [{"services": ["ssh"]}]),
    ]


def test_permanent_failure_undoes_only_what_ran():
    client = FakeClient({"public": {}, "work": {}}, fail=("update2", "work"))
    planner = planned(client, [zone("public", ports=["80/tcp"]), zone("work", ports=["81/tcp"])])
    with pytest.raises(FirewallError, match=r"zones\[1\] \(zone work\), permanent.*ports"):
        planner.apply()
    assert client.sent[2:] == [("public", "update2", [{"ports": []}])]


def test_permanent_only_settings():
    client = FakeClient({"public": {"target": "default"}})
    planner = planned(client, [zone("public", target="DROP")])
    assert [c.member for c in planner.calls()] == ["update2"]
    assert "reload" in planner.warnings[0]
    with pytest.raises(InvalidValue, match="persist"):
        planned(FakeClient({"public": {}}), [zone("public", target="DROP")], persist="runtime")


def test_unknown_service_named():
    with pytest.raises(InvalidValue, match=r"zones\[0\]\.services\[0\]: 'nope'"):
        planned(FakeClient({"public": {}}), [zone("public", services=["nope"])])
