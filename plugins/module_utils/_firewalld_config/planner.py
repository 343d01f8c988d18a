# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads zones and policies over one DBus connection, plans the calls that bring them to the
wanted state (each with the call that undoes it), and applies them as one transaction.

Per layer (permanent, then runtime) a zone or policy gets at most two calls, partial settings
dicts with only the keys that change: first the one that only removes elements, then the one
that adds and sets. All removals of a layer go out before all additions, so an interface or a
source moves between zones and a forward port is retargeted without a conflict. The calls of a
layer are pipelined: firewalld handles them in order, and every call has its undo, so a failure
is rolled back the same way wherever it happened. Permanent calls (``update2``) apply whole or
not at all; a runtime call (``setZoneSettings2``) may stop half way, and its undo (the keys'
earlier values, which firewalld diffs against what it holds) repairs that too.
"""

from ansible_collections.virtkit.host.plugins.module_utils._dbus import SystemBus
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import model
from ansible_collections.virtkit.host.plugins.module_utils._vocabulary import InvalidValue

BUS = "org.fedoraproject.FirewallD1"
PATH = "/org/fedoraproject/FirewallD1"
MAIN = BUS
ZONE = BUS + ".zone"
POLICY = BUS + ".policy"
CONFIG = BUS + ".config"
CONFIG_PATH = PATH + "/config"
CONFIG_OBJECT = {"zone": CONFIG + ".zone", "policy": CONFIG + ".policy"}
PROPERTIES = "org.freedesktop.DBus.Properties"
PERMANENT, RUNTIME = "permanent", "runtime"
DEFAULTS = {model.NAMES: [], model.PORTS: [], model.FORWARDS: [], model.RULES: [],
            model.BOOL: False, model.TARGET: "default", model.PRIORITY: -1}
SPECIAL_ZONES = ("ANY", "HOST")


def plain(value):
    """A DBus value as plain data (Variants opened, structs as lists)."""
    if hasattr(value, "signature") and hasattr(value, "value"):
        return plain(value.value)
    if isinstance(value, (list, tuple)):
        return [plain(element) for element in value]
    if isinstance(value, dict):
        return dict((key, plain(element)) for key, element in value.items())
    return value


_PLURAL = {"zone": "zones", "policy": "policies"}


class Call(object):
    def __init__(self, interface, member, signature="", body=None, path=PATH):
        self.interface = interface
        self.member = member
        self.signature = signature
        self.body = body or []
        self.path = path

    def to_dict(self):
        return dict(interface=self.interface, member=self.member, args=plain(self.body))


class Step(object):
    """One changing call for one item in one layer; ``undo(reply)`` gives the inverse call;
    ``partial``: a failed call may have changed part of what it asked for."""

    def __init__(self, item, layer, keys, call, undo, partial=False):
        self.item = item
        self.layer = layer
        self.keys = keys
        self.call = call
        self.undo = undo
        self.partial = partial


class Client(SystemBus):
    """The connection, with firewalld's errors as FirewallError."""

    def __init__(self, address=None):
        super(Client, self).__init__(address, "virtkit.host.firewalld")
        if not self.name_has_owner(BUS):
            self.close()
            raise FirewallUnavailableError("firewalld is not running: nothing owns %s on the "
                                           "system bus" % BUS)

    def send(self, calls):
        """Pipelined; ``(error, text or reply)`` per call."""
        replies = self.call_all([self.message(BUS, call.path, call.interface, call.member,
                                              call.signature, call.body) for call in calls])
        return [(error, (body[0] if body and isinstance(body[0], str) else "") if error
                 else (body[0] if body else None)) for error, body in replies]

    def read(self, calls, what):
        """Pipelined reads; a failed one is a FirewallError naming ``what`` of it."""
        results = []
        for call, (error, reply), label in zip(calls, self.send(calls), what):
            if error is not None:
                if error in ("org.freedesktop.DBus.Error.ServiceUnknown",
                             "org.freedesktop.DBus.Error.NameHasNoOwner"):
                    raise FirewallUnavailableError("firewalld stopped: %s" % reply)
                raise FirewallError("%s: firewalld %s failed: %s" % (label, call.member, reply),
                                    dbus_error=error)
            results.append(reply)
        return results


