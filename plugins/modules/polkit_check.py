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
  - With O(checks), several questions are asked in one module run (one connection to the
    bus, one process per user), as a role that proves a whole policy needs.
  - Reads only; never changes anything.
options:
  action:
    description:
      - A polkit action id, or libvirt's C(object.permission) (for example V(domain.getattr)),
        which stands for C(org.libvirt.api.object.permission).
      - Required unless O(checks) is given.
    type: str
  user:
    description:
      - Check for a process of this user. Without O(checks), exactly one of O(user) and O(pid)
        is required.
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
  checks:
    description:
      - Several questions at once, each with the options above (O(checks[].action), exactly one
        of O(checks[].user) and O(checks[].pid), O(checks[].details), O(checks[].expect)).
        Every question is asked; the task fails if any answer is not the one expected, naming
        each. The answers are in RV(results), in order.
      - Mutually exclusive with O(action), O(user), O(pid), O(details) and O(expect).
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      action:
        description: As O(action).
        type: str
        required: true
      user:
        description: As O(user).
        type: str
      pid:
        description: As O(pid).
        type: int
      details:
        description: As O(details).
        type: dict
        default: {}
      expect:
        description: As O(expect).
        type: bool
extends_documentation_fragment:
  - virtkit.host.attributes.info_module
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

- name: A policy proved in one module run
  virtkit.host.polkit_check:
    checks:
      - {user: webteam, action: connect.getattr, details: {connect_driver: QEMU}, expect: true}
      - {user: webteam, action: domain.start, details: {connect_driver: QEMU, domain_name: web1},
         expect: false}
"""

RETURN = r"""
authorized:
  description: Whether polkit authorises the action.
  returned: success, without O(checks)
  type: bool
challenge:
  description: Whether it would be authorised after authentication.
  returned: success, without O(checks)
  type: bool
action_id:
  description: The polkit action id asked about.
  returned: without O(checks)
  type: str
  sample: org.libvirt.api.domain.getattr
results:
  description:
    - With O(checks), one answer per question, in order (also when an answer was not the one
      expected).
  returned: with O(checks), when every question could be asked
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    action_id:
      description: The polkit action id asked about.
      type: str
      sample: org.libvirt.api.connect.getattr
    subject:
      description: The user, or C(process PID).
      type: str
      sample: webteam
    details:
      description: The details asked with.
      type: dict
      sample: {connect_driver: QEMU}
    authorized:
      description: Whether polkit authorises the action.
      type: bool
    challenge:
      description: Whether it would be authorised after authentication.
      type: bool
    expected:
      description: Whether the answer is the one in O(checks[].expect) (true without one).
      type: bool
"""

from contextlib import ExitStack

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


QUESTION = dict(
    action=dict(type="str"),
    user=dict(type="str"),
    pid=dict(type="int"),
    details=dict(type="dict", default={}),
    expect=dict(type="bool"),
)


def ask(bus, processes, started, question):
    """One answer: (action id, subject, authorized, challenge). A user's process is started
    once per run and kept in ``started`` (user -> process); ``processes`` (an ExitStack) ends
    them all."""
    action_id = libvirt_action(question["action"])
    if question["user"] is not None:
        if question["user"] not in started:
            started[question["user"]] = processes.enter_context(ProcessAs(question["user"]))
        pid, subject = started[question["user"]].pid, question["user"]
    else:
        pid, subject = question["pid"], "process %d" % question["pid"]
    authorized, challenge = check_authorization(bus, pid, action_id, question["details"])
    return action_id, subject, authorized, challenge


def unexpected(action_id, subject, details, authorized, expect):
    return "%s for %s with details %s: polkit says %s, expected %s" % (
        action_id, subject, details, "authorized" if authorized else "not authorized",
        "authorized" if expect else "not authorized")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            QUESTION,
            checks=dict(type="list", elements="dict",
                        options=dict(QUESTION, action=dict(type="str", required=True)),
                        required_one_of=[("user", "pid")],
                        mutually_exclusive=[("user", "pid")]),
        ),
        required_one_of=[("user", "pid", "checks"), ("action", "checks")],
        mutually_exclusive=[("user", "pid", "checks"), ("checks", "action"),
                            ("checks", "expect")],
        supports_check_mode=True,
    )
    params = module.params
    if params["checks"] is not None and params["details"]:
        module.fail_json(msg="parameters are mutually exclusive: checks|details")
    questions = params["checks"] if params["checks"] is not None else [params]
    result = dict(changed=False)
    if params["checks"] is None:
        result["action_id"] = libvirt_action(params["action"])
    answers = []
    with failing_on(module, (FirewallUnavailableError, PolkitError), result):
        bus = SystemBus(user="polkit_check")
        try:
            with ExitStack() as processes:
                started = {}
                for question in questions:
                    answers.append(ask(bus, processes, started, question))
        finally:
            bus.close()
    failures = []
    results = []
    for question, (action_id, subject, authorized, challenge) in zip(questions, answers):
        expected = question["expect"] is None or question["expect"] == authorized
        results.append(dict(action_id=action_id, subject=subject, details=question["details"],
                            authorized=authorized, challenge=challenge, expected=expected))
        if not expected:
            failures.append(unexpected(action_id, subject, question["details"], authorized,
                                       question["expect"]))
    if params["checks"] is None:
        result.update(authorized=answers[0][2], challenge=answers[0][3])
    else:
        result["results"] = results
    if failures:
        module.fail_json(msg="; ".join(failures), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
