"""virtkit.host.firewalld as a module: argument checks, check mode and diff, the calls it makes,
idempotence, a failure rolled back, firewalld not running and dbus-next missing. The DBus side is
a scripted firewalld patched onto SystemBus (the class the module's Client builds on), so the
module's Client and Planner run as they are and nothing touches a real bus."""

import copy
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._dbus import SystemBus
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.planner import (
    CONFIG,
    CONFIG_PATH,
    PATH,
    POLICY,
    ZONE,
    plain,
)
from ansible_collections.virtkit.host.plugins.modules import firewalld
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

MAIN = firewalld.main
BUS = "org.fedoraproject.FirewallD1"
ZONE_CONFIG = CONFIG + ".zone"
POLICY_CONFIG = CONFIG + ".policy"
READS = ("NameHasOwner", "getZones", "getPolicies", "listServices", "getZoneNames",
         "getPolicyNames", "getServiceNames", "getZoneSettings2", "getPolicySettings",
         "getZoneByName", "getPolicyByName", "getSettings2", "getSettings", "Get")
INVALID = "org.fedoraproject.FirewallD1.Exception"


class Variant(object):
    """dbus-next's Variant as far as the planner uses it."""

    def __init__(self, signature, value):
        self.signature = signature
        self.value = value


class Message(object):
    def __init__(self, destination, path, interface, member, signature, body):
        self.destination = destination
        self.path = path
        self.interface = interface
        self.member = member
        self.signature = signature
        self.body = body


def config_path(kind, name):
    return "%s/%s/%s" % (CONFIG_PATH, kind, name)


class ScriptedFirewalld(object):
    """firewalld on the bus as the module sees it: ``permanent`` and ``runtime`` hold
    {"zone": {name: settings}, "policy": {name: settings}} (plain settings dicts; a missing key is
    firewalld's default), ``builtin`` names firewalld's own zones and policies. Writes change
    that state, so a second task sees what the first one did. ``fail`` lists (member, name) of
    writes that fail, each once, in turn; ``running`` False: nothing owns firewalld's name."""

    def __init__(self, zones=None, policies=None, runtime=None, builtin=(),
                 services=("ssh", "http", "https", "libvirt"), fail_calls=(), running=True):
        self.permanent = {"zone": copy.deepcopy(zones or {}),
                          "policy": copy.deepcopy(policies or {})}
        self.runtime = copy.deepcopy(runtime) if runtime is not None else copy.deepcopy(
            self.permanent)
        self.defaults = copy.deepcopy(self.permanent)
        self.builtin = set(builtin)
        self.services = list(services)
        self.fail = list(fail_calls)
        self.running = running
        self.stopped = False  # True: firewalld goes away after the bus connection is made
        self.opened = 0
        self.closed = 0
        self.messages = []  # (member, body as plain data) of every message, in order
        self.paths = []  # (member, destination, object path) of every message, in order

    def state(self):
        """Both layers, without the keys that hold firewalld's default (an empty set, false)."""
        return tuple(dict((kind, dict((name, dict((key, value) for key, value in settings.items()
                                                  if value not in ([], False)))
                                      for name, settings in layer[kind].items()))
                          for kind in layer)
                     for layer in (self.permanent, self.runtime))

    def writes(self):
        return [(member, body) for member, body in self.messages if member not in READS]

    def install(self, monkeypatch):
        script = self

        def __init__(bus, address=None, user="this module"):  # pylint: disable=unused-argument
            script.opened += 1
            bus.variant = Variant

        def message(bus, destination, path, interface, member, signature="", body=None):  # pylint: disable=unused-argument
            return Message(destination, path, interface, member, signature, body or [])

        def call_all(bus, messages, window=32):  # pylint: disable=unused-argument
            return [script.answer(one) for one in messages]

        def close(bus):  # pylint: disable=unused-argument
            script.closed += 1

        for name, value in (("__init__", __init__), ("message", message),
                            ("call_all", call_all), ("close", close)):
            monkeypatch.setattr(SystemBus, name, value)
        return self

    # the bus

    def answer(self, message):
        body = plain(message.body)
        self.messages.append((message.member, body))
        self.paths.append((message.member, message.destination, message.path))
        if message.member == "NameHasOwner":
            return None, [self.running]
        if self.stopped:
            return "org.freedesktop.DBus.Error.ServiceUnknown", [
                "The name %s was not provided by any .service files" % BUS]
        # a zone's or policy's object is named by its path, firewalld's own methods by their first argument
        name = message.path.rsplit("/", 1)[1] if message.path.startswith(CONFIG_PATH + "/") else (
            body[0] if body else None)
        if message.member not in READS and (message.member, name) in self.fail:
            self.fail.remove((message.member, name))
            return INVALID, ["INVALID_PORT: %s" % name]
        return None, self._reply(message, body, name)

    def _reply(self, message, body, name):  # pylint: disable=too-many-return-statements
        member = message.member
        names = {"getZones": (self.runtime, "zone"), "getPolicies": (self.runtime, "policy"),
                 "getZoneNames": (self.permanent, "zone"),
                 "getPolicyNames": (self.permanent, "policy")}
        if member in names:
            layer, kind = names[member]
            return [sorted(layer[kind])]
        if member in ("listServices", "getServiceNames"):
            return [list(self.services)]
        kind = "zone" if message.interface in (ZONE, ZONE_CONFIG) or "Zone" in member else "policy"
        if member in ("getZoneSettings2", "getPolicySettings"):
            return [self._variants(self.runtime[kind][name])]
        if member in ("getZoneByName", "getPolicyByName"):
            return [config_path(kind, name)]
        if member in ("getSettings2", "getSettings"):
            return [self._variants(self.permanent[kind][name])]
        if member == "Get":
            return [Variant("b", name in self.builtin)]
        if member in ("setZoneSettings2", "setPolicySettings"):
            self.runtime[kind][name].update(body[1])
            return []
        if member in ("update2", "update"):
            self.permanent[kind][name].update(body[0])
            return []
        if member in ("addZone2", "addPolicy"):
            self.permanent[kind][name] = dict(body[1])
            return [config_path(kind, name)]
        if member == "remove":
            del self.permanent[kind][name]
            return []
        if member == "loadDefaults":
            self.permanent[kind][name] = copy.deepcopy(self.defaults[kind][name])
            return []
        raise AssertionError("an unexpected call: %s %r" % (member, body))

    @staticmethod
    def _variants(settings):
        return dict((key, Variant("v", value)) for key, value in settings.items())


