# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt network filters (nwfilter XML): filters, their rules and references, and the
variables a binding gives them."""

import os
import re
from xml.etree import ElementTree

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

ACTIONS = ("drop", "reject", "accept", "return", "continue")
DIRECTIONS = ("in", "out", "inout")
# Protocol elements, by the tool that implements them.
EBTABLES_PROTOCOLS = ("mac", "vlan", "stp", "arp", "rarp", "ip", "ipv6")
IPTABLES_PROTOCOLS = ("tcp", "udp", "udplite", "esp", "ah", "sctp", "icmp", "igmp", "all")
IP6TABLES_PROTOCOLS = ("tcp-ipv6", "udp-ipv6", "udplite-ipv6", "esp-ipv6", "ah-ipv6",
                       "sctp-ipv6", "icmpv6", "all-ipv6")
PROTOCOLS = EBTABLES_PROTOCOLS + IPTABLES_PROTOCOLS + IP6TABLES_PROTOCOLS
# Default priority of a filter by the prefix of its chain name. libvirt's table has no entry for
# stp, so an stp chain gets 0 (its -810 constant is unused); this matches what libvirt does.
CHAIN_PRIORITIES = {"root": 0, "mac": -800, "vlan": -750, "ipv4": -700, "ipv6": -600,
                    "arp": -500, "rarp": -400}
# Chain name prefixes, in the order libvirt tests them (so "arp..." is not taken for "rarp").
CHAIN_PREFIXES = ("mac", "vlan", "stp", "arp", "rarp", "ipv4", "ipv6")


def chain_kind(chain):
    """"root", or the protocol prefix of a sub-chain name; None for an invalid name."""
    if chain == "root":
        return "root"
    if chain.startswith("root"):
        return None
    for prefix in CHAIN_PREFIXES:
        if chain.startswith(prefix):
            return prefix
    return None


DEFAULT_RULE_PRIORITY = 500
# $NAME, $NAME[N] (a list element), $NAME[@K] (iterator K); libvirt allows spaces inside the
# brackets and ignores what follows them.
_VARIABLE = re.compile(r"^\$([A-Za-z0-9_]+)(?:\[\s*(@?)\s*(\d+)\s*\])?")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


class FilterDefinitionError(ValueError):
    """A filter that cannot be used; the message names the filter and the field."""


class Value(object):
    """An attribute value: a literal, or a variable reference ``$NAME``, ``$NAME[2]`` (an
    index into a list) or ``$NAME[@1]`` (a list walked by iterator 1)."""

    __slots__ = ("text", "variable", "index", "iterator")

    def __init__(self, text):
        self.text = text
        match = _VARIABLE.match(text.strip())
        self.variable = match.group(1) if match else None
        self.index = None
        self.iterator = None
        if match and match.group(3) is not None:
            if match.group(2):
                self.iterator = int(match.group(3))
            else:
                self.index = int(match.group(3))
        elif match:
            self.iterator = 0

    def __repr__(self):
        return "Value(%r)" % self.text


class FilterRule(object):
    __slots__ = ("action", "direction", "priority", "statematch", "protocol", "attributes",
                 "negated", "position")

    def __init__(self, action, direction, priority, statematch, protocol, attributes, negated,
                 position):
        self.action = action
        self.direction = direction
        self.priority = priority
        self.statematch = statematch
        self.protocol = protocol
        self.attributes = attributes  # name -> Value
        self.negated = negated  # match='no' on the protocol element
        self.position = position  # order within its filter

    def variables(self):
        return {value.variable for value in self.attributes.values() if value.variable}


class FilterRef(object):
    __slots__ = ("name", "parameters", "position")

    def __init__(self, name, parameters, position):
        self.name = name
        self.parameters = parameters  # name -> [values]
        self.position = position


class Filter(object):
    """``chain`` is the sub-chain suffix its rules land in ("root": the root chain itself);
    ``priority`` orders that sub-chain among the root chain's rules."""

    def __init__(self, name, chain, priority, entries):
        self.name = name
        self.chain = chain
        self.priority = priority
        self.entries = entries  # FilterRule and FilterRef, in document order


def _number(text, what):
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        raise FilterDefinitionError("%s: %r is not a number" % (what, text))


