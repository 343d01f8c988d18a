#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: firewalld
short_description: firewalld zones and policies as data, over DBus, in one transaction
version_added: 0.1.0
description:
  - Brings firewalld zones and policies to the wanted state over one DBus connection (never
    C(firewall-cmd), never the deprecated direct interface), in firewalld's runtime and
    permanent configuration together, without a reload.
  - Reads each zone and policy once per layer, then sends only the settings that change, at
    most two calls per zone or policy and layer (first the removals, then the additions, so
    that an interface, a source or a forward port moves without a conflict).
  - Everything of a task is one transaction. If a call fails, every change the task already
    made is undone, in the runtime and the permanent configuration, and the error names the
    zone or policy, the layer and the settings.
  - Names, ports, addresses and rich rules are checked before anything changes; unknown
    services and zones are refused with the field that names them.
  - "firewalld 1.3 changes these only in its permanent configuration: creating or removing a
    zone or policy, a zone's or policy's O(zones[].target), a policy's O(policies[].priority).
    With O(persist=both) the module makes them there and warns that the runtime takes them at
    the next reload; with O(persist=runtime) they are refused."
  - Element sets that a zone or policy does not list are left as they are, in both modes.
extends_documentation_fragment:
  - virtkit.host.attributes
options:
  zones:
    description: The zones.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The zone's name.
        type: str
        required: true
      state:
        description: V(absent) removes the zone (only zones of your own, not firewalld's).
        type: str
        choices: [present, absent]
        default: present
      mode:
        description:
          - V(merge) adds the listed elements; V(exact) also removes the elements of a listed
            set that are not listed.
        type: str
        choices: [merge, exact]
        default: merge
      target:
        description: What happens to packets no rule decides on.
        type: str
        choices: [default, ACCEPT, DROP, REJECT]
      interfaces:
        description: Network interfaces bound to the zone.
        type: list
        elements: str
      sources:
        description: Source addresses, networks, MAC addresses or C(ipset:NAME) bound to the zone.
        type: list
        elements: str
      services:
        description: Services (firewalld's service names) allowed.
        type: list
        elements: str
      ports:
        description: Ports allowed, V(PORT/PROTOCOL) or V(LOW-HIGH/PROTOCOL). Overlapping ranges merge.
        type: list
        elements: str
      protocols:
        description: IP protocols allowed.
        type: list
        elements: str
      source_ports:
        description: Source ports allowed, as O(zones[].ports).
        type: list
        elements: str
      forward_ports:
        description: Port forwards; one per port and protocol (merge replaces its target).
        type: list
        elements: dict
        suboptions:
          port:
            description: The port or range.
            type: str
            required: true
          protocol:
            description: The protocol.
            type: str
            required: true
            choices: [tcp, udp, sctp, dccp]
          to_port:
            description: The port forwarded to.
            type: str
          to_addr:
            description: The address forwarded to.
            type: str
      masquerade:
        description: Masquerade traffic the zone forwards.
        type: bool
      icmp_blocks:
        description: ICMP types blocked.
        type: list
        elements: str
      icmp_block_inversion:
        description: Invert O(zones[].icmp_blocks).
        type: bool
      rich_rules:
        description:
          - Rich rules. Written as firewalld lists them (C(firewall-cmd --list-rich-rules)), they
            compare equal to the rules firewalld holds; attribute values are quoted for you.
        type: list
        elements: str
  policies:
    description: The policies (traffic between zones).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The policy's name.
        type: str
        required: true
      state:
        description: V(absent) removes the policy (only policies of your own).
        type: str
        choices: [present, absent]
        default: present
      mode:
        description: As O(zones[].mode).
        type: str
        choices: [merge, exact]
        default: merge
      ingress_zones:
        description: Zones (or V(ANY), V(HOST)) the traffic comes from.
        type: list
        elements: str
      egress_zones:
        description: Zones (or V(ANY), V(HOST)) the traffic goes to.
        type: list
        elements: str
      priority:
        description: The policy's priority (-32768..32767, not 0).
        type: int
      target:
        description: What happens to packets no rule decides on.
        type: str
        choices: [CONTINUE, ACCEPT, DROP, REJECT]
      services:
        description: As O(zones[].services).
        type: list
        elements: str
      ports:
        description: As O(zones[].ports).
        type: list
        elements: str
      protocols:
        description: As O(zones[].protocols).
        type: list
        elements: str
      source_ports:
        description: As O(zones[].source_ports).
        type: list
        elements: str
      forward_ports:
        description: As O(zones[].forward_ports).
        type: list
        elements: dict
        suboptions:
          port:
            description: The port or range.
            type: str
            required: true
          protocol:
            description: The protocol.
            type: str
            required: true
            choices: [tcp, udp, sctp, dccp]
          to_port:
            description: The port forwarded to.
            type: str
          to_addr:
            description: The address forwarded to.
            type: str
      masquerade:
        description: As O(zones[].masquerade).
        type: bool
      icmp_blocks:
        description: As O(zones[].icmp_blocks).
        type: list
        elements: str
      rich_rules:
        description: As O(zones[].rich_rules).
        type: list
        elements: str
  persist:
    description:
      - Where the changes go. V(both) keeps the runtime and the permanent configuration in step
        without a reload.
    type: str
    choices: [both, runtime, permanent]
    default: both
  confirm_timeout:
    description:
      - Arm a revert of the task's change on the host that fires after this many seconds unless
        the controller confirms the change over a new connection (the module's action plugin
        does, with M(virtkit.host.firewall_confirm)); when no new connection gets through, the
        task waits for the revert and fails, saying that the change was reverted (RV(revert)).
      - The revert sends the undo of every call the task made, newest first, as the module's
        rollback does (a runtime undo sets the keys it changed back to their earlier values).
        It runs in a detached process under the host's firewall lock
        C(/run/virtkit.host.firewall.lock), which this module holds from reading to applying,
        and never fires after a confirmation.
      - While a revert is armed on the host, the task fails instead of stacking its change on it.
      - In check mode, RV(revert) says whether a revert would be armed.
    type: int
    version_added: 0.1.0
requirements:
  - dbus-next (Python library) on the managed host
  - firewalld 1.x running
seealso:
  - module: virtkit.host.firewall
  - name: Zones and policies with virtkit.host.firewalld
    description: The collection's guide.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_firewalld.rst
  - name: firewalld's DBus interface
    description: The calls the module makes.
    link: https://firewalld.org/documentation/man-pages/firewalld.dbus.html
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: A zone for libvirt guests' management network
  virtkit.host.firewalld:
    zones:
      - name: public
        services: [ssh]
        ports: ["49152-49215/tcp"]
      - name: mgmt
        target: DROP
        sources: [10.20.0.0/24]
        services: [ssh, libvirt]
        rich_rules:
          - rule family="ipv4" source address="10.20.0.5" accept

- name: Exactly these ports in public, runtime only
  virtkit.host.firewalld:
    persist: runtime
    zones:
      - {name: public, mode: exact, ports: ["22/tcp", "80/tcp"]}

- name: A policy from the internal zone to the outside world
  virtkit.host.firewalld:
    policies:
      - name: int-to-ext
        ingress_zones: [internal]
        egress_zones: [external]
        target: ACCEPT
        masquerade: true
"""

RETURN = r"""
revert:
  description: The revert armed by O(confirm_timeout), and what became of it.
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
      description: The undo calls armed, in order (interface, member, path, signature, body).
      returned: when armed
      type: list
      elements: dict
    confirm_seconds:
      description: How long the confirmation over a new connection took.
      returned: when armed
      type: float
reverted:
  description: The change was reverted because it could not be confirmed.
  returned: when the revert fired
  type: bool
calls:
  description:
    - The DBus calls that changed firewalld (in check mode, that would have), in order; after a
      failure, the rollback's calls too.
  returned: always
  type: list
  elements: dict
  sample: [{interface: org.fedoraproject.FirewallD1.zone, member: setZoneSettings2,
            args: [public, {ports: [["80", "tcp"]]}]}]
  contains:
    interface:
      description: The DBus interface.
      returned: always
      type: str
    member:
      description: The method.
      returned: always
      type: str
    args:
      description: Its arguments.
      returned: always
      type: list
      elements: raw
zones:
  description: Per zone, what was done (in check mode, would be done).
  returned: always
  type: list
  elements: dict
  sample: [{name: public, action: changed}]
  contains:
    name:
      description: The zone's name.
      returned: always
      type: str
    action:
      description: What was done.
      returned: always
      type: str
      choices: [unchanged, changed, created, removed]
policies:
  description: Per policy, what was done, shaped as RV(zones).
  returned: always
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.model import (
    items_from,
)
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.planner import (
    Client,
    Planner,
)
from ansible_collections.virtkit.host.plugins.module_utils._module_support import fail
from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm
from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm_firewalld
from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import host_lock
from ansible_collections.virtkit.host.plugins.module_utils._vocabulary import InvalidValue

LIST = dict(type="list", elements="str")
FORWARD = dict(type="list", elements="dict", options=dict(
    port=dict(type="str", required=True),
    protocol=dict(type="str", required=True, choices=["tcp", "udp", "sctp", "dccp"]),
    to_port=dict(type="str"),
    to_addr=dict(type="str"),
))
COMMON = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    mode=dict(type="str", default="merge", choices=["merge", "exact"]),
    services=LIST, ports=LIST, protocols=LIST, source_ports=LIST, forward_ports=FORWARD,
    masquerade=dict(type="bool"), icmp_blocks=LIST, rich_rules=LIST,
)


def _arm(module, planner, calls, timeout):
    """The revert of the calls made (confirm_timeout), or what would be armed."""
    if not calls or module.check_mode:
        return _confirm.not_armed(timeout, calls)
    return _confirm.arm(_confirm_firewalld.undo_calls(planner), timeout, "firewalld",
                        "virtkit.host.firewalld",
                        bus_address=os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"),
                        apply=_confirm_firewalld.apply_undo)


def run(module, result):
    items = items_from(module.params)
    timeout = module.params["confirm_timeout"]
    _confirm.check_timeout(timeout)
    client = Client()
    try:
        with host_lock():
            _confirm.refuse_if_armed()
            planner = Planner(client, items, module.params["persist"], module.check_mode)
            planner.read()
            planner.plan()
            for action in planner.actions:
                result["zones" if action.pop("kind") == "zone" else "policies"].append(action)
            try:
                calls = planner.apply()
            except FirewallError as exc:
                # Rolled back: nothing was done, but the calls (rollback included) are shown.
                result.update(zones=[], policies=[])
                result["calls"] = [call.to_dict() for call in getattr(exc, "calls", [])]
                raise
            if timeout is not None:
                result["revert"] = _arm(module, planner, calls, timeout)
    finally:
        client.close()
    for warning in planner.warnings:
        module.warn(warning)
    result["calls"] = [call.to_dict() for call in calls]
    result["changed"] = bool(calls)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = [dict(before_header=header, after_header=header, before=before,
                               after=after) for header, before, after in planner.diffs]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zones=dict(type="list", elements="dict", default=[], options=dict(
                COMMON,
                target=dict(type="str", choices=["default", "ACCEPT", "DROP", "REJECT"]),
                interfaces=LIST, sources=LIST, icmp_block_inversion=dict(type="bool"),
            )),
            policies=dict(type="list", elements="dict", default=[], options=dict(
                COMMON,
                ingress_zones=LIST, egress_zones=LIST, priority=dict(type="int"),
                target=dict(type="str", choices=["CONTINUE", "ACCEPT", "DROP", "REJECT"]),
            )),
            persist=dict(type="str", default="both", choices=["both", "runtime", "permanent"]),
            confirm_timeout=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    result = dict(changed=False, calls=[], zones=[], policies=[])
    try:
        run(module, result)
    except MissingLibraryError as exc:
        fail(module, exc, **result)
    except (FirewallError, InvalidValue) as exc:
        message = str(exc)
        undo_failed = getattr(exc, "undo_failed", None)
        if undo_failed:
            result["changed"] = True
            message += "; the rollback could not undo: %s" % "; ".join(
                "%s %s" % (call.member, text) for call, text in undo_failed)
        module.fail_json(msg=message, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
