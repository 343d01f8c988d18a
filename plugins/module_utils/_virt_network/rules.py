# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall rules libvirt's network driver issues for a network, spelled and ordered as
libvirt spells and orders them, for its iptables and its nftables backends.

Every per-network rule is an insert at the top of its chain, so the rules of different chains
are independent of one another; the order matters within a chain only.
"""

from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_IPV4,
    LAYER_IPV6,
)

IPV4, IPV6 = 4, 6
LAYER = {IPV4: LAYER_IPV4, IPV6: LAYER_IPV6}
DEFAULT_NAT_PORTS = (1024, 65535)

# iptables: libvirt's private chains, per table, with the built-in chain that jumps to each.
IPTABLES_CHAINS = (
    ("filter", (("LIBVIRT_INP", "INPUT"), ("LIBVIRT_OUT", "OUTPUT"), ("LIBVIRT_FWO", "FORWARD"),
                ("LIBVIRT_FWI", "FORWARD"), ("LIBVIRT_FWX", "FORWARD"))),
    ("nat", (("LIBVIRT_PRT", "POSTROUTING"),)),
    ("mangle", (("LIBVIRT_PRT", "POSTROUTING"),)),
)
IPTABLES_TABLES = tuple(table for table, _chains in IPTABLES_CHAINS)

# nftables: one table per family; a filter chain hooked on forward jumps to three chains.
NFT_TABLE = "libvirt_network"
NFT_FAMILY = {IPV4: "ip", IPV6: "ip6"}
NFT_FORWARD_HOOK = "{ type filter hook forward priority 0; policy accept; }"
NFT_NAT_HOOK = "{ type nat hook postrouting priority 100; policy accept; }"
NFT_JUMP_CHAINS = ("guest_output", "guest_input", "guest_cross")


def _ports_text(ports):
    return "%d-%d" % (ports or DEFAULT_NAT_PORTS)


def _nat_target(net, ip, protocol):
    """What a masquerading rule ends with, as libvirt words it: (kind, range text). kind is
    "snat" when the network names IPv4 addresses to translate to (IPv4 rules only; an IPv6
    address masquerades), else "masquerade"; the range carries the ports for tcp and udp."""
    ports = ":" + _ports_text(net.nat_ports) if protocol else ""
    addresses = net.nat_addresses
    if addresses is not None and ip.family == IPV4:
        if addresses.start == addresses.end:
            return "snat", "%s%s" % (addresses.start, ports)
        return "snat", "%s-%s%s" % (addresses.start, addresses.end, ports)
    return "masquerade", ports


def _has_ipv4_dhcp(net):
    return any(ip.has_dhcp for ip in net.addresses(IPV4))


def _serves_tftp(net):
    """libvirt serves DHCP and TFTP on one IPv4 address only: the first with either."""
    for ip in net.addresses(IPV4):
        if ip.has_dhcp or ip.tftp:
            return ip.tftp
    return False


def _has_ipv6(net):
    return bool(net.addresses(IPV6)) or net.ipv6_no_gateway


def _per_address_kind(net, ip):
    """"masquerade", "route" or None: what libvirt adds for one address of the network."""
    if net.forward_mode == "nat":
        if ip.family == IPV4 or net.nat_ipv6:
            return "masquerade"
        return "route"
    if net.forward_mode == "route":
        return "route"
    return None


class _NetworkRules(object):
    def __init__(self, net):
        self.net = net
        self.rules = []

    def _per_address(self):
        """Each address's forwarding rules, in the order the XML lists the addresses."""
        for ip in self.net.ips:
            kind = _per_address_kind(self.net, ip)
            if kind == "masquerade":
                self._masquerade(ip)
            elif kind == "route":
                self._route(ip)

    def _masquerade(self, ip):
        raise NotImplementedError

    def _route(self, ip):
        raise NotImplementedError