@pytest.fixture
def warnings(monkeypatch):
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn",
                        lambda module, warning: warned.append(warning))
    return warned


@pytest.fixture
def fw(monkeypatch, warnings):  # pylint: disable=redefined-outer-name,unused-argument
    """public (firewalld's own: ssh, eth0) and work (ssh) in both layers; no policies."""
    script = ScriptedFirewalld(zones={"public": {"services": ["ssh"], "interfaces": ["eth0"]},
                                      "work": {"services": ["ssh"]}},
                               builtin=("public",))
    return script.install(monkeypatch)


def zone_update(settings):
    return {"interface": ZONE_CONFIG, "member": "update2", "args": [settings]}


def zone_runtime(name, settings):
    return {"interface": ZONE, "member": "setZoneSettings2", "args": [name, settings]}


# argument validation: refused naming the field, before firewalld is asked anything

@pytest.mark.parametrize("args, words", [
    ({"zones": [{"name": "public", "ports": ["70000/tcp"]}]}, ["zones[0].ports[0]", "'70000'"]),
    ({"zones": [{"name": "public", "ports": ["22"]}]}, ["zones[0].ports[0]"]),
    ({"zones": [{"name": "public", "ports": ["22/tcp", "30-20/udp"]}]}, ["zones[0].ports[1]"]),
    ({"zones": [{"name": "pub lic"}]}, ["zones[0].name", "pub lic"]),
    ({"zones": [{"name": "+public"}]}, ["zones[0].name"]),
    ({"zones": [{"name": "public"}, {"name": "public"}]}, ["zones[1].name", "listed twice"]),
    ({"zones": [{"name": "public", "sources": ["10.0.0.0/33"]}]}, ["zones[0].sources[0]"]),
    ({"zones": [{"name": "public", "interfaces": ["eth0;x"]}]}, ["zones[0].interfaces[0]"]),
    ({"zones": [{"name": "public", "rich_rules": ["accept"]}]}, ["zones[0].rich_rules[0]"]),
    ({"zones": [{"name": "public", "forward_ports": [{"port": "80", "protocol": "tcp"}]}]},
     ["zones[0].forward_ports[0]", "to_port or to_addr"]),
    ({"policies": [{"name": "p", "priority": 0, "ingress_zones": ["public"]}]},
     ["policies[0].priority"]),
    ({"policies": [{"name": "p", "ingress_zones": ["a b"]}]}, ["policies[0].ingress_zones[0]"]),
])
def test_bad_values_are_refused_naming_the_field(fw, args, words):
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert "Traceback" not in result["msg"] and "exception" not in result
    assert result["changed"] is False and result["calls"] == []
    assert fw.opened == 0 and fw.messages == []


