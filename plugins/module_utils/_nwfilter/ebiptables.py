# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands of libvirt's "ebiptables" network-filter driver for one interface: the rules a
filter tree expands to, in libvirt's spelling and order (ebtables in the nat table; iptables and
ip6tables in FJ-/FP-/HJ- chains), and the chains that hold them.

Temporary chain names are used, as libvirt builds new rules beside the old ones: ebtables
``libvirt-J-IF`` / ``libvirt-P-IF`` and sub-chains ``J-IF-SUFFIX`` / ``P-IF-SUFFIX`` (final:
I and O); iptables ``FJ-IF``, ``FP-IF``, ``HJ-IF`` (final: FI, FO, HI).
"""

import itertools

from ansible_collections.virtkit.host.plugins.module_utils._nwfilter import values as V
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    EBTABLES_PROTOCOLS,
    IP6TABLES_PROTOCOLS,
    FilterDefinitionError,
    FilterRef,
    chain_kind,
)

# Attribute order per protocol: the order in which libvirt walks variables (iteration order).
_ETH = ("srcmacaddr", "srcmacmask", "dstmacaddr", "dstmacmask")
_L3 = ("srcmacaddr", "srcipaddr", "srcipmask", "dstipaddr", "dstipmask", "srcipfrom", "srcipto",
       "dstipfrom", "dstipto", "dscp", "connlimit-above", "state", "ipset", "ipsetflags")
_PORTS = ("srcportstart", "srcportend", "dstportstart", "dstportend")
ATTRIBUTE_ORDER = {
    "mac": _ETH + ("protocolid", "comment"),
    "vlan": _ETH + ("vlanid", "encap-protocol", "comment"),
    "stp": ("srcmacaddr", "srcmacmask", "type", "flags", "root-priority", "root-priority-hi",
            "root-address", "root-address-mask", "root-cost", "root-cost-hi", "sender-priority",
            "sender-priority-hi", "sender-address", "sender-address-mask", "port", "port-hi",
            "age", "age-hi", "max-age", "max-age-hi", "hello-time", "hello-time-hi",
            "forward-delay", "forward-delay-hi", "comment"),
    "arp": _ETH + ("hwtype", "protocoltype", "opcode", "arpsrcmacaddr", "arpdstmacaddr",
                   "arpsrcipaddr", "arpsrcipmask", "arpdstipaddr", "arpdstipmask", "gratuitous",
                   "comment"),
    "ip": _ETH + ("srcipaddr", "srcipmask", "dstipaddr", "dstipmask", "protocol") + _PORTS
    + ("dscp", "comment"),
    "ipv6": _ETH + ("srcipaddr", "srcipmask", "dstipaddr", "dstipmask", "protocol") + _PORTS
    + ("type", "typeend", "code", "codeend", "comment"),
    "tcp": _L3 + _PORTS + ("option", "flags", "comment"),
    "tcp-ipv6": _L3 + _PORTS + ("option", "comment"),
    "udp": _L3 + _PORTS + ("comment",),
    "sctp": _L3 + _PORTS + ("comment",),
    "icmp": _L3 + ("type", "code", "comment"),
}
ATTRIBUTE_ORDER["rarp"] = ATTRIBUTE_ORDER["arp"]
for _name in ("udp-ipv6", "sctp-ipv6"):
    ATTRIBUTE_ORDER[_name] = ATTRIBUTE_ORDER["udp"]
ATTRIBUTE_ORDER["icmpv6"] = ATTRIBUTE_ORDER["icmp"]
for _name in ("udplite", "esp", "ah", "all", "igmp", "udplite-ipv6", "esp-ipv6", "ah-ipv6",
              "all-ipv6"):
    ATTRIBUTE_ORDER[_name] = _L3 + ("comment",)
ATTRIBUTE_ORDER[None] = ()

EBTABLES_TARGETS = {"accept": "ACCEPT", "drop": "DROP", "reject": "DROP", "return": "RETURN",
                    "continue": "CONTINUE"}
IPTABLES_TARGETS = {"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT", "return": "RETURN"}
SUBCHAIN_ETHERTYPE = {"ipv4": 0x0800, "ipv6": 0x86dd, "arp": 0x0806, "rarp": 0x8035,
                      "vlan": 0x8100}
STP_DESTINATION = "01:80:c2:00:00:00"


class Instance(object):
    """One rule of the expanded tree, with the chain of the filter that holds it."""

    __slots__ = ("rule", "suffix", "chain_priority", "priority", "variables", "order")

    def __init__(self, rule, suffix, chain_priority, variables, order):
        self.rule = rule
        self.suffix = suffix
        self.chain_priority = chain_priority
        self.priority = rule.priority
        self.variables = variables
        self.order = order

    @property
    def is_ethernet(self):
        return self.rule.protocol is None or self.rule.protocol in EBTABLES_PROTOCOLS


def expand(filters, name, variables, _trail=()):
    """The rule instances of filter ``name`` and what it references, depth first."""
    definition, trail = filters.reached(name, _trail)
    found = []
    for entry in definition.entries:
        if isinstance(entry, FilterRef):
            scope = dict(entry.parameters)
            scope.update(variables)  # the caller's values win over the reference's parameters
            found.extend(expand(filters, entry.name, scope, trail))
        else:
            found.append(Instance(entry, definition.chain, definition.priority, variables, 0))
    return found


def ordered(instances):
    """Root-chain rules first, then by priority (stable); then a sub-chain rule whose priority
    is below its chain's priority is lifted to it (without sorting again)."""
    for order, instance in enumerate(instances):
        instance.order = order
    result = sorted(instances, key=lambda i: (i.suffix != "root", i.rule.priority, i.order))
    for instance in result:
        instance.priority = instance.rule.priority
        if instance.suffix != "root" and instance.priority < instance.chain_priority:
            instance.priority = instance.chain_priority
    return result


