# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: polkit_acl
short_description: Render a declarative libvirt access policy as polkit JavaScript rules
version_added: 0.1.0
description:
  - Checks each entry against libvirt's ACL objects, permissions and details and renders the
    polkit rules (ECMAScript 5) that enforce it, every value escaped. Values are typed
    (C(user), C(group), C(name) and detail values are strings, C(actions) a string or a list
    of strings, C(result) and C(otherwise) strings among their choices) and refused with a
    control character, a line break (U+2028 and U+2029 included) or a character outside the
    Basic Multilingual Plane (polkit's duktape engine never matches one). Used by the
    P(virtkit.host.polkit_acl#role) role.
  - An entry that does not match falls through to the next; with O(default=deny) a final rule
    refuses every C(org.libvirt.api.*) action no entry decided.
  - "A detail value is a string (exact), C({glob: PATTERN}) (C(*) any run of characters, C(?)
    one character) or a list of them (any of); C(user) and C(group) are a string or a list
    (any of); C(local) and C(active) (booleans) test the subject's session."
options:
  _input:
    description: Policy entries (see the role's C(polkit_acl_rules)).
    type: list
    elements: dict
    required: true
  header:
    description: Comment lines put at the top (each starting with C(//)).
    type: str
    default: ""
  default:
    description:
      - What happens to a libvirt API action no entry decided. V(deny) refuses it (polkitd
        authorises uid 0 before any rule runs); V(libvirt) leaves it to libvirt's own policy,
        which allows its read-only actions to any local user.
    type: str
    choices: [deny, libvirt]
    default: deny
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: The rules file's content
  ansible.builtin.debug:
    msg: "{{ [{'user': 'berrange', 'actions': ['connect.getattr'],
               'details': {'connect_driver': 'QEMU'}}] | virtkit.host.polkit_acl }}"
"""

RETURN = r"""
_value:
  description: The rules file's text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_acl import AclError, render


def polkit_acl(policy, header="", default="deny"):
    try:
        return render(policy, header, default)
    except (AclError, vocabulary.InvalidValue) as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"polkit_acl": polkit_acl}