@pytest.mark.parametrize("args, words", [
    ({"zones": [{"name": "public", "mode": "replace"}]}, ["mode", "merge, exact", "replace"]),
    ({"zones": [{"name": "public", "state": "gone"}]}, ["state", "present, absent"]),
    ({"zones": [{"name": "public", "target": "REJECTED"}]}, ["target", "REJECT"]),
    ({"policies": [{"name": "p", "target": "default"}]}, ["target", "CONTINUE"]),
    ({"persist": "always"}, ["persist", "both, runtime, permanent", "always"]),
    ({"zones": [{"ports": ["22/tcp"]}]}, ["name", "zones"]),
    ({"policies": [{"ingress_zones": ["public"]}]}, ["name", "policies"]),
    ({"zones": [{"name": "public", "forward_ports": [{"port": "80", "protocol": "icmp",
                                                      "to_port": "8080"}]}]},
     ["protocol", "tcp, udp, sctp, dccp"]),
    ({"zones": [{"name": "public", "colour": "red"}]}, ["colour"]),
])
def test_bad_arguments_are_refused_by_the_argument_spec(fw, args, words):
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert fw.opened == 0 and fw.messages == []


@pytest.mark.parametrize("args, words", [
    ({"zones": [{"name": "public", "services": ["ssh", "nope"]}]},
     ["zones[0].services[1]", "'nope'", "is not a service firewalld knows"]),
    ({"policies": [{"name": "p", "ingress_zones": ["public"], "egress_zones": ["nowhere"]}]},
     ["policies[0].egress_zones[0]", "'nowhere'", "is not a zone firewalld knows"]),
    ({"persist": "runtime", "zones": [{"name": "public", "target": "DROP"}]},
     ["zones[0]", "target", "persist: permanent or both"]),
    ({"persist": "runtime", "zones": [{"name": "lab", "services": ["ssh"]}]},
     ["zones[0]", "creates zones", "persist"]),
    ({"persist": "runtime", "policies": [{"name": "p", "ingress_zones": ["public"],
                                          "egress_zones": ["work"]}]},
     ["policies[0]", "'p' policy", "only in its permanent configuration", "persist"]),
])
def test_what_firewalld_cannot_take_is_refused_before_any_write(fw, args, words):
    before = fw.state()
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert "exception" not in result and result["changed"] is False and result["calls"] == []
    assert fw.writes() == [] and fw.state() == before
    assert fw.opened == fw.closed == 1


def test_a_policy_may_name_a_zone_the_same_task_creates_and_the_special_zones(fw):
    result = run(MAIN, {"zones": [{"name": "lab", "services": ["ssh"]}],
                        "policies": [{"name": "lab-out", "ingress_zones": ["lab"],
                                      "egress_zones": ["ANY"]},
                                     {"name": "to-host", "ingress_zones": ["work"],
                                      "egress_zones": ["HOST"]}]})
    assert [call["member"] for call in result["calls"]] == ["addZone2", "addPolicy", "addPolicy"]


# check mode and diff

def test_check_mode_writes_nothing_and_reports_the_calls_and_diff(fw):
    before = fw.state()
    result = run(MAIN, {"zones": [{"name": "work", "ports": ["80/tcp"], "services": ["http"]}]},
                 check_mode=True, diff=True)
    settings = {"ports": [["80", "tcp"]], "services": ["ssh", "http"]}
    assert result["changed"] is True
    assert result["calls"] == [zone_update(settings), zone_runtime("work", settings)]
    assert result["zones"] == [{"name": "work", "action": "changed"}]
    assert result["policies"] == []
    assert result["diff"] == [
        {"before_header": "zone work (%s)" % layer, "after_header": "zone work (%s)" % layer,
         "before": "ports: \nservices: ssh\n", "after": "ports: 80/tcp\nservices: ssh, http\n"}
        for layer in ("permanent", "runtime")]
    assert fw.writes() == [] and fw.state() == before and fw.closed == 1