class Attributes(object):
    """One combination of a rule's attribute values: ``get`` returns (text, from_variable,
    negated) or None."""

    def __init__(self, rule, bound):
        self.rule = rule
        self.bound = bound  # attribute name -> text of the variable's value

    def get(self, name):
        value = self.rule.attributes.get(name)
        if value is None:
            return None
        negated = self.rule.negated
        if name in self.bound:
            return self.bound[name], True, negated
        return value.text, False, negated


def combinations(instance, where):
    """The variable bindings of a rule, in libvirt's order: iterators walked as an odometer
    (iterator @0 fastest), variables of one iterator in parallel, repeated tuples skipped."""
    rule = instance.rule
    accesses = []  # (attribute, Value) in attribute-table order
    for name in ATTRIBUTE_ORDER.get(rule.protocol, ()):
        value = rule.attributes.get(name)
        if value is not None and value.variable is not None:
            accesses.append((name, value))
    if not accesses:
        return [{}]
    iterators = {}  # iterator id -> [(variable name)], in order of first use
    constants = {}
    for name, value in accesses:
        values = instance.variables.get(value.variable)
        if values is None:
            raise FilterDefinitionError("%s: variable %s has no value" % (where, value.variable))
        if value.index is not None:
            if value.index >= len(values):
                raise FilterDefinitionError("%s: $%s[%d] is past the end of its %d value(s)"
                                            % (where, value.variable, value.index, len(values)))
            constants[name] = values[value.index]
        else:
            members = iterators.setdefault(value.iterator, [])
            if value.variable not in members:
                members.append(value.variable)
    slots = []
    for iterator in sorted(iterators, key=lambda key: (key != 0, list(iterators).index(key))):
        names = iterators[iterator]
        lengths = {len(instance.variables[n]) for n in names}
        if len(lengths) > 1:
            raise FilterDefinitionError(
                "%s: the lists %s are walked together but have different lengths"
                % (where, ", ".join("$" + n for n in names)))
        rows = []
        for index in range(lengths.pop()):
            row = tuple(instance.variables[n][index] for n in names)
            if row not in rows:
                rows.append(row)
        slots.append((names, iterator, rows))
    results = []
    # itertools.product varies its last argument fastest: give it the slots reversed.
    for picked in itertools.product(*[rows for _names, _iterator, rows in reversed(slots)]):
        chosen = {}
        for (names, iterator, _rows), row in zip(reversed(slots), picked):
            for variable, text in zip(names, row):
                chosen[(variable, iterator)] = text
        bound = dict(constants)
        for name, value in accesses:
            if value.index is None:
                bound[name] = chosen[(value.variable, value.iterator)]
        results.append(bound)
    return results


