# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wanted state of firewalld zones and policies: the module's options checked by the
vocabulary and put in firewalld's own shape (its settings-dict keys and value types), and how a
wanted element set combines with what firewalld holds."""

import re

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

# Kinds of element sets: how they are checked, compared and typed on DBus.
NAMES, PORTS, FORWARDS, RULES, BOOL, TARGET, PRIORITY = (
    "names", "ports", "forwards", "rules", "bool", "target", "priority")
SIGNATURES = {NAMES: "as", PORTS: "a(ss)", FORWARDS: "a(ssss)", RULES: "as", BOOL: "b",
              TARGET: "s", PRIORITY: "i"}
# What firewalld changes only in its permanent configuration (its runtime takes them at reload).
PERMANENT_ONLY = (TARGET, PRIORITY)

# (option, firewalld key, kind, check of one name) in the order firewalld applies them.
_COMMON = [
    ("services", "services", NAMES, vocabulary.firewalld_name),
    ("ports", "ports", PORTS, None),
    ("protocols", "protocols", NAMES, vocabulary.firewalld_name),
    ("source_ports", "source_ports", PORTS, None),
    ("forward_ports", "forward_ports", FORWARDS, None),
    ("masquerade", "masquerade", BOOL, None),
    ("icmp_blocks", "icmp_blocks", NAMES, vocabulary.firewalld_name),
]
ZONE_FIELDS = [
    ("target", "target", TARGET, None),
    ("interfaces", "interfaces", NAMES, vocabulary.interface),
    ("sources", "sources", NAMES, vocabulary.firewalld_source),
] + _COMMON + [
    ("icmp_block_inversion", "icmp_block_inversion", BOOL, None),
    ("rich_rules", "rules_str", RULES, None),
]
POLICY_FIELDS = [
    ("ingress_zones", "ingress_zones", NAMES, vocabulary.firewalld_name),
    ("egress_zones", "egress_zones", NAMES, vocabulary.firewalld_name),
    ("priority", "priority", PRIORITY, None),
    ("target", "target", TARGET, None),
] + _COMMON + [
    ("rich_rules", "rich_rules", RULES, None),
]
ZONE_TARGETS = {"default": "default", "ACCEPT": "ACCEPT", "DROP": "DROP", "REJECT": "%%REJECT%%"}
POLICY_TARGETS = {"CONTINUE": "CONTINUE", "ACCEPT": "ACCEPT", "DROP": "DROP",
                  "REJECT": "REJECT"}


class Item(object):
    """One zone or policy of the task: ``kind`` "zone" or "policy", ``where`` the option path
    for messages, ``wanted`` {firewalld key: value} of the element sets it gives."""

    def __init__(self, kind, where, name, state, mode, wanted, fields):
        self.kind = kind
        self.where = where
        self.name = name
        self.state = state
        self.mode = mode
        self.wanted = wanted
        self.fields = fields  # firewalld key -> (option, kind)


def _ranges(values):
    """``(port, protocol)`` pairs with overlapping ranges of a protocol merged (as firewalld
    merges them), sorted."""
    by_protocol = {}
    for number, protocol in values:
        low, high = (number.split("-") + [number])[:2]
        by_protocol.setdefault(protocol, []).append((int(low), int(high or low)))
    merged = []
    for protocol in sorted(by_protocol):
        spans = []
        for low, high in sorted(by_protocol[protocol]):
            if spans and low <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], high)
            else:
                spans.append([low, high])
        merged.extend(("%d" % low if low == high else "%d-%d" % (low, high), protocol)
                      for low, high in spans)
    return merged


_RULE_TOKEN = re.compile(r"""\s*(?:([A-Za-z_-]+)=(?:"([^"]*)"|'([^']*)'|(\S+))|(\S+))""")


def rich_rule(value, field):
    """A rich rule in firewalld's own spelling (attributes in double quotes, one space apart),
    so that a rule compares equal to the one firewalld lists."""
    vocabulary.text(value, field, 4096)
    words = []
    position = 0
    value = value.strip()
    while position < len(value):
        found = _RULE_TOKEN.match(value, position)
        if not found or found.end() == position:
            raise vocabulary.InvalidValue(field, value, "is not a rich rule")
        key, double, single, bare, word = found.groups()
        if key:
            attribute = next(part for part in (double, single, bare) if part is not None)
            words.append('%s="%s"' % (key, attribute))
        else:
            words.append(word)
        position = found.end()
    if not words or words[0] != "rule":
        raise vocabulary.InvalidValue(field, value, "is not a rich rule (it starts with 'rule')")
    return " ".join(words)


