#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: virt_network_firewall
short_description: Firewall rules of libvirt virtual networks, as libvirt makes them
version_added: 0.1.0
description:
  - Brings the firewall rules of libvirt virtual networks to the wanted state, with exactly the
    commands libvirt's network driver issues when it starts a network (its private chains
    C(LIBVIRT_INP), C(LIBVIRT_OUT), C(LIBVIRT_FWO), C(LIBVIRT_FWI), C(LIBVIRT_FWX), C(LIBVIRT_PRT)
    for iptables; the C(libvirt_network) tables for nftables), in libvirt's spelling and order.
  - Reads netfilter once per table, compares in the tools' own listing (rules are spelled out in
    a scratch network namespace), and applies what is missing for all networks of the task in
    one transaction with automatic rollback. A network whose rules are only partly there is
    reinstalled whole.
  - On a host where firewalld runs (O(backend=auto) or V(firewalld)) the rules go through
    nftables (iptables when C(nft) is missing) and the bridge is put in firewalld's C(libvirt)
    zone (C(libvirt-routed) for routed networks when that zone exists) over DBus, as current
    libvirt does.
  - O(networks[].state=absent) removes exactly the rules of that network that are present, and
    nothing else; libvirt's private chains stay.
  - The module keeps a record of what it applied per network on the host (in
    C(/run/virtkit.host/networks), one file per network namespace, 0600; like the rules
    themselves it does not outlive a reboot). When a network's definition changes (subnet,
    bridge, forward mode, NAT range...), the next run replaces exactly the recorded rules with
    the new ones in one transaction, rolled back as a whole on failure. Rules the record does
    not hold (made by libvirt itself or by hand) are never touched, nor are rules another
    recorded network still has. A network known to the record can be removed by its name
    alone, and O(purge=true) removes the recorded networks the task does not list.
  - libvirt makes no rules for forward mode V(open), nor for the modes where the network uses a
    bridge or devices libvirt does not manage (V(bridge), V(private), V(vepa), V(passthrough),
    V(hostdev)); such a network has no rules here either, and a change to one of these modes
    removes the rules the network had.
extends_documentation_fragment:
  - virtkit.host.firewall
  - virtkit.host.attributes
options:
  networks:
    description:
      - The networks, each given as libvirt network XML (O(networks[].xml), as C(virsh
        net-dumpxml) prints it) or as the same facts in options.
    type: list
    elements: dict
    required: true
    suboptions:
      xml:
        description: Network XML. Mutually exclusive with the other definition options.
        type: str
      name:
        description:
          - Network name (required without O(networks[].xml)).
          - With O(networks[].state=absent), the name alone removes the rules recorded for the
            network.
        type: str
      bridge:
        description:
          - Bridge device of the network (required without O(networks[].xml), except for a
            recorded network given by its name to remove, and for the forward modes on a bridge
            libvirt does not manage).
        type: str
      forward_mode:
        description:
          - V(none) is an isolated network. V(open) and the modes on a bridge or devices libvirt
            does not manage (V(bridge), V(private), V(vepa), V(passthrough), V(hostdev)) have no
            firewall rules.
        type: str
        choices: [none, nat, route, open, bridge, private, vepa, passthrough, hostdev]
        default: none
      forward_dev:
        description:
          - The host interface forwarded traffic must leave through (C(<forward dev=...>), or
            the first C(<interface dev=...>) of C(<forward>)).
        type: str
      ips:
        description: The network's addresses.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: The host's address on the network.
            type: str
            required: true
          prefix:
            description: Prefix length.
            type: int
          netmask:
            description: IPv4 netmask, instead of O(networks[].ips[].prefix).
            type: str
          dhcp:
            description: Whether the address has a DHCP range or hosts.
            type: bool
            default: false
          tftp:
            description: Whether a TFTP root is served on the address.
            type: bool
            default: false
      nat_addresses:
        description:
          - Translate the network's IPv4 traffic to this range of public IPv4 addresses (SNAT,
            C(<nat><address start=... end=.../>)) instead of the address of the interface it
            leaves through (masquerading). IPv6 traffic masquerades whatever this says, as in
            libvirt. Needs O(networks[].forward_mode=nat).
        type: dict
        suboptions:
          start:
            type: str
            required: true
            description: First address.
          end:
            type: str
            required: true
            description: Last address (the same as O(networks[].nat_addresses.start) for one).
      nat_ports:
        description:
          - Source port range for masquerading or SNAT of TCP and UDP (default 1024-65535);
            V(start) must be below V(end), as libvirt requires.
        type: dict
        suboptions:
          start:
            type: int
            required: true
            description: First port.
          end:
            type: int
            required: true
            description: Last port.
      nat_ipv6:
        description: Masquerade IPv6 too (C(<nat ipv6='yes'/>)).
        type: bool
        default: false
      ipv6:
        description: IPv6 between guests without a host address (C(<network ipv6='yes'>)).
        type: bool
        default: false
      zone:
        description: firewalld zone for the bridge (C(<bridge zone='...'/>)).
        type: str
      state:
        description: Wanted state of this network's rules; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Wanted state of the networks that do not set their own.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - Remove the rules of every network the record holds and the task does not list, for
        fleets whose inventory describes every network of a host.
      - Without it, unlisted networks are left as they are.
    type: bool
    default: false
