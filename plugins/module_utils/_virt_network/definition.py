# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt virtual network, as far as its firewall is concerned: read from the XML that
``virsh net-dumpxml`` prints, or from the same facts given as options."""

import ipaddress
from xml.etree import ElementTree

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

# The forward modes of a network on a bridge libvirt makes; "open" has no firewall rules.
FORWARD_MODES = ("none", "nat", "route", "open")
# Modes where libvirt uses a bridge or devices it does not manage: no firewall rules, no zone.
UNMANAGED_MODES = ("bridge", "private", "vepa", "passthrough", "hostdev")


class NetworkDefinitionError(ValueError):
    """A network definition that cannot be turned into firewall rules; names the field."""


class NatAddresses(object):
    """``<nat><address start= end=/>``: SNAT to this IPv4 range instead of masquerading."""

    __slots__ = ("start", "end")

    def __init__(self, start, end):
        self.start = start  # ipaddress.IPv4Address
        self.end = end

    def __repr__(self):
        return "NatAddresses(%s-%s)" % (self.start, self.end)


class IPDefinition(object):
    __slots__ = ("network", "has_dhcp", "tftp")

    def __init__(self, network, has_dhcp=False, tftp=False):
        self.network = network  # ipaddress.IPv4Network or IPv6Network
        self.has_dhcp = has_dhcp
        self.tftp = tftp

    @property
    def family(self):
        return self.network.version

    def __repr__(self):
        return "IPDefinition(%s, dhcp=%s, tftp=%s)" % (self.network, self.has_dhcp, self.tftp)


class NetworkDefinition(object):
    """What libvirt's network driver looks at when it builds a network's firewall."""

    def __init__(self, name, bridge, forward_mode="none", forward_dev=None, ips=(),
                 nat_ipv6=False, nat_ports=None, ipv6_no_gateway=False, zone=None,
                 nat_addresses=None):
        if not name:
            raise NetworkDefinitionError("a network needs a name")
        where = "network %r" % (name,)
        try:
            vocabulary.object_name(name, "network name")
            if bridge is not None or forward_mode not in UNMANAGED_MODES:
                vocabulary.interface(bridge, "%s: bridge name" % where)
            if forward_dev is not None:
                vocabulary.interface(forward_dev, "%s: forward dev" % where)
            if zone is not None:
                vocabulary.object_name(zone, "%s: firewalld zone" % where)
        except vocabulary.InvalidValue as exc:
            raise NetworkDefinitionError(str(exc))
        if forward_mode not in FORWARD_MODES + UNMANAGED_MODES:
            raise NetworkDefinitionError(
                "%s: forward mode %r is not one of libvirt's (%s)"
                % (where, forward_mode, ", ".join(FORWARD_MODES + UNMANAGED_MODES)))
        if nat_ports is not None:
            start, end = nat_ports
            # libvirt refuses to start a network whose range is a single port.
            if not (0 < start < end <= 65535):
                raise NetworkDefinitionError(
                    "%s: NAT port range %s-%s must satisfy 0 < start < end <= 65535 (libvirt "
                    "refuses a single port)" % (where, start, end))
        if nat_addresses is not None:
            if nat_addresses.start.version != 4 or nat_addresses.end.version != 4:
                raise NetworkDefinitionError("%s: NAT addresses %s-%s must be IPv4 addresses"
                                             % (where, nat_addresses.start, nat_addresses.end))
            if nat_addresses.start > nat_addresses.end:
                raise NetworkDefinitionError("%s: NAT address range %s-%s ends before it starts"
                                             % (where, nat_addresses.start, nat_addresses.end))
        if forward_mode != "nat" and (nat_addresses is not None or nat_ports is not None
                                      or nat_ipv6):
            raise NetworkDefinitionError(
                "%s: NAT addresses, ports and IPv6 NAT need forward mode nat, not %r"
                % (where, forward_mode))
        self.name = name
        self.bridge = bridge
        self.forward_mode = forward_mode
        self.forward_dev = forward_dev
        self.ips = list(ips)
        self.nat_ipv6 = nat_ipv6
        self.nat_ports = nat_ports
        self.ipv6_no_gateway = ipv6_no_gateway
        self.zone = zone
        self.nat_addresses = nat_addresses

    @property
    def has_firewall(self):
        """Whether libvirt makes firewall rules for the network (never for open networks, nor
        for the modes that use a bridge or devices libvirt does not manage)."""
        return self.forward_mode in ("none", "nat", "route")

    def addresses(self, family):
        return [ip for ip in self.ips if ip.family == family]

    def __repr__(self):
        return "NetworkDefinition(%s, bridge=%s, forward=%s)" % (
            self.name, self.bridge, self.forward_mode)


def nat_addresses(start, end, where="network"):
    """NatAddresses from two address texts, with errors that name the field."""
    if start is None or end is None:
        raise NetworkDefinitionError("%s: NAT addresses need both a start and an end (got %s-%s)"
                                     % (where, start, end))
    try:
        return NatAddresses(ipaddress.ip_address(start), ipaddress.ip_address(end))
    except ValueError:
        raise NetworkDefinitionError("%s: NAT address range %r-%r is not two IP addresses"
                                     % (where, start, end))


def ip_definition(address, prefix=None, netmask=None, family=None, has_dhcp=False, tftp=False,
                  where="network"):
    """An IPDefinition from an address with a prefix or a netmask (checked, with errors that say
    which field is wrong)."""
    if prefix is not None and netmask is not None:
        raise NetworkDefinitionError("%s: ip %s has both a prefix and a netmask" % (where, address))
    try:
        host = ipaddress.ip_address(address)
    except ValueError:
        raise NetworkDefinitionError("%s: ip address %r is not an IP address" % (where, address))
    if family is not None and family != ("ipv%d" % host.version):
        raise NetworkDefinitionError("%s: ip address %s is not of family %s"
                                     % (where, address, family))
    if netmask is not None:
        suffix = netmask
    elif prefix is not None:
        suffix = str(prefix)
    else:
        # libvirt's default for an address without prefix: the classful prefix for IPv4, /64.
        suffix = "64" if host.version == 6 else str(_classful_prefix(host))
    try:
        network = ipaddress.ip_interface("%s/%s" % (address, suffix)).network
    except ValueError:
        raise NetworkDefinitionError("%s: ip %s has an invalid prefix or netmask %r"
                                     % (where, address, suffix))
    return IPDefinition(network, has_dhcp=has_dhcp, tftp=tftp)


def _classful_prefix(address):
    first = int(address) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def _yes(value):
    return (value or "").strip().lower() == "yes"


def parse_network_xml(text):
    """A NetworkDefinition from network XML (``virsh net-dumpxml`` output)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise NetworkDefinitionError("network XML does not parse: %s" % exc)
    if root.tag != "network":
        raise NetworkDefinitionError("network XML: the root element is <%s>, not <network>"
                                     % root.tag)
    name = (root.findtext("name") or "").strip()
    where = "network %r" % (name or "(unnamed)")
    bridge_element = root.find("bridge")
    if bridge_element is None:
        bridge_element = ElementTree.Element("bridge")
    forward_element = root.find("forward")
    unmanaged = (forward_element is not None
                 and forward_element.get("mode") in UNMANAGED_MODES)
    if not bridge_element.get("name") and not unmanaged:
        raise NetworkDefinitionError(
            "%s: <bridge name='...'/> is missing (virsh net-dumpxml of a defined network shows it)"
            % where)
    forward = root.find("forward")
    forward_mode = "none"
    forward_dev = None
    nat_ipv6 = False
    nat_ports = None
    nat_range = None
    if forward is not None:
        forward_mode = forward.get("mode", "nat")
        # <forward dev=...> is short for one <interface dev=...>; libvirt uses the first.
        forward_dev = forward.get("dev")
        interface = forward.find("interface")
        if forward_dev is None and interface is not None:
            forward_dev = interface.get("dev")
        nat = forward.find("nat")
        if nat is not None:
            nat_ipv6 = _yes(nat.get("ipv6"))
            address = nat.find("address")
            if address is not None:
                nat_range = nat_addresses(address.get("start"), address.get("end"),
                                          where="%s: <nat><address>" % where)
            port = nat.find("port")
            if port is not None:
                try:
                    nat_ports = (int(port.get("start")), int(port.get("end")))
                except (TypeError, ValueError):
                    raise NetworkDefinitionError("%s: <nat><port start=%r end=%r> needs two numbers"
                                                 % (where, port.get("start"), port.get("end")))
    ips = []
    for element in root.findall("ip"):
        dhcp = element.find("dhcp")
        ips.append(ip_definition(
            element.get("address"), prefix=element.get("prefix"), netmask=element.get("netmask"),
            family=element.get("family"),
            has_dhcp=dhcp is not None and (dhcp.find("range") is not None
                                           or dhcp.find("host") is not None),
            tftp=element.find("tftp") is not None and bool(element.find("tftp").get("root")),
            where=where))
    return NetworkDefinition(name, bridge_element.get("name"), forward_mode, forward_dev, ips,
                             nat_ipv6=nat_ipv6, nat_ports=nat_ports,
                             ipv6_no_gateway=_yes(root.get("ipv6")),
                             zone=bridge_element.get("zone"), nat_addresses=nat_range)
