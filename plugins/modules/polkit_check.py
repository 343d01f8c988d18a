#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: polkit_check
short_description: Ask polkitd whether a user or process may perform an action (libvirt ACLs)
version_added: 0.1.0
description:
  - Asks polkitd over DBus (C(CheckAuthorization), not C(pkcheck)) whether a subject may
    perform an action with the given details, the way libvirt's polkit access driver asks for
    every API call. Playbooks use it to assert the access control they install
    (see the P(virtkit.host.polkit_acl#role) role).
  - The subject is a process; for O(user) the module runs a short-lived process as that user.
    polkit always authorises uid 0, so check non-root users.
  - Reads only; never changes anything.
options:
  action:
    description:
      - A polkit action id, or libvirt's C(object.permission) (for example V(domain.getattr)),
        which stands for C(org.libvirt.api.object.permission).
    type: str
    required: true
  user:
    description: Check for a process of this user. Exactly one of O(user) and O(pid) is required.
    type: str
  pid:
    description: Check for this existing process.
    type: int
  details:
    description: The action's details, as libvirt passes them (for example C(connect_driver), C(domain_name)).
    type: dict
    default: {}
  expect:
    description: Fail the task unless the answer is this (C(true) authorised, C(false) not).
    type: bool
extends_documentation_fragment:
  - virtkit.host.attributes
attributes:
  diff_mode:
    support: none  # it reads only: nothing to diff
requirements:
  - polkitd on the system bus; the Python library C(dbus-next).
seealso:
  - name: The polkit_acl role
    description: The role P(virtkit.host.polkit_acl#role) installs the access control this module checks.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_role_polkit_acl.rst
  - name: libvirt's polkit access control
    description: The actions (C(org.libvirt.api.*)) and details libvirt asks polkit about.
    link: https://libvirt.org/aclpolkit.html
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: berrange may use the QEMU driver
  virtkit.host.polkit_check:
    user: berrange
    action: connect.getattr
    details: {connect_driver: QEMU}
    expect: true

- name: but not see domain other on LXC
  virtkit.host.polkit_check:
    user: berrange
    action: org.libvirt.api.domain.getattr
    details: {connect_driver: LXC, domain_name: other}
    expect: false
"""

RETURN = r"""
authorized:
  description: Whether polkit authorises the action.
  returned: success
  type: bool
challenge:
  description: Whether it would be authorised after authentication.
  returned: success
  type: bool
action_id:
  description: The polkit action id asked about.
  returned: always
  type: str
  sample: org.libvirt.api.domain.getattr
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils._dbus import SystemBus
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallUnavailableError
from ansible_collections.virtkit.host.plugins.module_utils._module_support import failing_on
from ansible_collections.virtkit.host.plugins.module_utils._polkit import (
    PolkitError,
    ProcessAs,
    check_authorization,
    libvirt_action,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True),
            user=dict(type="str"),
            pid=dict(type="int"),
            details=dict(type="dict", default={}),
            expect=dict(type="bool"),
        ),
        required_one_of=[("user", "pid")],
        mutually_exclusive=[("user", "pid")],
        supports_check_mode=True,
    )
    params = module.params
    action_id = libvirt_action(params["action"])
    result = dict(changed=False, action_id=action_id)
    with failing_on(module, (FirewallUnavailableError, PolkitError), result):
        bus = SystemBus(user="polkit_check")
        try:
            if params["user"]:
                with ProcessAs(params["user"]) as process:
                    authorized, challenge = check_authorization(bus, process.pid, action_id,
                                                                params["details"])
            else:
                authorized, challenge = check_authorization(bus, params["pid"], action_id,
                                                            params["details"])
        finally:
            bus.close()
    result.update(authorized=authorized, challenge=challenge)
    if params["expect"] is not None and params["expect"] != authorized:
        module.fail_json(msg="%s for %s with details %s: polkit says %s, expected %s"
                         % (action_id, params["user"] or "process %d" % params["pid"],
                            params["details"], "authorized" if authorized else "not authorized",
                            "authorized" if params["expect"] else "not authorized"), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