class _Values(object):
    """Formatting of one combination's attributes: literals as libvirt prints them, values from
    variables verbatim."""

    def __init__(self, rule, bound, where):
        self.rule = rule
        self.bound = bound
        self.where = where

    def has(self, name):
        return name in self.rule.attributes

    def negated(self, name):
        return self.has(name) and self.rule.negated

    def raw(self, name):
        if name in self.bound:
            return self.bound[name], True
        return self.rule.attributes[name].text, False

    def text(self, name, literal):
        """``literal(text, where)`` formats a literal; a variable's value stays as given."""
        value, from_variable = self.raw(name)
        return value if from_variable else literal(value, "%s %s" % (self.where, name))

    def mac(self, name):
        return self.text(name, V.mac)

    def number(self, name, bits, names=None, fmt="%d"):
        value, from_variable = self.raw(name)
        if from_variable:
            return value
        where = "%s %s" % (self.where, name)
        parsed = V.named_number(value, names, bits, where) if names else V.number(value, bits, where)
        return fmt % parsed

    def address(self, name, family):
        return self.text(name, V.ipv4 if family == 4 else V.ipv6)

    def prefix(self, name, family):
        return self.text(name, lambda text, where: str(V.prefix(text, family, where)))


def _mac_with_mask(values, address, mask):
    text = values.mac(address)
    if values.has(mask):
        text += "/" + values.mac(mask)
    return text


def _range(values, start, end, bits=16):
    text = values.number(start, bits)
    if values.has(end):
        text += ":" + values.number(end, bits)
    return text


def ebtables_matches(instance, values, reverse):
    """The match options of one ebtables rule (``reverse``: source and destination swapped)."""
    rule = instance.rule
    protocol = rule.protocol
    words = []

    def option(name, value, negated):
        words.extend([name, "!", value] if negated else [name, value])

    source, destination = ("-d", "-s") if reverse else ("-s", "-d")
    if protocol is None:
        return words
    if protocol == "stp":
        if reverse and values.has("srcmacaddr"):
            raise FilterDefinitionError("%s: an stp rule with srcmacaddr cannot be inout"
                                        % values.where)
        if values.has("srcmacaddr"):
            option("-s", _mac_with_mask(values, "srcmacaddr", "srcmacmask"),
                   values.negated("srcmacaddr"))
        words.extend(["-d", STP_DESTINATION])
        _stp(values, option)
        return words
    if values.has("srcmacaddr"):
        option(source, _mac_with_mask(values, "srcmacaddr", "srcmacmask"),
               values.negated("srcmacaddr"))
    if values.has("dstmacaddr"):
        option(destination, _mac_with_mask(values, "dstmacaddr", "dstmacmask"),
               values.negated("dstmacaddr"))
    if protocol == "mac":
        if values.has("protocolid"):
            option("-p", values.number("protocolid", 16, V.ETHER_NAMES, "0x%x"),
                   values.negated("protocolid"))
    elif protocol == "vlan":
        words.extend(["-p", "0x8100"])
        if values.has("vlanid"):
            option("--vlan-id", values.number("vlanid", 16), values.negated("vlanid"))
        if values.has("encap-protocol"):
            option("--vlan-encap", values.number("encap-protocol", 16, V.ETHER_NAMES),
                   values.negated("encap-protocol"))
    elif protocol in ("arp", "rarp"):
        _arp(values, option, words, protocol, reverse)
    elif protocol in ("ip", "ipv6"):
        _ip(values, option, words, protocol, reverse)
    return words


def _stp(values, option):
    fields = (("type", "--stp-type", None, 8), ("flags", "--stp-flags", None, 8),
              ("root-priority", "--stp-root-pri", "root-priority-hi", 16),
              ("root-address", "--stp-root-addr", "root-address-mask", None),
              ("root-cost", "--stp-root-cost", "root-cost-hi", 32),
              ("sender-priority", "--stp-sender-prio", "sender-priority-hi", 16),
              ("sender-address", "--stp-sender-addr", "sender-address-mask", None),
              ("port", "--stp-port", "port-hi", 16), ("age", "--stp-msg-age", "age-hi", 16),
              ("max-age", "--stp-max-age", "max-age-hi", 16),
              ("hello-time", "--stp-hello-time", "hello-time-hi", 16),
              ("forward-delay", "--stp-forward-delay", "forward-delay-hi", 16))
    for name, flag, second, bits in fields:
        if not values.has(name):
            continue
        if bits is None:
            text = _mac_with_mask(values, name, second)
        else:
            text = values.number(name, bits)
            if second and values.has(second):
                text += ":" + values.number(second, bits)
        option(flag, text, values.negated(name))