def _forward(value, field):
    if not isinstance(value, dict) or not value.get("port") or not value.get("protocol"):
        raise vocabulary.InvalidValue(field, value, "is not a forward port (port, protocol, "
                                                    "to_port and/or to_addr)")
    port = vocabulary.port_range(value["port"], field + ".port")
    protocol = vocabulary.one_of(value["protocol"], field + ".protocol",
                                 ("tcp", "udp", "sctp", "dccp"))
    to_port = value.get("to_port")
    to_addr = value.get("to_addr")
    if not to_port and not to_addr:
        raise vocabulary.InvalidValue(field, value, "needs to_port or to_addr")
    to_port = vocabulary.port_range(to_port, field + ".to_port") if to_port else ""
    to_addr = vocabulary.ip_address(to_addr, field + ".to_addr") if to_addr else ""
    return (port, protocol, to_port, to_addr)


def check_value(kind, value, field, check=None, targets=None):
    """One option's value in firewalld's shape (lists without duplicates, in order)."""
    if kind == BOOL:
        return bool(value)
    if kind == PRIORITY:
        if isinstance(value, bool) or not isinstance(value, int) or not -32768 <= value <= 32767 \
                or value == 0:
            raise vocabulary.InvalidValue(field, value, "is not a policy priority "
                                                        "(-32768..32767, not 0)")
        return value
    if kind == TARGET:
        return targets[vocabulary.one_of(value, field, sorted(targets))]
    shaped = []
    for index, element in enumerate(value):
        where = "%s[%d]" % (field, index)
        if kind == NAMES:
            element = check(element, where)
        elif kind == PORTS:
            vocabulary.port_protocol(element, where)
            element = tuple(element.split("/"))
        elif kind == FORWARDS:
            element = _forward(element, where)
        else:
            element = rich_rule(element, where)
        if element not in shaped:
            shaped.append(element)
    return _ranges(shaped) if kind == PORTS else shaped


def items_from(params):
    """The zones and policies of the module's options, checked; InvalidValue names the
    field."""
    items = []
    for kind, option, fields, targets in (("zone", "zones", ZONE_FIELDS, ZONE_TARGETS),
                                          ("policy", "policies", POLICY_FIELDS, POLICY_TARGETS)):
        names = set()
        for index, spec in enumerate(params.get(option) or []):
            where = "%s[%d]" % (option, index)
            name = vocabulary.firewalld_name(spec["name"], where + ".name")
            if name in names:
                raise vocabulary.InvalidValue(where + ".name", name, "is listed twice")
            names.add(name)
            wanted = {}
            for field, key, field_kind, check in fields:
                if spec.get(field) is not None:
                    wanted[key] = check_value(field_kind, spec[field], "%s.%s" % (where, field),
                                              check, targets)
            items.append(Item(kind, where, name, spec.get("state") or "present",
                              spec.get("mode") or "merge", wanted,
                              dict((entry[1], (entry[0], entry[2])) for entry in fields)))
    return items


def shaped(kind, value):
    """A value read over DBus in the shape check_value gives (structs as tuples)."""
    if kind in (PORTS, FORWARDS):
        return [tuple(element) for element in value]
    if kind in (NAMES, RULES):
        return list(value)
    return value


def desired(kind, mode, current, wanted):
    """What an element set becomes: ``exact`` the wanted one; ``merge`` the current one plus
    the wanted elements (a forward port replaces the one of the same port and protocol, port
    ranges merge)."""
    if kind not in (NAMES, PORTS, FORWARDS, RULES) or mode == "exact":
        return wanted
    if kind == FORWARDS:
        keys = set(element[:2] for element in wanted)
        return [element for element in current if element[:2] not in keys] + wanted
    combined = current + [element for element in wanted if element not in current]
    return _ranges(combined) if kind == PORTS else combined


def same(kind, current, wanted):
    if kind in (NAMES, PORTS, FORWARDS, RULES):
        return set(current) == set(wanted) and len(set(wanted)) == len(wanted)
    return current == wanted


def shown(kind, value):
    """An element set as one line of --diff."""
    if kind == PORTS:
        return ", ".join("%s/%s" % element for element in value)
    if kind == FORWARDS:
        return ", ".join("port=%s:proto=%s:toport=%s:toaddr=%s" % element for element in value)
    if kind in (NAMES, RULES):
        return ", ".join(value)
    return str(value).lower() if kind == BOOL else str(value)
