#!/usr/bin/python
# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: libvirt_logging_info
short_description: Read what libvirt's logging settings depend on, in one module run
version_added: 0.2.0
description:
  - Reads, in one module run, what the P(virtkit.host.libvirt_logging#role) role needs from a
    target before it changes anything - libvirtd's version, the daemon's configuration file,
    whether each file output's directory exists and its path is not a directory, and the
    running daemon's log filters and outputs (C(virt-admin daemon-log-filters) /
    C(daemon-log-outputs)).
  - Reads only; never changes anything. It runs in check mode too (reading is the only way to
    know what a run would change).
  - Commands run without a shell, in the C locale (their output is parsed).
options:
  config:
    description:
      - The daemon's configuration file, read as UTF-8 text (see RV(config)). A missing file
        reads as empty; one that is not a regular file (a directory, a dangling symbolic link, a
        FIFO) or cannot be read fails the module, naming it.
    type: path
    default: /etc/libvirt/libvirtd.conf
  version:
    description:
      - Run C(libvirtd --version) and return its output (RV(version_output)). A failure to run
        it fails the module, naming the command.
    type: bool
    default: false
  paths:
    description:
      - File outputs' paths; for each, its directory and itself are looked at without following
        a final symbolic link (as M(ansible.builtin.stat) does by default), see RV(paths).
      - Taken as given, with no C(~) or variable expansion (libvirt does none).
    type: list
    elements: str
    default: []
  daemon:
    description:
      - Ask the running daemon for these with C(virt-admin daemon-log-filters) /
        C(daemon-log-outputs). A daemon that does not answer does not fail the module (see
        RV(daemon_errors)).
    type: list
    elements: str
    choices: [filters, outputs]
    default: []
  admin_uri:
    description: C(virt-admin)'s connection URI (C(-c)); empty for its default (libvirtd's admin socket).
    type: str
    default: ""
  retries:
    description:
      - How many more times to ask the daemon when C(virt-admin) fails, O(delay) seconds apart. A
        socket-activated libvirtd that quits when idle may be going as a client connects; the
        next connection starts it again.
    type: int
    default: 2
  delay:
    description: Seconds between two tries of C(virt-admin).
    type: float
    default: 1
extends_documentation_fragment:
  - virtkit.host.attributes.info_module
requirements:
  - C(libvirtd) for O(version), C(virt-admin) for O(daemon).
seealso:
  - name: The libvirt_logging role
    description: The role P(virtkit.host.libvirt_logging#role) reads the target with this module.
    link: https://github.com/virtkit/virtkit.host/blob/main/docs/docsite/rst/guide_role_libvirt_logging.rst
  - name: libvirt's logging
    description: Log filters and outputs, and C(virt-admin)'s commands for them.
    link: https://libvirt.org/kbase/debuglogs.html
author:
  - virtkit.host contributors (@virtkit)
"""

EXAMPLES = r"""
- name: Read libvirtd's version, its configuration, a log file's place and the daemon's settings
  virtkit.host.libvirt_logging_info:
    version: true
    paths: [/var/log/libvirt/libvirtd.log]
    daemon: [filters, outputs]
  register: logging_info

- name: The daemon must have answered
  ansible.builtin.assert:
    that: logging_info.daemon_errors == {}
    fail_msg: "{{ logging_info.daemon_errors }}"
"""

RETURN = r"""
version_output:
  description: C(libvirtd --version)'s output (trailing line breaks dropped).
  returned: when O(version) is true
  type: str
  sample: libvirtd (libvirt) 9.0.0
config:
  description: The configuration file.
  returned: always
  type: dict
  contains:
    path:
      description: Its path.
      type: str
      sample: /etc/libvirt/libvirtd.conf
    exists:
      description: Whether it exists.
      type: bool
    content:
      description: Its text; empty when it does not exist.
      type: str
paths:
  description: For each of O(paths), in order, what its directory and itself are.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
      sample: /var/log/libvirt/libvirtd.log
    dir:
      description: Its directory.
      type: dict
      contains: &looked
        path:
          description: The path looked at.
          type: str
        exists:
          description: Whether it exists (a symbolic link exists, whatever it points to).
          type: bool
        isdir:
          description: Whether it is a directory (false for a symbolic link to one).
          type: bool
        error:
          description:
            - Why it could not be looked at (for example C(Not a directory) for a path under a
              file, C(Permission denied)); null when it could.
          type: str
    file:
      description: The path itself.
      type: dict
      contains: *looked
daemon:
  description: The output of C(virt-admin daemon-log-KEY) for each of O(daemon) that answered, by key.
  returned: always
  type: dict
  sample: {filters: " Logging filters: 1:*util.firewall*", outputs: " Logging outputs: 3:stderr"}
daemon_errors:
  description:
    - For each of O(daemon) that did not answer after O(retries) more tries, by key, C(virt-admin)'s
      error output (or why it could not run).
  returned: always
  type: dict
  sample: {filters: "error: Failed to connect to the admin server"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtkit.host.plugins.module_utils._libvirt_logging_info import (
    DAEMON_KEYS,
    ReadError,
    read,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path", default="/etc/libvirt/libvirtd.conf"),
            version=dict(type="bool", default=False),
            paths=dict(type="list", elements="str", default=[]),
            daemon=dict(type="list", elements="str", choices=list(DAEMON_KEYS), default=[]),
            admin_uri=dict(type="str", default=""),
            retries=dict(type="int", default=2),
            delay=dict(type="float", default=1),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["config"]:
        module.fail_json(msg="config must be a path, not empty")
    if params["retries"] < 0 or params["delay"] < 0:
        module.fail_json(msg="retries and delay must not be negative (retries %d, delay %s)"
                         % (params["retries"], params["delay"]))
    try:
        result = read(config=params["config"], want_version=params["version"],
                      paths=params["paths"], daemon=params["daemon"],
                      admin_uri=params["admin_uri"], retries=params["retries"],
                      delay=params["delay"])
    except ReadError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