def _arp(values, option, words, protocol, reverse):
    words.extend(["-p", "0x806" if protocol == "arp" else "0x8035"])
    if values.has("hwtype"):
        option("--arp-htype", values.number("hwtype", 16), values.negated("hwtype"))
    if values.has("opcode"):
        option("--arp-opcode", values.number("opcode", 16, V.ARP_OPCODES),
               values.negated("opcode"))
    if values.has("protocoltype"):
        option("--arp-ptype", values.number("protocoltype", 16, fmt="0x%x"),
               values.negated("protocoltype"))
    ip_src, ip_dst = ("--arp-ip-dst", "--arp-ip-src") if reverse else ("--arp-ip-src", "--arp-ip-dst")
    mac_src, mac_dst = (("--arp-mac-dst", "--arp-mac-src") if reverse
                        else ("--arp-mac-src", "--arp-mac-dst"))
    source_mask = values.prefix("arpsrcipmask", 4) if values.has("arpsrcipmask") else "32"
    if values.has("arpsrcipaddr"):
        option(ip_src, values.address("arpsrcipaddr", 4) + "/" + source_mask,
               values.negated("arpsrcipaddr"))
    if values.has("arpdstipaddr"):
        # libvirt reuses the source mask when the destination has none.
        mask = values.prefix("arpdstipmask", 4) if values.has("arpdstipmask") else source_mask
        option(ip_dst, values.address("arpdstipaddr", 4) + "/" + mask,
               values.negated("arpdstipaddr"))
    if values.has("arpsrcmacaddr"):
        option(mac_src, values.mac("arpsrcmacaddr"), values.negated("arpsrcmacaddr"))
    if values.has("arpdstmacaddr"):
        option(mac_dst, values.mac("arpdstmacaddr"), values.negated("arpdstmacaddr"))
    if values.has("gratuitous") and values.raw("gratuitous")[0].strip().lower() in (
            "true", "1", "yes"):
        if values.negated("gratuitous"):
            words.append("!")
        words.append("--arp-gratuitous")


def _ip(values, option, words, protocol, reverse):
    family = 4 if protocol == "ip" else 6
    tag = "ip" if family == 4 else "ip6"
    words.extend(["-p", "ipv4" if family == 4 else "ipv6"])
    names = {"source": "--%s-source" % tag, "destination": "--%s-destination" % tag,
             "sport": "--%s-source-port" % tag, "dport": "--%s-destination-port" % tag}
    if reverse:
        names.update(source=names["destination"], destination=names["source"],
                     sport=names["dport"], dport=names["sport"])
    for address, mask, flag in (("srcipaddr", "srcipmask", names["source"]),
                                ("dstipaddr", "dstipmask", names["destination"])):
        if values.has(address):
            text = values.address(address, family)
            if values.has(mask):
                text += "/" + values.prefix(mask, family)
            option(flag, text, values.negated(address))
    if values.has("protocol"):
        option("--%s-protocol" % tag, values.number("protocol", 8, V.IP_PROTOCOL_NAMES),
               values.negated("protocol"))
    for start, end, flag in (("srcportstart", "srcportend", names["sport"]),
                             ("dstportstart", "dstportend", names["dport"])):
        if values.has(start):
            option(flag, _range(values, start, end), values.negated(start))
    if family == 4 and values.has("dscp"):
        option("--ip-tos", values.number("dscp", 8, fmt="0x%x"), values.negated("dscp"))
    if family == 6 and any(values.has(n) for n in ("type", "typeend", "code", "codeend")):
        def bound(name, default):
            return values.number(name, 8) if values.has(name) else default
        low_type = bound("type", "0")
        high_type = bound("typeend", low_type if values.has("type") else "255")
        low_code = bound("code", "0")
        high_code = bound("codeend", low_code if values.has("code") else "255")
        option("--ip6-icmp-type", "%s:%s/%s:%s" % (low_type, high_type, low_code, high_code),
               values.negated("type"))


# iptables ---------------------------------------------------------------------------------