class IptablesRules(_NetworkRules):
    """libvirt's iptables rules for one network: a list of (layer, args) without ``-w``."""

    def _add(self, family, *args):
        self.rules.append((LAYER[family], args))

    def _port(self, family, chain, direction, proto, port):
        self._add(family, "--table", "filter", "--insert", chain, direction, self.net.bridge,
                  "--protocol", proto, "--destination-port", str(port), "--jump", "ACCEPT")

    def _input(self, family, proto, port):
        self._port(family, "LIBVIRT_INP", "--in-interface", proto, port)

    def _output(self, family, proto, port):
        self._port(family, "LIBVIRT_OUT", "--out-interface", proto, port)

    def _isolate(self, family):
        bridge = self.net.bridge
        self._add(family, "--table", "filter", "--insert", "LIBVIRT_FWO", "--in-interface", bridge,
                  "--jump", "REJECT")
        self._add(family, "--table", "filter", "--insert", "LIBVIRT_FWI", "--out-interface", bridge,
                  "--jump", "REJECT")
        self._add(family, "--table", "filter", "--insert", "LIBVIRT_FWX", "--in-interface", bridge,
                  "--out-interface", bridge, "--jump", "ACCEPT")

    def build(self):
        net = self.net
        if not net.has_firewall:
            return self.rules
        # IPv4 services of the host's dnsmasq, then the catch-all rules.
        for proto in ("tcp", "udp"):
            self._input(IPV4, proto, 67)
        for proto in ("tcp", "udp"):
            self._output(IPV4, proto, 68)
        for proto in ("tcp", "udp"):
            self._input(IPV4, proto, 53)
        for proto in ("tcp", "udp"):
            self._output(IPV4, proto, 53)
        if _serves_tftp(net):
            self._input(IPV4, "udp", 69)
            self._output(IPV4, "udp", 69)
        self._isolate(IPV4)
        # IPv6: the catch-all rules first, then DNS and DHCPv6 when the network has an address.
        if _has_ipv6(net):
            self._isolate(IPV6)
            if net.addresses(IPV6):
                for proto in ("tcp", "udp"):
                    self._input(IPV6, proto, 53)
                for proto in ("tcp", "udp"):
                    self._output(IPV6, proto, 53)
                self._input(IPV6, "udp", 547)
                self._output(IPV6, "udp", 546)
        self._per_address()
        if _has_ipv4_dhcp(net):
            self._add(IPV4, "--table", "mangle", "--insert", "LIBVIRT_PRT", "--out-interface",
                      net.bridge, "--protocol", "udp", "--destination-port", "68",
                      "--jump", "CHECKSUM", "--checksum-fill")
        return self.rules

    def _allow_out(self, ip):
        dev = self.net.forward_dev
        self._add(ip.family, "--table", "filter", "--insert", "LIBVIRT_FWO",
                  "--source", str(ip.network), "--in-interface", self.net.bridge,
                  *(("--out-interface", dev) if dev else ()), "--jump", "ACCEPT")

    def _allow_in(self, ip, related):
        dev = self.net.forward_dev
        tail = (("--match", "conntrack", "--ctstate", "ESTABLISHED,RELATED") if related else ())
        self._add(ip.family, "--table", "filter", "--insert", "LIBVIRT_FWI",
                  "--destination", str(ip.network), *(("--in-interface", dev) if dev else ()),
                  "--out-interface", self.net.bridge, *tail, "--jump", "ACCEPT")

    def _route(self, ip):
        self._allow_out(ip)
        self._allow_in(ip, related=False)

    def _masquerade(self, ip):
        network = str(ip.network)
        out_dev = ("--out-interface", self.net.forward_dev) if self.net.forward_dev else ()
        self._allow_out(ip)
        self._allow_in(ip, related=True)
        for proto in (None, "udp", "tcp"):
            kind, target = _nat_target(self.net, ip, proto)
            if kind == "snat":
                tail = ("--jump", "SNAT", "--to-source", target)
            else:
                tail = ("--jump", "MASQUERADE") + (("--to-ports", target[1:]) if proto else ())
            self._add(ip.family, "--table", "nat", "--insert", "LIBVIRT_PRT", "--source", network,
                      *(("-p", proto) if proto else ()), "!", "--destination", network, *out_dev,
                      *tail)
        destinations = ("255.255.255.255/32", "224.0.0.0/24") if ip.family == IPV4 else ("ff02::/16",)
        for destination in destinations:
            self._add(ip.family, "--table", "nat", "--insert", "LIBVIRT_PRT", *out_dev,
                      "--source", network, "--destination", destination, "--jump", "RETURN")


