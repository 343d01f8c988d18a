#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nwfilter_binding
short_description: Bind libvirt network filters to guest interfaces (MAC, IP and ARP anti-spoofing and more)
version_added: 0.1.0
description:
  - Binds an nwfilter (libvirt network filter) to a guest interface as libvirt's
    C(<filterbinding>) does, with the rules libvirt's C(ebiptables) driver makes, spelled and
    ordered as libvirt does (ebtables chains C(libvirt-I-IF), C(libvirt-O-IF) and their
    sub-chains in the nat table; iptables and ip6tables chains C(FI-IF), C(FO-IF), C(HI-IF)
    reached from C(libvirt-in), C(libvirt-out) and C(libvirt-host-in)).
  - Filters are libvirt nwfilter XML, from the host's directories (libvirt's built-in set,
    clean-traffic, no-mac-spoofing, no-ip-spoofing, no-arp-spoofing, allow-dhcp-server, ...) and
    from O(filters). References between filters are followed; a loop or a missing filter is an
    error naming the filters.
  - The state is read once per table and compared in the tools' own listing. Changed bindings
    are built beside the interface's current chains and then swapped in, so an interface is
    never left unfiltered; if building fails, every change of the task is rolled back and the old
    filters stay in force. Many interfaces take a handful of processes in all.
extends_documentation_fragment:
  - virtkit.host.firewall
  - virtkit.host.attributes
options:
  bindings:
    description: One entry per guest interface.
    type: list
    elements: dict
    required: true
    suboptions:
      interface:
        description: The guest's host-side interface (libvirt's C(portdev), for example V(vnet0)).
        type: str
        required: true
      mac:
        description: The guest NIC's MAC address; also the filters' C($MAC).
        type: str
      filter:
        description: Name of the filter to bind.
        type: str
      parameters:
        description:
          - The filter's variables, such as C(IP) or C(DHCPSERVER); a list gives several values
            (for example two IP addresses).
          - Names are letters, digits and C(_); values are what libvirt takes (letters, digits
            and C(_.:)), and each value must be what every place the filter uses it takes (an
            IPv4 address for C(srcipaddr) of an C(ip) rule, a MAC address, a port number ...).
            A value such as V(0.0.0.0/1) is refused, naming C(bindings[N].parameters.NAME).
        type: dict
        default: {}
      state:
        description: Wanted state of this binding; defaults to O(state).
        type: str
        choices: [present, absent]
  filters:
    description: Filter definitions (nwfilter XML) added to, or replacing, those of O(filter_dirs).
    type: list
    elements: str
    default: []
  filter_dirs:
    description: Directories of nwfilter XML files, later ones overriding earlier ones; missing ones are skipped.
    type: list
    elements: path
    default: [/usr/share/libvirt/nwfilter, /etc/libvirt/nwfilter]
  state:
    description: Wanted state of the bindings that do not set their own.
    type: str
    choices: [present, absent]
    default: present
  backend:
    choices: [auto, iptables, firewalld]
    description:
      - V(auto) sends the commands through firewalld's passthrough when firewalld runs, else
        runs ebtables, iptables and ip6tables.
notes:
  - Differences from libvirt, on purpose. The clean-up commands libvirt issues blindly (deleting
    chains that may not exist) are issued only for what exists, and libvirt's global chains are
    created or moved only when they are missing or out of place; the rules in force are the same.
  - Where libvirt's output is odd it is reproduced, because the rules must be libvirt's; see
    docs/modules/nwfilter_binding.md (for example the built-in qemu-announce-self filter's
    ethertype 0x835, or C(reject) becoming C(DROP) in ebtables).
seealso:
  - module: virtkit.host.virt_network_firewall
  - module: virtkit.host.firewall
  - name: "Guest NIC filters: libvirt's nwfilter rules, checked"
    description: The collection's guide to this module.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_nwfilter.rst
  - name: libvirt network filters
    description: The nwfilter XML format and libvirt's built-in filters.
    link: https://libvirt.org/formatnwfilter.html
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: Anti-spoofing on a guest's NIC with libvirt's clean-traffic filter
  virtkit.host.nwfilter_binding:
    bindings:
      - interface: vnet0
        mac: "52:54:00:12:34:56"
        filter: clean-traffic
        parameters:
          IP: [10.0.0.5, 10.0.0.6]

