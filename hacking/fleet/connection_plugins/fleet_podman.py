# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to the demo fleet's containers (not part of the collection)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_podman
short_description: Run tasks in a local podman container with one podman exec per task
description:
  - The demo fleet's connection. Modules are piped to the container's Python on the standard
    input of C(podman exec -i) (pipelining), so a task costs one podman process instead of
    five; files go the same way.
author: virtkit.host contributors (@virtkit)
options:
  remote_addr:
    description: The container's name.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
"""

import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    transport = "fleet_podman"
    has_pipelining = True
    has_tty = False

    def _connect(self):
        self._connected = True
        return self

    def _podman(self, argv, in_data=None):
        container = self.get_option("remote_addr")
        argv = ["podman", "exec"] + (["-i"] if in_data is not None else []) + [container] + argv
        display.vvv("EXEC %s" % argv, host=container)
        proc = subprocess.run(argv, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._podman(["/bin/sh", "-c", cmd], in_data)

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        with open(in_path, "rb") as handle:
            code, _out, err = self._podman(["/bin/sh", "-c", 'cat > "$1"', "put", out_path],
                                           handle.read())
        if code != 0:
            raise AnsibleError("cannot write %s in the container: %s" % (out_path, err.decode(errors="replace")))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        code, out, err = self._podman(["cat", "--", in_path])
        if code != 0:
            raise AnsibleError("cannot read %s in the container: %s" % (in_path, err.decode(errors="replace")))
        with open(out_path, "wb") as handle:
            handle.write(out)

    def close(self):
        self._connected = False

    def reset(self):
        # Every command is a podman exec of its own: the next one is a new connection already
        # (what the confirmed changes' reset asks for).
        self.close()
