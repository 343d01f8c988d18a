#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: firewall
short_description: Declare firewall chains and rules (iptables, ip6tables, ebtables or nft syntax), applied as one transaction
version_added: 0.1.0
description:
  - Declares chains and rules that must be present or absent, each in its layer (V(ipv4) for
    iptables, V(ipv6) for ip6tables, V(ethernet) for ebtables), table and chain, in iptables
    syntax; with O(backend=nftables), in nft syntax, in an nft table of any family.
  - Reads each table once (C(--list-rules); C(ebtables -L)), compares in the tool's own spelling
    (the rules are spelled out in a scratch network namespace, so C(--protocol tcp
    --destination-port 22) matches the C(-p tcp -m tcp --dport 22) the tool lists), then applies
    everything missing in one transaction with automatic rollback. If any rule fails, every
    change this task made is undone and the task fails with the rule and the tool's message.
  - A rule is present when the chain holds it anywhere; O(rules[].position) only says where a
    missing rule is inserted. A missing user chain that a present rule needs is created.
extends_documentation_fragment:
  - virtkit.host.firewall
  - virtkit.host.attributes
options:
  rules:
    description: Rules, in the order they are applied.
    type: list
    elements: dict
    default: []
    suboptions:
      layer:
        description: Which tool the rule belongs to.
        type: str
        choices: [ipv4, ipv6, ethernet]
        default: ipv4
      table:
        description: The table (V(filter), V(nat), V(mangle), V(raw), V(security); for ebtables
          V(filter), V(nat), V(broute)).
        type: str
        default: filter
      chain:
        description: The chain.
        type: str
        required: true
      rule:
        description:
          - Match and target in iptables syntax, without command, chain or table, as a string
            (split like a shell would, without running one) or as a list of arguments.
          - With O(backend=nftables), the rule's statements in nft syntax (C(tcp dport 22 accept)).
        type: raw
        required: true
      family:
        description:
          - nft family of the table (nftables backend only); by default V(ip), V(ip6) or
            V(bridge) after O(rules[].layer).
        type: str
        choices: [ip, ip6, inet, arp, bridge, netdev]
      position:
        description: Insert a missing rule at this position (1 is the top) instead of appending it.
        type: int
      state:
        description: Wanted state of the rule; defaults to O(state). V(absent) deletes every copy.
        type: str
        choices: [present, absent]
  chains:
    description: User chains. An absent chain is flushed and deleted.
    type: list
    elements: dict
    default: []
    suboptions:
      layer:
        description: Which tool the chain belongs to.
        type: str
        choices: [ipv4, ipv6, ethernet]
        default: ipv4
      table:
        description: The table.
        type: str
        default: filter
      name:
        description: The chain's name.
        type: str
        required: true
      family:
        description: nft family of the table (nftables backend only), as for rules.
        type: str
        choices: [ip, ip6, inet, arp, bridge, netdev]
      spec:
        description:
          - nft base chain definition (nftables backend only), for example
            C({ type filter hook input priority 0; policy accept; }).
        type: str
      state:
        description: Wanted state of the chain; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Wanted state of the rules and chains that do not set their own.
    type: str
    choices: [present, absent]
    default: present
  backend:
    choices: [auto, iptables, nftables, firewalld]
    description:
      - V(auto) uses firewalld when it runs, else the iptables tools (C(iptables-nft) writes to
        nftables); the rules are then in iptables syntax.
      - V(nftables) takes rules in nft syntax, and missing tables and chains are created.
seealso:
  - module: virtkit.host.virt_network_firewall
  - module: virtkit.host.nwfilter_binding
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: Let SSH and the monitoring network in, in one transaction
  virtkit.host.firewall:
    chains:
      - name: MONITORING
    rules:
      - chain: INPUT
        rule: -p tcp --dport 22 -j ACCEPT
      - chain: INPUT
        rule: -s 10.9.0.0/16 -j MONITORING
        position: 1
      - chain: MONITORING
        rule: [-p, tcp, --dport, "9100", -j, ACCEPT]
      - layer: ipv6
        chain: INPUT
        rule: -p tcp --dport 22 -j ACCEPT

- name: Drop a spoofed MAC on a bridge port (ebtables)
  virtkit.host.firewall:
    rules:
      - layer: ethernet
        chain: FORWARD
        rule: -i vnet0 -s ! 52:54:00:12:34:56 -j DROP