def test_check_mode_creating_and_removing(fw, warnings):  # pylint: disable=redefined-outer-name
    fw.permanent["zone"]["old"] = {"services": ["ssh"]}
    before = fw.state()
    result = run(MAIN, {"zones": [{"name": "lab", "target": "DROP", "sources": ["10.9.0.0/24"]},
                                  {"name": "old", "state": "absent"}]},
                 check_mode=True, diff=True)
    assert [(call["interface"], call["member"]) for call in result["calls"]] == [
        (ZONE_CONFIG, "remove"), (CONFIG, "addZone2")]
    assert result["calls"][1]["args"] == ["lab", {"target": "DROP", "sources": ["10.9.0.0/24"]}]
    assert result["zones"] == [{"name": "lab", "action": "created"},
                               {"name": "old", "action": "removed"}]
    assert result["diff"][0] == {
        "before_header": "zone lab (permanent)", "after_header": "zone lab (permanent)",
        "before": "", "after": "sources: 10.9.0.0/24\ntarget: DROP\n"}
    removed = result["diff"][1]
    assert (removed["before_header"], removed["after_header"], removed["after"]) == (
        "zone old (permanent)", "zone old (permanent)", "")
    # what goes is shown whole, defaults included
    assert "services: ssh\n" in removed["before"] and "target: default\n" in removed["before"]
    assert len(warnings) == 1 and "next reload" in warnings[0]
    assert fw.writes() == [] and fw.state() == before


def test_no_diff_unless_asked(fw):
    result = run(MAIN, {"zones": [{"name": "work", "ports": ["80/tcp"]}]}, check_mode=True)
    assert "diff" not in result and result["changed"] is True


# apply

def test_a_zone_change_is_applied_in_both_layers_and_reported(fw):
    result = run(MAIN, {"zones": [{"name": "work", "ports": ["80/tcp", "8000-8100/tcp"],
                                   "masquerade": True}]})
    settings = {"ports": [["80", "tcp"], ["8000-8100", "tcp"]], "masquerade": True}
    assert result["changed"] is True
    assert result["calls"] == [zone_update(settings), zone_runtime("work", settings)]
    assert all(sorted(call) == ["args", "interface", "member"] for call in result["calls"])
    assert result["zones"] == [{"name": "work", "action": "changed"}]
    assert result["policies"] == [] and "diff" not in result
    for layer in fw.state():
        assert layer["zone"]["work"] == {"services": ["ssh"], "masquerade": True,
                                         "ports": [["80", "tcp"], ["8000-8100", "tcp"]]}
    assert fw.opened == fw.closed == 1


@pytest.mark.parametrize("persist, members", [
    ("runtime", ["setZoneSettings2"]),
    ("permanent", ["update2"]),
    ("both", ["update2", "setZoneSettings2"]),
])
def test_persist_chooses_the_layers(fw, persist, members):
    result = run(MAIN, {"persist": persist, "zones": [{"name": "work", "services": ["http"]}]})
    assert [call["member"] for call in result["calls"]] == members
    permanent, runtime = fw.state()
    assert (permanent["zone"]["work"]["services"] == ["ssh", "http"]) == (persist != "runtime")
    assert (runtime["zone"]["work"]["services"] == ["ssh", "http"]) == (persist != "permanent")


def test_exact_removes_first_and_an_interface_moves_between_zones(fw):
    result = run(MAIN, {"zones": [{"name": "work", "interfaces": ["eth0"]},
                                  {"name": "public", "mode": "exact", "interfaces": [],
                                   "services": ["ssh"]}]})
    assert result["calls"] == [
        {"interface": ZONE_CONFIG, "member": "update2", "args": [{"interfaces": []}]},
        {"interface": ZONE_CONFIG, "member": "update2", "args": [{"interfaces": ["eth0"]}]},
        zone_runtime("public", {"interfaces": []}),
        zone_runtime("work", {"interfaces": ["eth0"]})]
    assert result["zones"] == [{"name": "work", "action": "changed"},
                               {"name": "public", "action": "changed"}]
    for layer in fw.state():
        assert "interfaces" not in layer["zone"]["public"]
        assert layer["zone"]["work"]["interfaces"] == ["eth0"]