- name: A filter of our own, referencing a built-in one
  virtkit.host.nwfilter_binding:
    filters:
      - |
        <filter name='web-guest' chain='root'>
          <filterref filter='clean-traffic'/>
          <rule action='accept' direction='in' priority='100'>
            <tcp dstportstart='443'/>
          </rule>
        </filter>
    bindings:
      - {interface: vnet1, mac: "52:54:00:00:00:02", filter: web-guest, parameters: {IP: 10.0.0.7}}

- name: Unbind
  virtkit.host.nwfilter_binding:
    state: absent
    bindings:
      - interface: vnet1
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
bindings:
  description: Per interface, what was done (V(unchanged), V(added), V(replaced), V(removed)).
  returned: always
  type: list
  elements: dict
  sample: [{interface: vnet0, filter: clean-traffic, action: added}]
  contains:
    interface:
      description: The guest's host-side interface.
      returned: always
      type: str
    filter:
      description: The filter bound (null when unbound).
      returned: always
      type: str
    action:
      description: What was done (in check mode, would be done).
      returned: always
      type: str
      choices: [unchanged, added, replaced, removed]
backend:
  description: The backend used (V(iptables) or V(firewalld)).
  returned: always
  type: str
trace:
  description: The engine's trace, one line per command and per ignored error.
  returned: with -vvv
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._module_support import (
    EngineTask,
    engine_options,
    run_engine_module,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.binding import (
    Binding,
    NwfilterBindings,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterDefinitionError,
    FilterSet,
    parse_filter,
)


def view_text(view):
    lines = []
    for tool in ("ebtables", "iptables", "ip6tables"):
        for chain, rules in sorted(view.get(tool, {}).items()):
            lines.append("%s %s:" % (tool, chain))
            lines.extend("  " + rule for rule in rules)
    return "".join(line + "\n" for line in lines)


class Bindings(EngineTask):
    errors = (FilterDefinitionError, vocabulary.InvalidValue)
    result = dict(bindings=[])

    def planner(self, trace):
        params = self.params
        filters = FilterSet()
        for directory in params["filter_dirs"]:
            if os.path.isdir(directory):
                filters.load_directory(directory)
        for index, text in enumerate(params["filters"]):
            filters.add(parse_filter(text, "filters[%d]" % index))
        self.bindings = [Binding(entry["interface"], entry["mac"], entry["filter"],
                                 entry["parameters"], entry["state"] or params["state"],
                                 where="bindings[%d]" % index)
                         for index, entry in enumerate(params["bindings"])]
        return NwfilterBindings(filters, params["backend"], check_mode=self.module.check_mode,
                                batch=params["batch"], trace=trace)

    def wanted(self, planner):
        return self.bindings

    def report(self, planner, planned, result):
        result["bindings"] = [dict(interface=item.binding.interface, filter=item.binding.filter,
                                   action=item.action) for item in planned]

    def diff(self, planned):
        return [(item.binding.interface, view_text(item.current), view_text(item.final))
                for item in planned if item.action != "unchanged"]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bindings=dict(type="list", elements="dict", required=True, options=dict(
                interface=dict(type="str", required=True),
                mac=dict(type="str"),
                filter=dict(type="str"),
                parameters=dict(type="dict", default={}),
                state=dict(type="str", choices=["present", "absent"]),
            )),
            filters=dict(type="list", elements="str", default=[]),
            filter_dirs=dict(type="list", elements="path",
                             default=["/usr/share/libvirt/nwfilter", "/etc/libvirt/nwfilter"]),
            **engine_options(("auto", "iptables", "firewalld"))
        ),
        supports_check_mode=True,
    )
    run_engine_module(module, Bindings(module))


if __name__ == "__main__":
    main()