def iptables_commands(instance, values, interface):
    """(tool, argv after the tool) for the FJ, FP and HJ commands of one rule combination."""
    rule = instance.rule
    protocol = rule.protocol
    ipv6 = protocol in IP6TABLES_PROTOCOLS
    name = protocol[:-len("-ipv6")] if protocol.endswith("-ipv6") else protocol
    explicit_state = values.has("state") and rule.statematch
    icmp_type = name in ("icmp", "icmpv6") and values.has("type")
    commands = []
    for chain, reversed_ in (("FJ", rule.direction in ("in", "inout")),
                             ("FP", rule.direction == "out"),
                             ("HJ", rule.direction in ("in", "inout"))):
        if explicit_state and not _explicit_state_applies(chain, rule.direction):
            continue
        if icmp_type and _icmp_type_skips(chain, rule.direction):
            continue
        words = _iptables_rule(instance, values, name, reversed_, explicit_state, icmp_type)
        if words is not None and rule.action == "accept" and chain != "FP" and words[-2] == "-j":
            # From the VM, an accepted packet returns to libvirt's chains for the rest of them.
            words[-1] = "RETURN"
        if words is not None:
            commands.append(("ip6tables" if ipv6 else "iptables",
                             ["-A", "%s-%s" % (chain, interface)] + words))
    return commands


def _explicit_state_applies(chain, direction):
    if direction == "inout":
        return True
    return (chain != "FP") if direction == "out" else (chain == "FP")


def _icmp_type_skips(chain, direction):
    """An ICMP type is one-directional: the reverse chains do not get the rule. libvirt also
    drops both sides of an inout rule, so the rule vanishes; here an inout rule keeps both
    directions (documented difference)."""
    if direction == "inout":
        return False
    if chain == "FP":
        return direction == "out"
    return direction == "in"


def _iptables_rule(instance, values, name, reversed_, explicit_state, icmp_type):
    rule = instance.rule
    words = ["-p", name]
    start = len(words)
    if values.has("srcmacaddr") and not reversed_:
        words.extend(["-m", "mac"] + (["!"] if values.negated("srcmacaddr") else [])
                     + ["--mac-source", values.mac("srcmacaddr")])
    family = 6 if rule.protocol in IP6TABLES_PROTOCOLS else 4
    source, destination = ("--destination", "--source") if reversed_ else ("--source", "--destination")
    src_range, dst_range = ("--dst-range", "--src-range") if reversed_ else ("--src-range", "--dst-range")
    for address, mask, flag, frm, to, range_flag in (
            ("srcipaddr", "srcipmask", source, "srcipfrom", "srcipto", src_range),
            ("dstipaddr", "dstipmask", destination, "dstipfrom", "dstipto", dst_range)):
        if values.has(address):
            text = values.address(address, family)
            if values.has(mask):
                text += "/" + values.prefix(mask, family)
            words.extend((["!"] if values.negated(address) else []) + [flag, text])
        elif values.has(frm):
            text = values.address(frm, family)
            if values.has(to):
                text += "-" + values.address(to, 4 if to == "dstipto" else family)
            words.extend(["-m", "iprange"] + (["!"] if values.negated(frm) else [])
                         + [range_flag, text])
    if values.has("dscp"):
        words.extend(["-m", "dscp"] + (["!"] if values.negated("dscp") else [])
                     + ["--dscp", values.number("dscp", 8)])
    if name == "tcp" and values.has("flags"):
        mask, comp = V.tcp_flags(values.raw("flags")[0], "%s flags" % values.where)
        words.extend((["!"] if values.negated("flags") else []) + ["--tcp-flags", mask, comp])
    if name in ("tcp", "udp", "sctp"):
        sport, dport = ("--dport", "--sport") if reversed_ else ("--sport", "--dport")
        # libvirt copies the negation of srcportstart onto dstportstart, so a negated
        # destination port without a source port loses its "!": here each keeps its own.
        if values.has("srcportstart"):
            words.extend((["!"] if values.negated("srcportstart") else [])
                         + [sport, _range(values, "srcportstart", "srcportend")])
        if values.has("dstportstart"):
            words.extend((["!"] if values.negated("dstportstart") else [])
                         + [dport, _range(values, "dstportstart", "dstportend")])
    if name == "tcp" and values.has("option"):
        words.extend((["!"] if values.negated("option") else [])
                     + ["--tcp-option", values.number("option", 8)])
    if icmp_type:
        text = values.number("type", 8)
        if values.has("code"):
            text += "/" + values.number("code", 8)
        words.extend((["!"] if values.negated("type") else [])
                     + ["--icmpv6-type" if name == "icmpv6" else "--icmp-type", text])
    # A command that would only match the (dropped) source MAC says nothing: libvirt omits it.
    if reversed_ and values.has("srcmacaddr") and len(words) == start:
        return None
    connlimit = values.has("connlimit-above")
    if connlimit and reversed_:
        return None
    if explicit_state:
        state = values.raw("state")[0]
        state = state if values.raw("state")[1] else V.states(state, "%s state" % values.where)
        if state != "NONE" and not connlimit:
            words.extend(["-m", "conntrack", "--ctstate", state])
    elif (rule.statematch and rule.direction != "inout" and rule.action == "accept"
          and not connlimit):
        words.extend(["-m", "conntrack", "--ctstate",
                      "ESTABLISHED" if reversed_ else "NEW,ESTABLISHED"])
        if not icmp_type:
            words.extend(["-m", "conntrack", "--ctdir", "Reply" if reversed_ else "Original"])
    if values.has("ipset") and values.has("ipsetflags") and name == "all":
        flags = values.raw("ipsetflags")[0]
        if reversed_:
            flags = ",".join({"src": "dst", "dst": "src"}.get(f, f) for f in flags.split(","))
        words.extend(["-m", "set", "--match-set", values.raw("ipset")[0], flags])
    if connlimit:
        words.extend(["-m", "connlimit"] + (["!"] if values.negated("connlimit-above") else [])
                     + ["--connlimit-above", values.number("connlimit-above", 16)])
    if values.has("comment"):
        words.extend(["-m", "comment", "--comment", values.raw("comment")[0][:256]])
    if rule.action == "continue":
        # iptables has no CONTINUE target (libvirt passes one and the binding fails); a rule
        # without a target is iptables' way to match and go on.
        return words
    words.extend(["-j", IPTABLES_TARGETS[rule.action]])
    return words


