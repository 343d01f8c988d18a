# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to the demo fleet's containers (not part of the collection)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_podman
short_description: Run tasks in a local podman container over one persistent podman exec
description:
  - The demo fleet's connection. Like SSH with C(ControlPersist), the first task on a host
    starts a channel that later tasks reuse for the whole playbook run. The channel is one
    C(podman exec -i) of a small Python agent in the container, which runs each command with
    C(/bin/sh -c); modules are piped to the container's Python on the command's standard input
    (pipelining), and files go the same way. A task then costs no podman process at all.
  - The channel is an abstract Unix socket that only processes of the same user may use. It
    runs one command at a time per host (what a linear play asks) and ends with the run;
    C(reset) ends it, so the next task opens a new one (what a
    confirmed firewall change asks for). Where no channel can be opened, each command is a
    C(podman exec) of its own.
author: virtkit.host contributors (@virtkit)
options:
  remote_addr:
    description: The container's name.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  channel:
    description:
      - Whether to keep a channel per host for the run; false runs each command with a
        C(podman exec) of its own.
    type: bool
    default: true
    vars:
      - name: fleet_podman_channel
    env:
      - name: FLEET_PODMAN_CHANNEL
"""

import hashlib
import os
import socket
import struct
import subprocess
import sys

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# Frames on the channel: a 4-byte big-endian length, then that many bytes. A request is the
# command and its standard input; an answer is the exit code, standard output and error.
# An empty command asks the agent to stop.
FRAMES = r'''
import struct
def send(stream, *frames):
    for frame in frames:
        stream.write(struct.pack(">I", len(frame)) + frame)
    stream.flush()
def receive(stream, count):
    frames = []
    for _ in range(count):
        head = stream.read(4)
        if len(head) < 4:
            return None
        size = struct.unpack(">I", head)[0]
        body = stream.read(size)
        if len(body) < size:
            return None
        frames.append(body)
    return frames
'''

# Runs in the container on the Python the modules use; its working directory and environment
# are podman exec's, as for a command run with podman exec of its own.
AGENT = FRAMES + r'''
import subprocess, sys
send(sys.stdout.buffer, b"ready")
while True:
    request = receive(sys.stdin.buffer, 2)
    if not request or not request[0]:
        break
    try:
        proc = subprocess.run(["/bin/sh", "-c", request[0].decode()], input=request[1],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (OSError, ValueError) as error:  # a NUL byte in the command, no /bin/sh...
        send(sys.stdout.buffer, b"127", b"", ("fleet_podman agent: %s" % error).encode())
        continue
    send(sys.stdout.buffer, str(proc.returncode).encode(), proc.stdout, proc.stderr)
'''

# Runs on the controller, detached: owns the agent, serves one request at a time on an
# abstract Unix socket (no file to clean up or to find too long a path for; bound once, so the
# name is the lock) to processes of its own user only, and ends with the playbook run (its
# process gone) or when asked (reset). No idle timeout: a channel that ends on its own could
# take a command with it.
MASTER = FRAMES + r"""
import os, select, socket, struct, subprocess, sys
name, container, python, owner, agent_code = sys.argv[1:6]
owner = int(owner)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    server.bind(b"\0" + name.encode())
except OSError:
    sys.stdout.write("exists\n")
    sys.exit(0)
