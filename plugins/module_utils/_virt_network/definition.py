# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt virtual network, as far as its firewall is concerned: read from the XML that
``virsh net-dumpxml`` prints, or from the same facts given as options."""

import ipaddress
from xml.etree import ElementTree

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

FORWARD_MODES = ("none", "nat", "route", "open")


class NetworkDefinitionError(ValueError):
    """A network definition that cannot be turned into firewall rules; names the field."""


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
                 nat_ipv6=False, nat_ports=None, ipv6_no_gateway=False, zone=None):
        if not name:
            raise NetworkDefinitionError("a network needs a name")
        where = "network %r" % (name,)
        try:
            vocabulary.object_name(name, "network name")
            vocabulary.interface(bridge, "%s: bridge name" % where)
            if forward_dev is not None:
                vocabulary.interface(forward_dev, "%s: forward dev" % where)
            if zone is not None:
                vocabulary.object_name(zone, "%s: firewalld zone" % where)
        except vocabulary.InvalidValue as exc:
            raise NetworkDefinitionError(str(exc))
        if forward_mode not in FORWARD_MODES:
            raise NetworkDefinitionError(
                "%s: forward mode %r has no firewall rules here (expected one of: %s)"
                % (where, forward_mode, ", ".join(FORWARD_MODES)))
        if nat_ports is not None:
            start, end = nat_ports
            if not (0 < start <= end <= 65535):
                raise NetworkDefinitionError(
                    "%s: NAT port range %s-%s must satisfy 0 < start <= end <= 65535"
                    % (where, start, end))
        self.name = name
        self.bridge = bridge
        self.forward_mode = forward_mode
        self.forward_dev = forward_dev
        self.ips = list(ips)
        self.nat_ipv6 = nat_ipv6
        self.nat_ports = nat_ports
        self.ipv6_no_gateway = ipv6_no_gateway
        self.zone = zone

    def addresses(self, family):
        return [ip for ip in self.ips if ip.family == family]

    def __repr__(self):
        return "NetworkDefinition(%s, bridge=%s, forward=%s)" % (
            self.name, self.bridge, self.forward_mode)


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
    if bridge_element is None or not bridge_element.get("name"):
        raise NetworkDefinitionError(
            "%s: <bridge name='...'/> is missing (virsh net-dumpxml of a defined network shows it)"
            % where)
    forward = root.find("forward")
    forward_mode = "none"
    forward_dev = None
    nat_ipv6 = False
    nat_ports = None
    if forward is not None:
        forward_mode = forward.get("mode", "nat")
        forward_dev = forward.get("dev")
        nat = forward.find("nat")
        if nat is not None:
            nat_ipv6 = _yes(nat.get("ipv6"))
            if nat.find("address") is not None:
                raise NetworkDefinitionError(
                    "%s: <nat><address> (SNAT to a public range) is not supported yet" % where)
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
                             zone=bridge_element.get("zone"))
