# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a binding's parameters where they enter: each name, each value's character set
and, for every place the bound filter tree uses a variable, the type that place takes.

libvirt types its rule attributes (IPADDR, IPV6ADDR, MACADDR, UINT16 for ports, ...) but prints
a variable's value into the commands as given: a value such as ``0.0.0.0/1`` in ``$IP`` would
turn "this guest's address" into "half of IPv4". Here a value is refused unless it is what
every attribute that uses it takes. Values from ``<filterref>`` parameters of the filter
definitions get the same type checks; the error names where the value came from.
"""

import re

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter import values as V
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    IP6TABLES_PROTOCOLS,
    FilterDefinitionError,
    FilterRef,
)

_MACS = ("srcmacaddr", "dstmacaddr", "srcmacmask", "dstmacmask", "arpsrcmacaddr",
         "arpdstmacaddr", "root-address", "root-address-mask", "sender-address",
         "sender-address-mask")
_ADDRESSES = ("srcipaddr", "dstipaddr", "srcipfrom", "srcipto", "dstipfrom", "dstipto",
              "arpsrcipaddr", "arpdstipaddr")
_MASKS = ("srcipmask", "dstipmask", "arpsrcipmask", "arpdstipmask")
_PORTS = ("srcportstart", "srcportend", "dstportstart", "dstportend")
# Unsigned numbers: attribute -> bits (libvirt's UINT8/UINT16/UINT32 attributes).
_NUMBERS = {"dscp": 6, "option": 8, "type": 8, "typeend": 8, "code": 8, "codeend": 8,
            "hwtype": 16, "protocoltype": 16, "vlanid": 12, "connlimit-above": 16,
            "root-priority": 16, "root-priority-hi": 16, "root-cost": 32, "root-cost-hi": 32,
            "sender-priority": 16, "sender-priority-hi": 16, "port": 16, "port-hi": 16,
            "age": 16, "age-hi": 16, "max-age": 16, "max-age-hi": 16, "hello-time": 16,
            "hello-time-hi": 16, "forward-delay": 16, "forward-delay-hi": 16}
# Numbers that may also be given by name: attribute -> (names, bits).
_NAMED = {"protocolid": (V.ETHER_NAMES, 16), "encap-protocol": (V.ETHER_NAMES, 16),
          "opcode": (V.ARP_OPCODES, 16), "protocol": (V.IP_PROTOCOL_NAMES, 8)}
_BOOLEANS = ("true", "false", "yes", "no", "1", "0")
_DECIMAL = re.compile(r"\A[0-9]{1,10}\Z")


def kind(protocol, attribute):
    """What an attribute of a rule of ``protocol`` takes, as a short description the checks
    below know (the type libvirt gives the attribute)."""
    ipv6 = protocol == "ipv6" or protocol in IP6TABLES_PROTOCOLS
    if attribute in _MACS:
        return "mac"
    if attribute in _ADDRESSES:
        return "ipv6" if ipv6 else "ipv4"
    if attribute in _MASKS:
        return "ipv6 mask" if ipv6 else "ipv4 mask"
    if attribute in _PORTS:
        return "port"
    if protocol == "stp" and attribute in ("type", "flags"):
        return "uint8"
    if attribute == "flags":
        return "tcp flags"
    if attribute in _NAMED:
        return "named " + attribute
    if attribute in _NUMBERS:
        return "uint%d" % _NUMBERS[attribute]
    if attribute == "state":
        return "state"
    if attribute == "ipsetflags":
        return "ipset flags"
    if attribute == "ipset":
        return "ipset name"
    if attribute == "gratuitous":
        return "boolean"
    return "string"  # comment: libvirt's character set is all it takes


def check(value, field, what):
    """``value`` (already in libvirt's character set) as the kind ``what``; returns it."""
    if what in ("ipv4", "ipv6", "mac", "port"):
        return vocabulary.nwfilter_value(value, field, what)
    if what.startswith("uint"):
        bits = int(what[4:])
        if not _DECIMAL.match(value) or int(value) >= (1 << bits):
            raise vocabulary.InvalidValue(field, value, "is not a decimal number below %d"
                                          % (1 << bits))
        return value
    if what.endswith(" mask"):
        family = 6 if what.startswith("ipv6") else 4
        try:
            V.prefix(value, family, field)
        except FilterDefinitionError:
            raise vocabulary.InvalidValue(field, value, "is not an IPv%d mask (a prefix length "
                                                        "or a contiguous mask)" % family)
        return value
    if what.startswith("named "):
        names, bits = _NAMED[what[len("named "):]]
        if value.lower() in names or (_DECIMAL.match(value) and int(value) < (1 << bits)):
            return value
        raise vocabulary.InvalidValue(field, value, "is neither a decimal number below %d nor "
                                                    "one of %s" % (1 << bits, ", ".join(names)))
    if what == "state":
        if value.upper() not in V.STATES + ("NONE",):
            raise vocabulary.InvalidValue(field, value, "is not one of %s, NONE"
                                          % ", ".join(V.STATES))
        return value
    if what == "ipset flags":
        if value not in ("src", "dst"):
            raise vocabulary.InvalidValue(field, value, "is not src or dst")
        return value
    if what == "ipset name":
        if len(value) > 31:
            raise vocabulary.InvalidValue(field, value, "is longer than an ipset name (31)")
        return value
    if what == "boolean":
        if value.lower() not in _BOOLEANS:
            raise vocabulary.InvalidValue(field, value, "is not one of %s" % ", ".join(_BOOLEANS))
        return value
    if what == "tcp flags":
        raise vocabulary.InvalidValue(field, value, "cannot be tcp flags (MASK/COMP: a / is not "
                                                    "in a variable's character set)")
    return value


def parameter_values(name, value, field):
    """The values of one parameter (a scalar or a list), each in libvirt's character set.
    ``field`` names the parameter; list elements are named ``field[i]``."""
    vocabulary.nwfilter_variable(name, field.rsplit(".", 1)[0] + " (a parameter name)")
    if isinstance(value, (list, tuple)):
        if not value:
            raise vocabulary.InvalidValue(field, value, "is an empty list (a libvirt variable "
                                                        "has at least one value)")
        return [vocabulary.nwfilter_value(item, "%s[%d]" % (field, index))
                for index, item in enumerate(value)]
    return [vocabulary.nwfilter_value(value, field)]


def uses(filters, name, origins, _trail=()):
    """Where the tree of filter ``name`` uses variables that have an origin:
    [(field, values, what, description of the place)]. ``origins``: variable -> (field,
    values); the caller's variables win over a reference's parameters, as in libvirt."""
    definition, trail = filters.reached(name, _trail)
    found = []
    for entry in definition.entries:
        if isinstance(entry, FilterRef):
            scope = {variable: ("filter %r <filterref filter=%r> parameter %s"
                                % (name, entry.name, variable), values)
                     for variable, values in entry.parameters.items()}
            scope.update(origins)
            found.extend(uses(filters, entry.name, scope, trail))
            continue
        for attribute, value in sorted(entry.attributes.items()):
            if value.variable is not None and value.variable in origins:
                field, values = origins[value.variable]
                where = "filter %r uses it as <%s %s>" % (name, entry.protocol, attribute)
                found.append((field, values, kind(entry.protocol, attribute), where))
    return found


def check_uses(filters, filter_name, origins):
    """Type-check every value the tree of ``filter_name`` uses. ``origins``: variable ->
    (field, [values]) of the binding. Values of ``<filterref>`` parameters are checked where
    they are used too."""
    for field, values, what, where in uses(filters, filter_name, origins):
        for index, value in enumerate(values):
            named = field if len(values) == 1 else "%s[%d]" % (field, index)
            try:
                vocabulary.nwfilter_value(value, named)
                check(value, named, what)
            except vocabulary.InvalidValue as exc:
                raise vocabulary.InvalidValue(exc.field, exc.value, "%s (%s)"
                                              % (exc.reason, where))