agent = subprocess.Popen(["podman", "exec", "-i", container, python, "-c", agent_code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
if receive(agent.stdout, 1) != [b"ready"]:
    sys.stdout.write("no agent in %s\n" % container)
    sys.exit(1)


def serve(client):
    # Answers one asker; False when asked to stop (reset).
    _pid, uid, _gid = struct.unpack("3i", client.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid != os.getuid():
        return True  # another user's process: closed unanswered
    with client.makefile("rwb") as stream:
        request = receive(stream, 2)
        if request is None:
            return True  # gone before it asked
        if not request[0]:
            # Unbound before the asker is answered (by closing): its next task opens a new
            # channel.
            server.close()
            return False
        try:
            send(agent.stdin, *request)
            answer = receive(agent.stdout, 3)
        except OSError:
            answer = None
        if answer is None:
            raise SystemExit(1)  # the agent is gone: so is the channel
        send(stream, *answer)
    return True


server.listen(16)
sys.stdout.write("ready\n")
sys.stdout.flush()
os.close(1)
try:
    while True:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            break
        if not select.select([server], [], [], 1.0)[0]:
            continue
        client, _ = server.accept()
        try:
            if not serve(client):
                break
        except OSError:
            pass  # the asker went away (a killed worker); the channel goes on
        finally:
            client.close()
finally:
    server.close()
    try:
        agent.stdin.close()
    except OSError:
        pass
    try:
        agent.wait(10)
    except subprocess.TimeoutExpired:
        agent.kill()
"""

_frames = {}
exec(FRAMES, _frames)  # pylint: disable=exec-used
send_frames, receive_frames = _frames["send"], _frames["receive"]


class Connection(ConnectionBase):
    transport = "fleet_podman"
    has_pipelining = True
    has_tty = False

    def _connect(self):
        self._connected = True
        return self

    # -- the channel ---------------------------------------------------------------------------

    def _channel_name(self):
        """The channel's abstract socket name: per user, playbook run and container. The
        workers are forked by ansible-playbook, whose process is the run."""
        return "virtkit-fleet-podman/%d/%d/%s" % (
            os.getuid(), os.getppid(),
            hashlib.sha1(self.get_option("remote_addr").encode()).hexdigest()[:16])

    def _open_channel(self, name):
        """A connected socket to the host's channel, started first if there is none; None
        where it cannot be started (the caller runs a podman exec of its own)."""
        try:
            return self._dial(name)
        except OSError:
            pass
        # The fleet image's Python (the one the inventory gives the modules).
        argv = [sys.executable, "-c", MASTER, name, self.get_option("remote_addr"),
                "/usr/bin/python3", str(os.getppid()), AGENT]
        display.vvv("CHANNEL %s" % name, host=self.get_option("remote_addr"))
        master = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, start_new_session=True,
                                  close_fds=True)
        line = master.stdout.readline()
        master.stdout.close()
        if line not in (b"ready\n", b"exists\n"):
            master.wait()
            display.vvv("no channel: %s" % line.decode(errors="replace").strip(),
                        host=self.get_option("remote_addr"))
            return None
        if line == b"exists\n":
            master.wait()
        try:
            # "exists": another worker's master, which may still be starting its agent.
            return self._dial(name)
        except OSError:
            return None

    @staticmethod
    def _dial(name):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(b"\0" + name.encode())
            _pid, uid, _gid = struct.unpack("3i", client.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            if uid != os.getuid():
                raise ConnectionRefusedError("the channel %s is another user's" % name)
        except OSError:
            client.close()
            raise
        return client

    def _over_channel(self, cmd, in_data):
        """(code, stdout, stderr) of cmd run by the host's channel; None where there is none."""
        if not self.get_option("channel"):
            return None
        client = self._open_channel(self._channel_name())
        if client is None:
            return None
        container = self.get_option("remote_addr")
        display.vvv("EXEC (channel) %s" % cmd, host=container)
        with client, client.makefile("rwb") as stream:
            send_frames(stream, cmd.encode(), in_data or b"")
            answer = receive_frames(stream, 3)
        if answer is None:
            # The command may have run: it is not run again.
            raise AnsibleConnectionFailure("the channel to %s closed during a command" % container)
        return int(answer[0]), answer[1], answer[2]

    # -- commands and files ----------------------------------------------------------------------

    def _podman(self, argv, in_data=None):
        container = self.get_option("remote_addr")
        argv = ["podman", "exec"] + (["-i"] if in_data is not None else []) + [container] + argv
        display.vvv("EXEC %s" % argv, host=container)
        proc = subprocess.run(argv, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def _run(self, cmd, in_data=None):
        result = self._over_channel(cmd, in_data)
        return result if result is not None else self._podman(["/bin/sh", "-c", cmd], in_data)

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._run(cmd, in_data)

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        with open(in_path, "rb") as handle:
            code, _out, err = self._run('cat > %s' % _quote(out_path), handle.read())
        if code != 0:
            raise AnsibleError("cannot write %s in the container: %s" % (out_path, err.decode(errors="replace")))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        code, out, err = self._run("cat -- %s" % _quote(in_path))
        if code != 0:
            raise AnsibleError("cannot read %s in the container: %s" % (in_path, err.decode(errors="replace")))
        with open(out_path, "wb") as handle:
            handle.write(out)

    def close(self):
        self._connected = False

    def reset(self):
        # The next task opens a new channel (a new podman exec): what the confirmed changes'
        # reset asks for, to prove the host can still be reached.
        if self.get_option("channel"):
            try:
                client = self._dial(self._channel_name())
            except OSError:
                pass
            else:
                with client, client.makefile("rwb") as stream:
                    send_frames(stream, b"", b"")
                    stream.read()
        self.close()


def _quote(word):
    return "'" + word.replace("'", "'\"'\"'") + "'"
