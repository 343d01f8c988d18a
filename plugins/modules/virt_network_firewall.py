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
        description: Network name (required without O(networks[].xml)).
        type: str
      bridge:
        description: Bridge device of the network (required without O(networks[].xml)).
        type: str
      forward_mode:
        description: V(none) is an isolated network.
        type: str
        choices: [none, nat, route, open]
        default: none
      forward_dev:
        description: The host interface forwarded traffic must leave through.
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
      nat_ports:
        description: Source port range for masquerading (default 1024-65535).
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
  description: Per network, what was done (V(unchanged), V(added), V(reinstalled), V(removed)).
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
      description: What was done (in check mode, would be done).
      returned: always
      type: str
      choices: [unchanged, added, reinstalled, removed]
    rules:
      description: How many rules libvirt makes for the network.
      returned: always
      type: int
    present_before:
      description: How many of them were in force before the task.
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
    NetworkDefinition,
    NetworkDefinitionError,
    ip_definition,
    parse_network_xml,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.firewall import (
    NetworkFirewall,
)

# The options that describe a network instead of its XML (the argument spec keeps them apart).
DEFINITION_OPTIONS = ("name", "bridge", "forward_dev", "ips", "nat_ports", "zone")


def definition_from(spec, index):
    if spec["xml"] is not None:
        return parse_network_xml(spec["xml"])
    ips = [ip_definition(ip["address"], prefix=ip.get("prefix"), netmask=ip.get("netmask"),
                         has_dhcp=ip["dhcp"], tftp=ip["tftp"],
                         where="networks[%d].ips[%d]" % (index, number))
           for number, ip in enumerate(spec["ips"])]
    ports = spec.get("nat_ports")
    return NetworkDefinition(spec["name"], spec["bridge"], spec["forward_mode"],
                             spec.get("forward_dev"), ips, nat_ipv6=spec["nat_ipv6"],
                             nat_ports=(ports["start"], ports["end"]) if ports else None,
                             ipv6_no_gateway=spec["ipv6"], zone=spec.get("zone"))


def rules_text(network, present):
    return "".join("%s %s: %s\n" % (layer, "/".join(chain), text)
                   for ((layer, *chain), text), keep in zip(network.keys, present) if keep)


class Networks(EngineTask):
    errors = (NetworkDefinitionError,)
    result = dict(networks=[])

    def planner(self, trace):
        self.networks = [(definition_from(spec, index), spec["state"] or self.params["state"])
                         for index, spec in enumerate(self.params["networks"])]
        return NetworkFirewall(self.params["backend"], check_mode=self.module.check_mode,
                               batch=self.params["batch"], trace=trace)

    def wanted(self, planner):
        return self.networks

    def apply(self, planner, planned):
        commands = planner.apply(planned)
        self.zones = planner.sync_zones(planned)
        return commands

    def report(self, planner, planned, result):
        if planner.uses_firewalld:
            result["zones"] = [dict(bridge=bridge, before=before, after=after)
                               for bridge, before, after in self.zones]
        result["networks"] = [dict(
            name=network.name, bridge=network.definition.bridge, action=network.action,
            rules=len(network.rules), present_before=sum(network.present)) for network in planned]
        result["changed"] = bool(result["commands"] or self.zones)

    def diff(self, planned):
        return [("%s (%s)" % (n.name, n.definition.bridge), rules_text(n, n.present),
                 rules_text(n, [n.state == "present"] * len(n.rules)))
                for n in planned if n.action != "unchanged"]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", required=True, options=dict(
                xml=dict(type="str"),
                name=dict(type="str"),
                bridge=dict(type="str"),
                forward_mode=dict(type="str", default="none",
                                  choices=["none", "nat", "route", "open"]),
                forward_dev=dict(type="str"),
                ips=dict(type="list", elements="dict", default=[], options=dict(
                    address=dict(type="str", required=True),
                    prefix=dict(type="int"),
                    netmask=dict(type="str"),
                    dhcp=dict(type="bool", default=False),
                    tftp=dict(type="bool", default=False),
                ), mutually_exclusive=[("prefix", "netmask")]),
                nat_ports=dict(type="dict", options=dict(
                    start=dict(type="int", required=True),
                    end=dict(type="int", required=True),
                )),
                nat_ipv6=dict(type="bool", default=False),
                ipv6=dict(type="bool", default=False),
                zone=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"]),
            ), mutually_exclusive=[("xml", option) for option in DEFINITION_OPTIONS],
                required_one_of=[("xml", "name"), ("xml", "bridge")]),
            **engine_options()
        ),
        supports_check_mode=True,
    )
    run_engine_module(module, Networks(module))


if __name__ == "__main__":
    main()
