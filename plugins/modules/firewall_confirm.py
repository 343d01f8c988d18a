#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: firewall_confirm
short_description: Confirm a firewall change armed with confirm_timeout, or read what became of it
version_added: 0.1.0
description:
  - A task of M(virtkit.host.firewall), M(virtkit.host.virt_network_firewall),
    M(virtkit.host.nwfilter_binding) or M(virtkit.host.firewalld) given
    O(virtkit.host.firewall#module:confirm_timeout) arms
    a revert of its change on the host. Their action plugins confirm it over a new connection
    with this module; playbooks seldom call it themselves.
  - O(action=confirm) removes the revert's journal under the host's firewall lock, so the revert
    never fires. If the revert has fired already, the module says so in RV(status).
  - O(action=status) only reads what became of the change.
options:
  id:
    description: The revert's id (RV(virtkit.host.firewall#module:revert.id) of the task that armed it).
    type: str
    required: true
  action:
    description: Confirm the change, or only read its status.
    type: str
    choices: [confirm, status]
    default: confirm
extends_documentation_fragment:
  - virtkit.host.attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - See the collection's guide to confirmed changes (docs/docsite/rst/guide_confirmed_changes.rst).
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: Confirm a change by hand
  virtkit.host.firewall_confirm:
    id: "{{ change.revert.id }}"
"""

RETURN = r"""
status:
  description:
    - V(confirmed) (this call confirmed it), V(armed) (still waiting; O(action=status) only),
      V(reverted) (the revert fired), V(failed) (the revert fired and some undo failed),
      V(unknown) (no such revert on this host, or it was confirmed before).
  returned: always
  type: str
  sample: confirmed
late:
  description: The confirmation came after the deadline, before the revert took the lock.
  returned: when RV(status=confirmed)
  type: bool
failed_undo:
  description: The undo rules ([layer, arguments]) that failed, when the revert fired.
  returned: when the revert fired
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm


def main():
    module = AnsibleModule(
        argument_spec=dict(
            id=dict(type="str", required=True),
            action=dict(type="str", default="confirm", choices=["confirm", "status"]),
        ),
        supports_check_mode=False,
    )
    try:
        if module.params["action"] == "confirm":
            outcome = _confirm.confirm(module.params["id"])
        else:
            outcome = _confirm.status(module.params["id"])
    except (FirewallError, OSError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=outcome["status"] == "confirmed", status=outcome["status"])
    for key in ("late", "deadline", "at", "error", "undo"):
        if key in outcome:
            result[key] = outcome[key]
    if "failed" in outcome:
        result["failed_undo"] = outcome["failed"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