# Building a binding --------------------------------------------------------------------------

def _root(direction, interface):
    return "libvirt-%s-%s" % (direction, interface)


def _subchain(direction, interface, suffix):
    return "%s-%s-%s" % (direction, interface, suffix)


def _ebtables(args, ignore=False):
    return ("ebtables", ("-t", "nat") + tuple(args), ignore)


def new_rules(filters, filter_name, interface, variables):
    """libvirt's applyNewRules for ``interface``: [(tool, args, ignore_errors)], tool one of
    ebtables (args start with -t nat), iptables, ip6tables; lock options left out."""
    instances = ordered(expand(filters, filter_name, variables))
    ethernet = [i for i in instances if i.is_ethernet]
    ipv4 = [i for i in instances if not i.is_ethernet and i.rule.protocol not in IP6TABLES_PROTOCOLS]
    ipv6 = [i for i in instances if i.rule.protocol in IP6TABLES_PROTOCOLS]
    commands = []
    uses_in = any(i.rule.direction in ("out", "inout") for i in ethernet)  # J: from the VM
    uses_out = any(i.rule.direction in ("in", "inout") for i in ethernet)  # P: to the VM
    if ethernet:
        if uses_in:
            commands.append(_ebtables(("-N", _root("J", interface))))
        if uses_out:
            commands.append(_ebtables(("-N", _root("P", interface))))
        pending = _subchains(ethernet)
        for instance in ethernet:
            while pending and pending[0][2] <= instance.priority:
                commands.extend(_create_subchain(interface, *pending.pop(0)))
            commands.extend(_ebtables_rule_commands(instance, interface))
        for entry in pending:
            commands.extend(_create_subchain(interface, *entry))
    for tool, group in (("iptables", ipv4), ("ip6tables", ipv6)):
        if group:
            commands.extend(_iptables_setup(tool, interface))
            for instance in group:
                where = "rule %s/%s" % (instance.rule.protocol, instance.rule.action)
                for bound in combinations(instance, where):
                    values = _Values(instance.rule, bound, where)
                    commands.extend((tool, tuple(args), False)
                                    for tool, args in iptables_commands(instance, values, interface))
    if uses_in:
        commands.append(_ebtables(("-A", "PREROUTING", "-i", interface, "-j",
                                   _root("J", interface))))
    if uses_out:
        commands.append(_ebtables(("-A", "POSTROUTING", "-o", interface, "-j",
                                   _root("P", interface))))
    return commands