- name: The same with nft, in a table of its own
  virtkit.host.firewall:
    backend: nftables
    chains:
      - {family: inet, table: host, name: input, spec: "{ type filter hook input priority 0; policy accept; }"}
    rules:
      - {family: inet, table: host, chain: input, rule: tcp dport 22 accept}
      - {family: inet, table: host, chain: input, rule: iif lo accept, position: 1}

- name: One backend for every firewall task of a play
  hosts: hypervisors
  module_defaults:
    group/virtkit.host.engine:
      backend: nftables
  tasks:
    - name: SSH in, in nft syntax
      virtkit.host.firewall:
        chains:
          - {family: inet, table: host, name: input, spec: "{ type filter hook input priority 0; policy accept; }"}
        rules:
          - {family: inet, table: host, chain: input, rule: tcp dport 22 accept}

- name: Remove a chain and a rule
  virtkit.host.firewall:
    state: absent
    rules:
      - chain: INPUT
        rule: -s 10.9.0.0/16 -j MONITORING
    chains:
      - name: MONITORING
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
  sample: [{argv: [iptables, -w, -t, filter, -A, INPUT, -p, tcp, --dport, "22", -j, ACCEPT]}]
  contains:
    argv:
      description: The command without the tool's path, or the DBus call with its arguments.
      returned: always
      type: list
      elements: str
    input:
      description: The batch given on standard input (C(*-restore) or C(nft -f)).
      returned: for a batch
      type: str
    via:
      description: V(firewalld) for a call over DBus.
      returned: when the command went through firewalld
      type: str
queries:
  description: The read-only commands that read the state (one per table), shaped as RV(commands).
  returned: always
  type: list
  elements: dict
  sample: [{argv: [iptables, -w, --table, filter, --list-rules]}]
backend:
  description: The backend used (V(iptables), V(nftables) or V(firewalld)).
  returned: always
  type: str
trace:
  description: The engine's trace, one line per command and per ignored error.
  returned: with -vvv
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils.firewall._declarative import (
    DeclaredChain,
    DeclaredRule,
    RuleSet,
)
from ansible_collections.virtkit.host.plugins.module_utils._module_support import (
    EngineTask,
    engine_options,
    run_engine_module,
)

FAMILIES = ["ip", "ip6", "inet", "arp", "bridge", "netdev"]


class Rules(EngineTask):
    def planner(self, trace):
        return RuleSet(self.params["backend"], check_mode=self.module.check_mode,
                       batch=self.params["batch"], trace=trace)

    def wanted(self, planner):
        params = self.params
        rules = [DeclaredRule(rule["layer"], rule["table"], rule["chain"], rule["rule"],
                              rule["position"], rule["state"] or params["state"],
                              where="rules[%d]" % index, syntax=planner.syntax,
                              family=rule["family"])
                 for index, rule in enumerate(params["rules"])]
        chains = [DeclaredChain(chain["layer"], chain["table"], chain["name"],
                                chain["state"] or params["state"], where="chains[%d]" % index,
                                syntax=planner.syntax, family=chain["family"], spec=chain["spec"])
                  for index, chain in enumerate(params["chains"])]
        return chains, rules

    def plan(self, planner, wanted):
        return planner.plan(*wanted)  # (changes, touched chains' listings)

    def apply(self, planner, planned):
        return planner.apply(planned[0])

    def diff(self, planned):
        return [("%s %s %s" % key, "".join(line + "\n" for line in before),
                 "" if after is None else "".join(line + "\n" for line in after))
                for key, (before, after) in sorted(planned[1].items())]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            rules=dict(type="list", elements="dict", default=[], options=dict(
                layer=dict(type="str", default="ipv4", choices=["ipv4", "ipv6", "ethernet"]),
                table=dict(type="str", default="filter"),
                chain=dict(type="str", required=True),
                rule=dict(type="raw", required=True),
                position=dict(type="int"),
                family=dict(type="str", choices=FAMILIES),
                state=dict(type="str", choices=["present", "absent"]),
            )),
            chains=dict(type="list", elements="dict", default=[], options=dict(
                layer=dict(type="str", default="ipv4", choices=["ipv4", "ipv6", "ethernet"]),
                table=dict(type="str", default="filter"),
                name=dict(type="str", required=True),
                family=dict(type="str", choices=FAMILIES),
                spec=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"]),
            )),
            **engine_options()
        ),
        supports_check_mode=True,
    )
    run_engine_module(module, Rules(module))


if __name__ == "__main__":
    main()