class NftablesRules(_NetworkRules):
    """libvirt's nftables rules for one network: a list of (layer, nft args)."""

    def _insert(self, family, chain, *words):
        self.rules.append((LAYER[family], ("insert", "rule", NFT_FAMILY[family], NFT_TABLE, chain)
                           + words))

    def build(self):
        net = self.net
        if not net.has_firewall:
            return self.rules
        families = [IPV4] + ([IPV6] if _has_ipv6(net) else [])
        for family in families:
            self._insert(family, "guest_output", "iif", net.bridge, "counter", "reject")
            self._insert(family, "guest_input", "oif", net.bridge, "counter", "reject")
            self._insert(family, "guest_cross", "iif", net.bridge, "oif", net.bridge, "counter",
                         "accept")
        self._per_address()
        return self.rules

    def _allow_out(self, ip):
        family = NFT_FAMILY[ip.family]
        dev = self.net.forward_dev
        self._insert(ip.family, "guest_output", family, "saddr", str(ip.network),
                     "iif", self.net.bridge, *(("oifname", dev) if dev else ()), "counter", "accept")

    def _route(self, ip):
        family = NFT_FAMILY[ip.family]
        dev = self.net.forward_dev
        self._allow_out(ip)
        self._insert(ip.family, "guest_input", family, "daddr", str(ip.network),
                     *(("iifname", dev) if dev else ()), "oif", self.net.bridge, "counter", "accept")

    def _masquerade(self, ip):
        family = NFT_FAMILY[ip.family]
        network = str(ip.network)
        dev = self.net.forward_dev
        out_dev = ("oifname", dev) if dev else ()
        self._allow_out(ip)
        self._insert(ip.family, "guest_input", *(("iifname", dev) if dev else ()),
                     "oif", self.net.bridge, family, "daddr", network,
                     "ct", "state", "related,established", "counter", "accept")
        for proto in (None, "udp", "tcp"):
            kind, target = _nat_target(self.net, ip, proto)
            if kind == "snat":
                tail = ("counter", "snat", "to", target)
            else:
                tail = ("counter", "masquerade") + (("to", target) if proto else ())
            self._insert(ip.family, "guest_nat", *(("meta", "l4proto", proto) if proto else ()),
                         family, "saddr", network, family, "daddr", "!=", network, *out_dev,
                         *tail)
        destinations = ("255.255.255.255/32", "224.0.0.0/24") if ip.family == IPV4 else ("ff02::/16",)
        for destination in destinations:
            self._insert(ip.family, "guest_nat", *out_dev, family, "saddr", network,
                         family, "daddr", destination, "counter", "return")


def iptables_rules(net):
    return IptablesRules(net).build()


def nftables_rules(net):
    return NftablesRules(net).build()


def iptables_base(layer, existing):
    """libvirt's set-up of its private chains in one layer: ``existing`` maps a table to
    ``(chains, links)`` read from ``--list-rules`` (links: (parent, child) jumps). Returns the
    (layer, args) that create what is missing, in libvirt's order."""
    rules = []
    for table, chains in IPTABLES_CHAINS:
        present, links = existing.get(table, ((), ()))
        for child, parent in chains:
            if child not in present:
                rules.append((layer, ("--table", table, "--new-chain", child)))
            if (parent, child) not in links:
                rules.append((layer, ("--table", table, "--insert", parent, "--jump", child)))
    return rules


def nftables_base(layer, family, existing):
    """libvirt's nftables set-up for one family: ``existing`` is None when the table is missing,
    else ``(chains, jumps)`` read from ``nft list table``."""
    chains, jumps = existing if existing is not None else ((), ())
    rules = []
    if existing is None:
        rules.append((layer, ("add", "table", family, NFT_TABLE)))
    if "forward" not in chains:
        rules.append((layer, ("add", "chain", family, NFT_TABLE, "forward", NFT_FORWARD_HOOK)))
    for chain in NFT_JUMP_CHAINS:
        if chain not in chains:
            rules.append((layer, ("add", "chain", family, NFT_TABLE, chain)))
        if chain not in jumps:
            rules.append((layer, ("insert", "rule", family, NFT_TABLE, "forward", "counter",
                                  "jump", chain)))
    if "guest_nat" not in chains:
        rules.append((layer, ("add", "chain", family, NFT_TABLE, "guest_nat", NFT_NAT_HOOK)))
    return rules