seealso:
  - module: virtkit.host.firewall
  - module: virtkit.host.nwfilter_binding
  - name: Firewalls of libvirt virtual networks
    description: The collection's guide, with the playbook that applies C(virt_networks) from the inventory.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_virt_networks.rst
  - name: libvirt's firewall and network filtering
    description: The rules libvirt's network driver makes, which this module reproduces.
    link: https://libvirt.org/firewall.html
  - name: libvirt network XML format
    description: What O(networks[].xml) takes.
    link: https://libvirt.org/formatnetwork.html
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: Firewall of libvirt's default network, from its XML
  virtkit.host.virt_network_firewall:
    networks:
      - xml: "{{ lookup('ansible.builtin.pipe', 'virsh net-dumpxml default') }}"

- name: Two networks described by options
  virtkit.host.virt_network_firewall:
    backend: nftables
    networks:
      - name: lab
        bridge: virbr10
        forward_mode: nat
        forward_dev: eth0
        ips:
          - {address: 10.10.0.1, prefix: 24, dhcp: true}
        nat_ports: {start: 20000, end: 29999}
      - name: routed
        bridge: virbr11
        forward_mode: route
        ips:
          - {address: 10.11.0.1, netmask: 255.255.255.0}
          - {address: "fd00:11::1", prefix: 64}