def _subchains(ethernet):
    """(direction letter, suffix, priority) of every sub-chain, in creation order."""
    into, out = {}, {}
    for instance in ethernet:
        if instance.suffix == "root" or chain_kind(instance.suffix) in (None, "root"):
            continue
        if instance.rule.direction in ("out", "inout"):
            into[instance.suffix] = instance.chain_priority
        if instance.rule.direction in ("in", "inout"):
            out[instance.suffix] = instance.chain_priority
    listed = ([("J", suffix, priority) for suffix, priority in sorted(into.items(), key=lambda kv: kv[1])]
              + [("P", suffix, priority) for suffix, priority in sorted(out.items(), key=lambda kv: kv[1])])
    return sorted(listed, key=lambda entry: entry[2])


def _create_subchain(interface, direction, suffix, _priority):
    name = _subchain(direction, interface, suffix)
    kind = chain_kind(suffix)
    if kind == "mac":
        match = ()
    elif kind == "stp":
        match = ("-d", STP_DESTINATION)
    else:
        match = ("-p", "0x%04x" % SUBCHAIN_ETHERTYPE[kind])
    return [_ebtables(("-F", name), True), _ebtables(("-X", name), True),
            _ebtables(("-N", name)),
            _ebtables(("-A", _root(direction, interface)) + match + ("-j", name))]


def _ebtables_rule_commands(instance, interface):
    rule = instance.rule
    where = "rule %s/%s" % (rule.protocol or "(any)", rule.action)
    commands = []
    for bound in combinations(instance, where):
        values = _Values(rule, bound, where)
        for direction, reverse in (("J", rule.direction == "inout"), ("P", False)):
            if direction == "J" and rule.direction == "in":
                continue
            if direction == "P" and rule.direction == "out":
                continue
            chain = (_root(direction, interface) if instance.suffix == "root"
                     else _subchain(direction, interface, instance.suffix))
            commands.append(_ebtables(("-A", chain) + tuple(ebtables_matches(instance, values, reverse))
                                      + ("-j", EBTABLES_TARGETS[rule.action])))
    return commands


def _links(interface, letters):
    forward_out, forward_in, host_in = ("%s-%s" % (letter, interface) for letter in letters)
    return [("-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out",
             interface, "-g", forward_out),
            ("-D", "libvirt-out", "-m", "physdev", "--physdev-out", interface, "-g", forward_out),
            ("-D", "libvirt-in", "-m", "physdev", "--physdev-in", interface, "-g", forward_in),
            ("-D", "libvirt-host-in", "-m", "physdev", "--physdev-in", interface, "-g", host_in)]


def _iptables_setup(tool, interface):
    """libvirt's set-up before the IP rules of an interface: its temporary chains emptied, the
    global chains and their jumps, the temporary chains and their jumps."""
    fp, fj, hj = ("%s-%s" % (letters, interface) for letters in ("FP", "FJ", "HJ"))
    ignored = _links(interface, ("FP", "FJ", "HJ"))
    for chain in (fp, fj, hj):
        ignored += [("-F", chain), ("-X", chain)]
    commands = [(tool, args, True) for args in ignored]
    commands += [(tool, ("-N", chain), True)
                 for chain in ("libvirt-in", "libvirt-out", "libvirt-in-post", "libvirt-host-in")]
    commands += [(tool, ("-D", parent, "-j", chain), True)
                 for parent, chain in (("FORWARD", "libvirt-in"), ("FORWARD", "libvirt-out"),
                                       ("FORWARD", "libvirt-in-post"), ("INPUT", "libvirt-host-in"))]
    commands += [(tool, ("-I", parent, position, "-j", chain), False)
                 for parent, position, chain in (("FORWARD", "1", "libvirt-in"),
                                                 ("FORWARD", "2", "libvirt-out"),
                                                 ("FORWARD", "3", "libvirt-in-post"),
                                                 ("INPUT", "1", "libvirt-host-in"))]
    commands += [(tool, ("-N", chain), False) for chain in (fp, fj, hj)]
    commands += [(tool, ("-A", "libvirt-out", "-m", "physdev", "--physdev-is-bridged",
                         "--physdev-out", interface, "-g", fp), False),
                 (tool, ("-A", "libvirt-in", "-m", "physdev", "--physdev-in", interface,
                         "-g", fj), False),
                 (tool, ("-A", "libvirt-host-in", "-m", "physdev", "--physdev-in", interface,
                         "-g", hj), False),
                 (tool, ("-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", interface,
                         "-j", "ACCEPT"), True),
                 (tool, ("-A", "libvirt-in-post", "-m", "physdev", "--physdev-in", interface,
                         "-j", "ACCEPT"), False)]
    return commands