def test_zones_and_policies_are_created_changed_and_removed(fw, warnings):  # pylint: disable=redefined-outer-name
    fw.permanent["policy"]["old"] = {"ingress_zones": ["work"], "egress_zones": ["public"]}
    fw.permanent["policy"]["allow-host-ipv6"] = {"ingress_zones": ["ANY"],
                                                 "egress_zones": ["HOST"]}
    fw.runtime["policy"]["allow-host-ipv6"] = dict(fw.permanent["policy"]["allow-host-ipv6"])
    fw.builtin.add("allow-host-ipv6")
    result = run(MAIN, {
        "zones": [{"name": "mgmt", "target": "DROP", "services": ["ssh", "libvirt"]}],
        "policies": [{"name": "int-to-ext", "ingress_zones": ["mgmt"],
                      "egress_zones": ["public"], "target": "ACCEPT", "masquerade": True,
                      "priority": -10},
                     {"name": "allow-host-ipv6", "services": ["ssh"]},
                     {"name": "old", "state": "absent"}]})
    assert result["calls"] == [
        {"interface": POLICY_CONFIG, "member": "remove", "args": []},
        {"interface": CONFIG, "member": "addZone2",
         "args": ["mgmt", {"target": "DROP", "services": ["ssh", "libvirt"]}]},
        {"interface": CONFIG, "member": "addPolicy",
         "args": ["int-to-ext", {"ingress_zones": ["mgmt"], "egress_zones": ["public"],
                                 "priority": -10, "target": "ACCEPT", "masquerade": True}]},
        {"interface": POLICY_CONFIG, "member": "update", "args": [{"services": ["ssh"]}]},
        {"interface": POLICY, "member": "setPolicySettings",
         "args": ["allow-host-ipv6", {"services": ["ssh"]}]}]
    assert result["zones"] == [{"name": "mgmt", "action": "created"}]
    assert result["policies"] == [{"name": "int-to-ext", "action": "created"},
                                  {"name": "allow-host-ipv6", "action": "changed"},
                                  {"name": "old", "action": "removed"}]
    assert result["changed"] is True
    # firewalld creates and removes them only in its permanent configuration: said, not hidden
    assert len(warnings) == 2 and all("next reload" in warning for warning in warnings)
    permanent = fw.state()[0]
    assert sorted(permanent["policy"]) == ["allow-host-ipv6", "int-to-ext"]
    assert permanent["zone"]["mgmt"] == {"target": "DROP", "services": ["ssh", "libvirt"]}


# idempotence

def test_a_second_run_makes_no_calls(fw, warnings):  # pylint: disable=redefined-outer-name
    args = {"zones": [{"name": "work", "ports": ["80/tcp", "443/tcp"], "services": ["http"],
                       "sources": ["10.9.0.0/24", "52:54:00:12:34:56"], "masquerade": True,
                       "forward_ports": [{"port": "2222", "protocol": "tcp", "to_port": "22"}],
                       "rich_rules": ["rule family=ipv4 source address='10.0.0.1' accept"]},
                      {"name": "public", "mode": "exact", "services": ["ssh"]}],
            "policies": [{"name": "allow-host-ipv6", "ingress_zones": ["ANY"],
                          "egress_zones": ["HOST"]}]}
    fw.permanent["policy"]["allow-host-ipv6"] = {"ingress_zones": ["ANY"],
                                                 "egress_zones": ["HOST"]}
    fw.runtime["policy"]["allow-host-ipv6"] = {"ingress_zones": ["ANY"], "egress_zones": ["HOST"]}
    first = run(MAIN, args)
    assert first["changed"] is True and first["calls"]
    count = len(fw.writes())
    second = run(MAIN, args, diff=True)
    assert second["changed"] is False and second["calls"] == [] and second["diff"] == []
    assert second["zones"] == [{"name": "work", "action": "unchanged"},
                               {"name": "public", "action": "unchanged"}]
    assert second["policies"] == [{"name": "allow-host-ipv6", "action": "unchanged"}]
    assert len(fw.writes()) == count and warnings == []


def test_nothing_listed_is_no_change(fw):
    result = run(MAIN, {})
    assert result == {"changed": False, "calls": [], "zones": [], "policies": []}
    assert fw.writes() == []


def test_an_absent_zone_that_is_absent_is_no_change(fw):
    result = run(MAIN, {"zones": [{"name": "gone", "state": "absent"}]})
    assert result["changed"] is False and result["calls"] == []
    assert result["zones"] == [{"name": "gone", "action": "unchanged"}]


# failures