def parse_filter(text, source="filter XML"):
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise FilterDefinitionError("%s does not parse: %s" % (source, exc))
    if root.tag != "filter":
        raise FilterDefinitionError("%s: the root element is <%s>, not <filter>"
                                    % (source, root.tag))
    name = root.get("name")
    if not name or not _NAME.match(name):
        raise FilterDefinitionError("%s: filter name %r is not valid" % (source, name))
    where = "filter %r" % name
    chain = root.get("chain", "root")
    kind = chain_kind(chain)
    if kind is None or len(chain) > 12 or not _NAME.match(chain):
        raise FilterDefinitionError(
            "%s: chain %r is not root or a name of at most 12 characters starting with one of %s"
            % (where, chain, ", ".join(CHAIN_PREFIXES)))
    if root.get("chain") is None:
        priority = 0  # libvirt ignores a priority without a chain
    elif root.get("priority") is not None:
        priority = _number(root.get("priority"), "%s priority" % where)
        if not -1000 <= priority <= 1000:
            raise FilterDefinitionError("%s: priority %d is not in [-1000, 1000]" % (where, priority))
    else:
        priority = CHAIN_PRIORITIES.get(kind, 0)
    entries = []
    for position, element in enumerate(root):
        if element.tag == "rule":
            entries.append(_parse_rule(element, where, position))
        elif element.tag == "filterref":
            ref = element.get("filter")
            if not ref:
                raise FilterDefinitionError("%s: <filterref> without filter=" % where)
            parameters = {}
            for parameter in element.findall("parameter"):
                field = "%s <filterref filter=%r> parameter" % (where, ref)
                variable = vocabulary.nwfilter_variable(parameter.get("name"), field + " name")
                parameters.setdefault(variable, []).append(
                    vocabulary.nwfilter_value(parameter.get("value"),
                                              "%s %s" % (field, variable)))
            entries.append(FilterRef(ref, parameters, position))
        elif element.tag not in ("uuid",) and isinstance(element.tag, str):
            raise FilterDefinitionError("%s: unknown element <%s>" % (where, element.tag))
    return Filter(name, chain, priority, entries)


def _parse_rule(element, where, position):
    action = element.get("action")
    direction = element.get("direction")
    if action not in ACTIONS:
        raise FilterDefinitionError("%s: rule action %r is not one of %s"
                                    % (where, action, ", ".join(ACTIONS)))
    if direction not in DIRECTIONS:
        raise FilterDefinitionError("%s: rule direction %r is not one of %s"
                                    % (where, direction, ", ".join(DIRECTIONS)))
    try:
        priority = int(element.get("priority", str(DEFAULT_RULE_PRIORITY)), 0)
    except ValueError:
        priority = DEFAULT_RULE_PRIORITY  # libvirt silently takes the default
    if not -1000 <= priority <= 1000:
        priority = DEFAULT_RULE_PRIORITY
    statematch = element.get("statematch", "true").lower() not in ("0", "false")
    protocols = [child for child in element if isinstance(child.tag, str)]
    if len(protocols) > 1:
        raise FilterDefinitionError("%s: a rule holds one protocol element, not %s"
                                    % (where, ", ".join(child.tag for child in protocols)))
    if not protocols:
        return FilterRule(action, direction, priority, statematch, None, {}, False, position)
    protocol = protocols[0]
    if protocol.tag not in PROTOCOLS:
        raise FilterDefinitionError("%s: protocol <%s> is not one of %s"
                                    % (where, protocol.tag, ", ".join(PROTOCOLS)))
    attributes = {key: Value(value) for key, value in protocol.attrib.items() if key != "match"}
    negated = protocol.get("match", "yes").lower() in ("no", "0", "false")
    return FilterRule(action, direction, priority, statematch, protocol.tag, attributes,
                      negated, position)


class FilterSet(object):
    """Filters by name: a directory of definitions (libvirt's) plus given ones."""

    def __init__(self):
        self.filters = {}

    def add(self, definition):
        self.filters[definition.name] = definition

    def load_directory(self, path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".xml"):
                with open(os.path.join(path, name)) as handle:
                    self.add(parse_filter(handle.read(), os.path.join(path, name)))

    def reached(self, name, trail):
        """The definition of filter ``name``, reached from the filters in ``trail`` (the
        references that lead to it), and the trail through it; a reference loop is refused."""
        through = tuple(trail) + (name,)
        if name in trail:
            raise FilterDefinitionError("filter reference loop: %s" % " -> ".join(through))
        return self.get(name, trail), through

    def get(self, name, chain_of_references=()):
        try:
            return self.filters[name]
        except KeyError:
            trail = " (referenced by %s)" % " -> ".join(chain_of_references) if chain_of_references else ""
            raise FilterDefinitionError("filter %r is not defined%s" % (name, trail))