- name: Remove the rules of a network (libvirt's chains stay)
  virtkit.host.virt_network_firewall:
    networks:
      - {name: lab, bridge: virbr10, forward_mode: nat, ips: [{address: 10.10.0.1, prefix: 24}]}
    state: absent

- name: Remove a network this module applied, by its name alone
  virtkit.host.virt_network_firewall:
    networks:
      - {name: lab, state: absent}

- name: Every network of the host from the inventory; recorded networks not listed are removed
  virtkit.host.virt_network_firewall:
    networks: "{{ virt_networks }}"
    purge: true

- name: SNAT to a public range instead of masquerading
  virtkit.host.virt_network_firewall:
    networks:
      - name: public
        bridge: virbr12
        forward_mode: nat
        ips: [{address: 10.12.0.1, prefix: 24}]
        nat_addresses: {start: 203.0.113.10, end: 203.0.113.20}
"""

RETURN = r"""
revert:
  description:
    - The revert armed by O(confirm_timeout), and what became of it.
  returned: when O(confirm_timeout) is set
  type: dict
  contains:
    armed:
      description: Whether the revert is (still) armed on the host.
      returned: always
      type: bool
    would_arm:
      description: Whether the task would arm one (check mode, or no change).
      returned: when nothing was armed
      type: bool
    id:
      description: The revert's id on the host (for M(virtkit.host.firewall_confirm)).
      returned: when armed
      type: str
    confirmed:
      description: Whether the controller confirmed the change.
      returned: when armed
      type: bool
    undo:
      description: The undo armed, in order, as [layer, arguments].
      returned: when armed
      type: list
      elements: list
    deadline:
      description: When the revert fires on the host (seconds since the epoch).
      returned: when armed
      type: float
    confirm_seconds:
      description: How long the confirmation over a new connection took.
      returned: when armed
      type: float
reverted:
  description: The change was reverted because it could not be confirmed.
  returned: when the revert fired
  type: bool
commands:
  description:
    - Every command that changed the firewall (in check mode, that would have), in order.
  returned: always
  type: list
  elements: dict
  sample: [{argv: [iptables, -w, --table, filter, --insert, LIBVIRT_INP, --in-interface, virbr0,
                   --protocol, tcp, --destination-port, "67", --jump, ACCEPT]}]
  contains:
    argv:
      description: The command without the tool's path, or the DBus call with its arguments.
      returned: always
      type: list
      elements: str
    input:
      description: The batch given on standard input (C(iptables-restore) or C(nft -f)).
      returned: for a batch
      type: str
    via:
      description: V(firewalld) for a call over DBus.
      returned: when the command went through firewalld
      type: str
queries:
  description: The read-only commands that read the firewall's state (one per table), shaped as RV(commands).
  returned: always
  type: list
  elements: dict
networks:
  description:
    - Per network of the task (and per recorded network it does not list, with O(purge) or when
      rules a revert brought back were taken out), what was done.
  returned: always
  type: list
  elements: dict
  sample: [{name: default, bridge: virbr0, action: added, rules: 19, present_before: 0}]
  contains:
    name:
      description: The network's name.
      returned: always
      type: str
    bridge:
      description: Its bridge device.
      returned: always
      type: str
    action:
      description:
        - What was done (in check mode, would be done). V(added) - all its rules inserted;
          V(reinstalled) - only part of them were there, so all were inserted again;
          V(replaced) - the rules recorded for an earlier definition were taken out (and the
          new ones inserted where missing); V(removed) - its rules taken out; V(cleaned) - an
          unlisted network's rules that a revert had put back were taken out again.
      returned: always
      type: str
      choices: [unchanged, added, reinstalled, replaced, removed, cleaned]
    rules:
      description: How many rules libvirt makes for the network (0 when it is removed).
      returned: always
      type: int
    present_before:
      description: How many of them were in force before the task.
      returned: always
      type: int
    removed:
      description: How many rules that are no longer wanted were taken out.
      returned: always
      type: int
backend:
  description: The backend the rules went through (V(iptables) or V(nftables)).
  returned: always
  type: str
zones:
  description: Bridges whose firewalld zone changed, with the zone before and after.
  returned: when firewalld runs
  type: list
  elements: dict
  sample: [{bridge: virbr0, before: null, after: libvirt}]
  contains:
    bridge:
      description: The bridge device.
      returned: always
      type: str
    before:
      description: Its zone before the task (null when it had none).
      returned: always
      type: str
    after:
      description: Its zone after the task (null when taken out).
      returned: always
      type: str
trace:
  description: The engine's trace, one line per command and per ignored error.
  returned: with -vvv
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils._module_support import (
    EngineTask,
    engine_options,
    run_engine_module,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (
    FORWARD_MODES,
    UNMANAGED_MODES,
    NetworkDefinition,
    NetworkDefinitionError,
    ip_definition,
    nat_addresses,
    parse_network_xml,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.firewall import (
    NetworkFirewall,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.record import (
    NetworkRecord,
)

# The options that describe a network instead of its XML (the argument spec keeps them apart).
DEFINITION_OPTIONS = ("name", "bridge", "forward_dev", "ips", "nat_addresses", "nat_ports",
                      "zone")


def definition_from(spec, index, state):
    """The network's definition, or None for a network named only, to remove by its record."""
    where = "networks[%d]" % index
    if spec["xml"] is not None:
        return parse_network_xml(spec["xml"])
    if spec["bridge"] is None and spec["forward_mode"] not in UNMANAGED_MODES:
        if state == "absent" and not spec["ips"]:
            return None
        raise NetworkDefinitionError("%s: network %r needs a bridge (or xml)"
                                     % (where, spec["name"]))
    ips = [ip_definition(ip["address"], prefix=ip.get("prefix"), netmask=ip.get("netmask"),
                         has_dhcp=ip["dhcp"], tftp=ip["tftp"],
                         where="%s.ips[%d]" % (where, number))
           for number, ip in enumerate(spec["ips"])]
    ports = spec.get("nat_ports")
    addresses = spec.get("nat_addresses")
    return NetworkDefinition(
        spec["name"], spec["bridge"], spec["forward_mode"], spec.get("forward_dev"), ips,
        nat_ipv6=spec["nat_ipv6"], nat_ports=(ports["start"], ports["end"]) if ports else None,
        ipv6_no_gateway=spec["ipv6"], zone=spec.get("zone"),
        nat_addresses=nat_addresses(addresses["start"], addresses["end"],
                                    where="%s.nat_addresses" % where) if addresses else None)


def rules_text(keys, present):
    return "".join("%s %s: %s\n" % (layer, "/".join(chain), text)
                   for ((layer, *chain), text), keep in zip(keys, present) if keep)


class Networks(EngineTask):
    errors = (NetworkDefinitionError,)
    result = dict(networks=[])

    def planner(self, trace):
        self.networks = []
        for index, spec in enumerate(self.params["networks"]):
            state = spec["state"] or self.params["state"]
            definition = definition_from(spec, index, state)
            name = definition.name if definition is not None else spec["name"]
            self.networks.append((name, definition, state))
        return NetworkFirewall(self.params["backend"], check_mode=self.module.check_mode,
                               batch=self.params["batch"], trace=trace, record=NetworkRecord(),
                               keep_retired=self.params.get("confirm_timeout") is not None)

    def plan(self, planner, wanted):
        return planner.plan(self.networks, purge=self.params["purge"])

    def apply(self, planner, planned):
        commands = planner.apply(planned)
        self.zones = planner.sync_zones(planned)
        return commands

    def report(self, planner, planned, result):
        if planner.uses_firewalld:
            result["zones"] = [dict(bridge=bridge, before=before, after=after)
                               for bridge, before, after in self.zones]
        result["networks"] = [dict(
            name=network.name, bridge=network.bridge, action=network.action,
            rules=len(network.rules), present_before=sum(network.present),
            removed=sum(network.stale_present)) for network in planned]
        result["changed"] = bool(result["commands"] or self.zones)

    def diff(self, planned):
        """Per changed network, its rules in force before (the old ones included) and after."""
        return [("%s (%s)" % (n.name, n.bridge or "no bridge"),
                 rules_text(n.stale_keys, n.stale_present) + rules_text(n.keys, n.present),
                 rules_text(n.keys, [n.state == "present"] * len(n.keys)))
                for n in planned if n.action != "unchanged"]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", required=True, options=dict(
                xml=dict(type="str"),
                name=dict(type="str"),
                bridge=dict(type="str"),
                forward_mode=dict(type="str", default="none",
                                  choices=list(FORWARD_MODES + UNMANAGED_MODES)),
                forward_dev=dict(type="str"),
                ips=dict(type="list", elements="dict", default=[], options=dict(
                    address=dict(type="str", required=True),
                    prefix=dict(type="int"),
                    netmask=dict(type="str"),
                    dhcp=dict(type="bool", default=False),
                    tftp=dict(type="bool", default=False),
                ), mutually_exclusive=[("prefix", "netmask")]),
                nat_addresses=dict(type="dict", options=dict(
                    start=dict(type="str", required=True),
                    end=dict(type="str", required=True),
                )),
                nat_ports=dict(type="dict", options=dict(
                    start=dict(type="int", required=True),
                    end=dict(type="int", required=True),
                )),
                nat_ipv6=dict(type="bool", default=False),
                ipv6=dict(type="bool", default=False),
                zone=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"]),
            ), mutually_exclusive=[("xml", option) for option in DEFINITION_OPTIONS],
                required_one_of=[("xml", "name")]),
            purge=dict(type="bool", default=False),
            **engine_options()
        ),
        supports_check_mode=True,
    )
    run_engine_module(module, Networks(module))


if __name__ == "__main__":
    main()