def variants(client, item, values):
    """A settings dict for DBus: {key: Variant} of firewalld's types."""
    return dict((key, client.variant(model.SIGNATURES[item.fields[key][1]],
                                     [list(e) if isinstance(e, tuple) else e for e in value]
                                     if isinstance(value, list) else value))
                for key, value in values.items())


class Planner(object):
    def __init__(self, client, items, persist, check_mode=False):
        self.client = client
        self.items = items
        self.layers = [layer for layer in (PERMANENT, RUNTIME) if persist in (layer, "both")]
        self.persist = persist
        self.check_mode = check_mode
        self.warnings = []
        self.current = {}  # (item index, layer) -> {key: value} or None (absent)
        self.raw = {}  # (item index, permanent) -> settings as read (Variants), for re-adding
        self.paths = {}
        self.builtin = {}
        self.done = []  # (step, reply) of the calls apply() made that changed something

    # reading

    def read(self):
        names = self.client.read([
            Call(ZONE, "getZones"), Call(POLICY, "getPolicies"), Call(MAIN, "listServices"),
            Call(CONFIG, "getZoneNames", path=CONFIG_PATH),
            Call(CONFIG, "getPolicyNames", path=CONFIG_PATH),
            Call(CONFIG, "getServiceNames", path=CONFIG_PATH)], ["names"] * 6)
        known = {RUNTIME: dict(zone=set(names[0]), policy=set(names[1]), service=set(names[2])),
                 PERMANENT: dict(zone=set(names[3]), policy=set(names[4]),
                                 service=set(names[5]))}
        self._check_names(known)
        calls, what = [], []
        for index, item in enumerate(self.items):
            if item.name in known[RUNTIME][item.kind]:
                calls.append(Call(ZONE, "getZoneSettings2", "s", [item.name])
                             if item.kind == "zone" else
                             Call(POLICY, "getPolicySettings", "s", [item.name]))
                what.append((index, RUNTIME))
            if item.name in known[PERMANENT][item.kind]:
                member = "getZoneByName" if item.kind == "zone" else "getPolicyByName"
                calls.append(Call(CONFIG, member, "s", [item.name], CONFIG_PATH))
                what.append((index, "path"))
        replies = self.client.read(calls, [self.items[entry[0]].where for entry in what])
        settings_calls, settings_what = [], []
        for (index, layer), reply in zip(what, replies):
            if layer == RUNTIME:
                self.current[index, RUNTIME] = self._shaped(self.items[index], reply)
            else:
                item = self.items[index]
                self.paths[index] = reply
                settings_calls.append(Call(CONFIG_OBJECT[item.kind], "getSettings2" if
                                           item.kind == "zone" else "getSettings", path=reply))
                settings_calls.append(Call(PROPERTIES, "Get", "ss",
                                           [CONFIG_OBJECT[item.kind], "builtin"], reply))
                settings_what.append(index)
        replies = self.client.read(settings_calls, [self.items[i].where for i in settings_what
                                                    for unused in (0, 1)])
        for number, index in enumerate(settings_what):
            self.raw[index] = replies[2 * number]
            self.current[index, PERMANENT] = self._shaped(self.items[index], replies[2 * number])
            self.builtin[index] = bool(plain(replies[2 * number + 1]))

    @staticmethod
    def _shaped(item, settings):
        values = {}
        for key, (unused, kind) in item.fields.items():
            value = plain(settings[key]) if key in settings else DEFAULTS[kind]
            values[key] = model.shaped(kind, value)
        return values

    def _check_names(self, known):
        """Unknown services and zones, named by field, before anything changes."""
        for item in self.items:
            if item.state != "present":
                continue
            for layer in self.layers:
                for number, service in enumerate(item.wanted.get("services", [])):
                    if service not in known[layer]["service"]:
                        raise InvalidValue("%s.services[%d]" % (item.where, number), service,
                                           "is not a service firewalld knows (%s)" % layer)
                for field in ("ingress_zones", "egress_zones"):
                    zones = known[layer]["zone"] | set(SPECIAL_ZONES) | set(
                        other.name for other in self.items
                        if other.kind == "zone" and other.state == "present")
                    for number, zone in enumerate(item.wanted.get(field, [])):
                        if zone not in zones:
                            raise InvalidValue("%s.%s[%d]" % (item.where, field, number), zone,
                                               "is not a zone firewalld knows (%s)" % layer)

    # planning

    def plan(self):
        """Per layer, the steps in the order they run; per item, its action and diff."""
        self.steps = dict((layer, []) for layer in self.layers)
        self.actions = []
        self.diffs = []
        adds = dict((layer, []) for layer in self.layers)
        for index, item in enumerate(self.items):
            action = "unchanged"
            for layer in self.layers:
                current = self.current.get((index, layer))
                result = self._plan_item(index, item, layer, current, adds[layer])
                if result != "unchanged":
                    action = result
            self.actions.append(dict(name=item.name, kind=item.kind, action=action))
        for layer in self.layers:
            self.steps[layer].extend(adds[layer])
        return self

    def _missing_at_runtime(self, item, what):
        if self.persist == RUNTIME:
            raise InvalidValue(item.where, item.name, "%s: firewalld %s only in its permanent "
                                                      "configuration (persist: permanent or both)"
                               % (item.kind, what))
        self.warnings.append("%s %s: firewalld %s only in its permanent configuration; the "
                             "runtime takes it at the next reload" % (item.kind, item.name, what))

    def _plan_item(self, index, item, layer, current, adds):
        if item.state == "absent":
            if current is None:
                return "unchanged"
            if layer == RUNTIME:
                self._missing_at_runtime(item, "removes " + _PLURAL[item.kind])
                return "unchanged"
            self._remove(index, item)
            return "removed"
        if current is None:
            if layer == RUNTIME:
                self._missing_at_runtime(item, "creates " + _PLURAL[item.kind])
                return "unchanged"
            self._create(item, adds)
            return "created"
        removals, changes, before = {}, {}, {}
        for key, wanted in item.wanted.items():
            kind = item.fields[key][1]
            target = model.desired(kind, item.mode, current[key], wanted)
            if model.same(kind, current[key], target):
                continue
            if layer == RUNTIME and kind in model.PERMANENT_ONLY:
                self._missing_at_runtime(item, "changes the %s of a %s" % (key, item.kind))
                continue
            before[key] = current[key]
            changes[key] = target
            if kind in (model.NAMES, model.PORTS, model.FORWARDS, model.RULES):
                kept = [element for element in current[key] if element in target]
                if len(kept) != len(current[key]):
                    removals[key] = kept
        if not changes:
            return "unchanged"
        self.diffs.append(("%s %s (%s)" % (item.kind, item.name, layer),
                           self._lines(item, before), self._lines(item, changes)))
        if removals:
            self._update(index, item, layer, removals, before, self.steps[layer])
        middle = dict(before, **removals)
        if removals and layer == PERMANENT and self.builtin.get(index):
            self.builtin[index] = False  # the first update already wrote the file
        additions = dict((key, value) for key, value in changes.items()
                         if key not in removals or set(value) != set(removals[key]))
        if additions:
            self._update(index, item, layer, additions, middle, adds)
        return "changed"

    @staticmethod
    def _lines(item, values):
        return "".join("%s: %s\n" % (item.fields[key][0], model.shown(item.fields[key][1],
                                                                      values[key]))
                       for key in sorted(values))

    def _update(self, index, item, layer, values, before, steps):
        client = self.client
        keys = sorted(values)
        if layer == RUNTIME:
            interface, member = ((ZONE, "setZoneSettings2") if item.kind == "zone"
                                 else (POLICY, "setPolicySettings"))
            call = Call(interface, member, "sa{sv}", [item.name, variants(client, item, values)])
            undo_call = Call(interface, member, "sa{sv}",
                             [item.name, variants(client, item,
                                                  dict((k, before[k]) for k in keys))])
            steps.append(Step(item, layer, keys, call, lambda reply: undo_call, partial=True))
            return
        path = self.paths[index]
        interface = CONFIG_OBJECT[item.kind]
        member = "update2" if item.kind == "zone" else "update"
        call = Call(interface, member, "a{sv}", [variants(client, item, values)], path)
        if self.builtin.get(index):
            undo_call = Call(interface, "loadDefaults", path=path)
        else:
            undo_call = Call(interface, member, "a{sv}",
                             [variants(client, item, dict((k, before[k]) for k in keys))], path)
        steps.append(Step(item, layer, keys, call, lambda reply: undo_call))

    def _create(self, item, adds):
        values = dict((key, model.desired(item.fields[key][1], "exact", [], wanted))
                      for key, wanted in item.wanted.items())
        member = "addZone2" if item.kind == "zone" else "addPolicy"
        call = Call(CONFIG, member, "sa{sv}", [item.name, variants(self.client, item, values)],
                    CONFIG_PATH)
        interface = CONFIG_OBJECT[item.kind]
        self.diffs.append(("%s %s (permanent)" % (item.kind, item.name), "",
                           self._lines(item, values)))
        adds.append(Step(item, PERMANENT, sorted(values), call,
                         lambda reply: Call(interface, "remove", path=reply)))

    def _remove(self, index, item):
        interface = CONFIG_OBJECT[item.kind]
        member = "addZone2" if item.kind == "zone" else "addPolicy"
        undo_call = Call(CONFIG, member, "sa{sv}", [item.name, self.raw[index]], CONFIG_PATH)
        current = self.current[index, PERMANENT]
        self.diffs.append(("%s %s (permanent)" % (item.kind, item.name),
                           self._lines(item, current), ""))
        self.steps[PERMANENT].insert(0, Step(item, PERMANENT, [], Call(
            interface, "remove", path=self.paths[index]), lambda reply: undo_call))

    # applying

    def calls(self):
        return [step.call for layer in self.layers for step in self.steps[layer]]

    def apply(self):
        """Run the steps; on a failure undo what ran, in reverse, and raise a FirewallError
        naming the item, the layer and the keys. Returns the calls made."""
        made = []
        done = self.done = []  # (step, reply): what changed, for the undo
        if self.check_mode:
            return self.calls()
        for layer in self.layers:
            steps = self.steps[layer]
            if not steps:
                continue
            replies = self.client.send([step.call for step in steps])
            made.extend(step.call for step in steps)
            failed = None
            for step, (error, reply) in zip(steps, replies):
                if error is None or step.partial:
                    done.append((step, reply))
                if error is not None and failed is None:
                    failed = (step, error, reply)
            if failed is not None:
                self._rollback(failed, made)
        return made

    def undo_calls(self):
        """After apply(): the calls that undo what it changed, newest first (each step's undo
        given its call's reply). The rollback sends them; a confirmed change journals them."""
        return [step.undo(reply) for step, reply in reversed(self.done)]

    def _rollback(self, failed, made):
        step, error, text = failed
        undo = self.undo_calls()
        replies = self.client.send(undo) if undo else []
        made.extend(undo)
        exc = FirewallError("%s (%s %s), %s: firewalld %s failed: %s: %s%s" % (
            step.item.where, step.item.kind, step.item.name, step.layer, step.call.member,
            error, text, " (changing %s)" % ", ".join(step.item.fields[key][0]
                                                      for key in step.keys)
            if step.keys else ""), dbus_error=error)
        exc.undo_failed = [(call, reply) for call, (undo_error, reply) in zip(undo, replies)
                           if undo_error is not None]
        exc.calls = made
        raise exc
