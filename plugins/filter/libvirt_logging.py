# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: libvirt_logging
short_description: libvirt's logging settings, checked, as libvirtd.conf values
version_added: 0.1.0
description:
  - Checks log level, filters and outputs the way libvirtd would (so a bad value is caught
    before a daemon fails to start on it) and returns the libvirtd.conf values to set, naming
    the offending entry otherwise (for example
    C(libvirt_logging_outputs[1].path - '/var/log/a:b' contains ':')). Values are typed
    (levels are integers, C(match), C(type), C(ident) and C(path) strings, C(stack_trace) a
    boolean, no unknown keys), strings have no control character or line break (U+2028 and
    U+2029 included), and strings are quoted as libvirt's configuration parser reads them (a
    path holding C(") is written between single quotes). Used by the
    P(virtkit.host.libvirt_logging#role) role.
options:
  _input:
    description: The filters, as the role's C(libvirt_logging_filters).
    type: list
    elements: dict
    required: true
  outputs:
    description: The outputs, as the role's C(libvirt_logging_outputs).
    type: list
    elements: dict
    default: []
  level:
    description: The default level (1-4), or null to leave C(log_level) alone.
    type: int
  version:
    description: libvirt's version (C(libvirtd --version) output will do), for version-dependent settings.
    type: str
  quoted:
    description:
      - Quote C(log_filters) and C(log_outputs) for libvirtd.conf (the default); false returns
        them as libvirt takes them elsewhere (C(virt-admin daemon-log-outputs) arguments).
    type: bool
    default: true
  clear:
    description:
      - C(filters) and/or C(outputs) to remove from the configuration (back to libvirt's
        default); with O(current).
    type: list
    elements: str
  current:
    description:
      - The configuration file's current text. Given, the filter returns the role's plan
        instead of the values (see RV(_value)).
    type: str
  daemon_filters:
    description: C(virt-admin daemon-log-filters) output (the running daemon's filters), with O(current).
    type: str
  daemon_outputs:
    description: C(virt-admin daemon-log-outputs) output, with O(current).
    type: str
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: The settings
  ansible.builtin.debug:
    msg: "{{ [{'level': 1, 'match': 'qemu'}] | virtkit.host.libvirt_logging(outputs=[{'level': 1, 'type': 'journald'}]) }}"
"""

RETURN = r"""
_value:
  description:
    - libvirtd.conf keys and values (C(log_filters), C(log_outputs), C(log_level), C(log_buffer_size)).
    - Empty filters or outputs leave their key out.
    - With O(current), the plan instead - C(config) the file's new text (each key written
      where libvirt reads it, its first uncommented line, and only there), C(differs) (whether it changes),
      C(runtime) the values virt-admin must set for the running daemon to match (only those
      that differ; empty resets to libvirt's default) and C(restart) the reasons a restart is
      needed (a changed C(log_level)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_logging import (
    plan,
    settings,
    values,
)


def libvirt_logging(filters, outputs=(), level=None, version=None, quoted=True, clear=None,
                    current=None, daemon_filters=None, daemon_outputs=None):
    try:
        if current is not None:
            return plan(current, level, filters, outputs, version, clear, daemon_filters,
                        daemon_outputs)
        return (settings if quoted else values)(level, filters, outputs, version)
    except vocabulary.InvalidValue as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"libvirt_logging": libvirt_logging}