def test_a_failed_call_is_rolled_back_in_full_and_names_the_element(fw):
    before = fw.state()
    fw.fail = [("setZoneSettings2", "work")]
    result = fail(MAIN, {"zones": [{"name": "public", "ports": ["80/tcp"]},
                                   {"name": "work", "ports": ["81/tcp"]}]})
    assert result["msg"] == (
        "zones[1] (zone work), runtime: firewalld setZoneSettings2 failed: %s: "
        "INVALID_PORT: work (changing ports)" % INVALID)
    assert "Traceback" not in result["msg"] and "exception" not in result
    assert result["changed"] is False
    assert result["zones"] == [] and result["policies"] == []
    # every call that ran is listed, the rollback's last (in reverse)
    assert [(call["member"], call["args"]) for call in result["calls"]] == [
        ("update2", [{"ports": [["80", "tcp"]]}]),
        ("update2", [{"ports": [["81", "tcp"]]}]),
        ("setZoneSettings2", ["public", {"ports": [["80", "tcp"]]}]),
        ("setZoneSettings2", ["work", {"ports": [["81", "tcp"]]}]),
        ("setZoneSettings2", ["work", {"ports": []}]),
        ("setZoneSettings2", ["public", {"ports": []}]),
        ("update2", [{"ports": []}]),
        ("loadDefaults", []),  # public is firewalld's own zone
    ]
    permanent, runtime = fw.state()
    assert runtime == before[1]
    assert permanent == before[0] and fw.closed == 1


def test_a_failed_permanent_call_undoes_only_what_ran(fw):
    before = fw.state()
    fw.fail = [("update2", "work")]
    result = fail(MAIN, {"policies": [], "zones": [{"name": "public", "services": ["http"]},
                                                   {"name": "work", "services": ["http"]}]})
    assert "zones[1] (zone work), permanent: firewalld update2 failed" in result["msg"]
    assert "(changing services)" in result["msg"] and result["changed"] is False
    assert [call["member"] for call in result["calls"]] == ["update2", "update2", "loadDefaults"]
    assert fw.state() == before


def test_a_rollback_that_cannot_undo_says_so_and_is_a_change(fw):
    fw.fail = [("setZoneSettings2", "work"), ("setZoneSettings2", "work")]
    result = fail(MAIN, {"zones": [{"name": "work", "ports": ["81/tcp"]}]})
    assert result["msg"].startswith("zones[0] (zone work), runtime: firewalld setZoneSettings2")
    assert result["msg"].endswith("; the rollback could not undo: setZoneSettings2 "
                                  "INVALID_PORT: work")
    assert result["changed"] is True and result["zones"] == [] and "exception" not in result


def test_firewalld_not_running(fw):
    fw.running = False
    result = fail(MAIN, {"zones": [{"name": "public", "ports": ["80/tcp"]}]})
    assert result["msg"] == ("firewalld is not running: nothing owns %s on the system bus" % BUS)
    assert "exception" not in result and result["changed"] is False and result["calls"] == []
    assert fw.messages == [("NameHasOwner", [BUS])] and fw.closed == 1


def test_firewalld_stopping_while_read(fw):
    fw.stopped = True
    result = fail(MAIN, {"zones": [{"name": "public", "ports": ["80/tcp"]}]})
    assert result["msg"].startswith("firewalld stopped: The name %s" % BUS)
    assert result["changed"] is False and fw.writes() == [] and fw.closed == 1


def test_missing_dbus_next_is_the_standard_message(monkeypatch):
    # the real SystemBus: its import of dbus-next fails before any connection is tried
    monkeypatch.setitem(sys.modules, "dbus_next", None)
    monkeypatch.setitem(sys.modules, "dbus_next.aio", None)
    result = fail(MAIN, {"zones": [{"name": "public", "ports": ["80/tcp"]}]})
    assert result["msg"] == missing_required_lib("dbus-next")
    assert result["exception"] == ("virtkit.host.firewalld needs the Python library dbus-next, "
                                   "which is not installed on this host")
    assert result["changed"] is False and result["calls"] == []


def test_each_call_goes_to_its_object(fw):
    run(MAIN, {"zones": [{"name": "work", "services": ["http"]}]})
    assert fw.paths[0] == ("NameHasOwner", "org.freedesktop.DBus", "/org/freedesktop/DBus")
    assert [entry for entry in fw.paths if entry[0] not in READS] == [
        ("update2", BUS, config_path("zone", "work")), ("setZoneSettings2", BUS, PATH)]
