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
import multiprocessing
import os
import socket
import subprocess
import sys

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# Frames on the channel: a 4-byte big-endian length, then that many bytes. A request is the
# command and its standard input; an answer is the exit code, standard output and error.
# An empty command asks the agent to stop. peer_uid: the user of the process at a Unix
# socket's other end (the channel and its askers check each other).
FRAMES = r'''
import socket, struct
def peer_uid(sock):
    return struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                               struct.calcsize("3i")))[1]
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
# are podman exec's, as for a command run with podman exec of its own. Each command runs in a
# process group of its own, which a TERM to the agent (podman exec passes it on) takes down with
# it, as it would take a command run by a podman exec of its own.
AGENT = FRAMES + r"""
import os, signal, subprocess, sys
running = []
def stop(signum, frame):
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(143)
signal.signal(signal.SIGTERM, stop)
send(sys.stdout.buffer, b"ready")
while True:
    request = receive(sys.stdin.buffer, 2)
    if not request or not request[0]:
        break
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", request[0].decode(errors="surrogateescape")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except (OSError, ValueError) as error:  # a NUL byte in the command, no /bin/sh...
        send(sys.stdout.buffer, b"127", b"", ("fleet_podman agent: %s" % error).encode())
        continue
    running[:] = [proc]
    out, err = proc.communicate(request[1])
    running[:] = []
    send(sys.stdout.buffer, str(proc.returncode).encode(), out, err)
"""

# Runs on the controller, detached: owns the agent, serves one request at a time on an
# abstract Unix socket (no file to clean up or to find too long a path for; bound once, so the
# name is the lock) to processes of its own user only, and ends with the playbook run (its
# process gone), when its agent is gone, or when asked (reset). No idle timeout: a channel that
# ends on its own could take a command with it. While a command runs it watches the asker and
# the run: if either goes away (a task's timeout, Ctrl-C), the agent and the command are ended
# and so is the channel, so that the host's next task does not wait behind them.
# An answer "retry" means "not run": the asker runs the command with a podman exec of its own.
MASTER = FRAMES + r"""
import os, select, signal, socket, subprocess, sys
name, container, python, owner, agent_code = sys.argv[1:6]
owner = int(owner)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    server.bind(b"\0" + name.encode())
except OSError:
    sys.stdout.write("exists\n")
    sys.exit(0)
# Askers that come while the agent starts wait in the backlog.
server.listen(16)


def owner_alive():
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    return True


def not_run_to_waiting_askers():
    # The channel is going: whoever is already waiting gets "retry" (nothing was run).
    server.setblocking(False)
    while True:
        try:
            client, _ = server.accept()
        except OSError:
            break
        try:
            client.setblocking(True)
            send(client.makefile("wb"), b"retry", b"", b"")
        except OSError:
            pass
        client.close()
    server.close()


agent = subprocess.Popen(["podman", "exec", "-i", container, python, "-c", agent_code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
if receive(agent.stdout, 1) != [b"ready"]:
    not_run_to_waiting_askers()
    sys.stdout.write("no agent in %s\n" % container)
    sys.exit(1)


def answer_of_agent(client):
    # The agent's answer, or None when the asker or the run went away first (the agent is
    # then ended, and the channel with it).
    while True:
        ready = select.select([agent.stdout, client], [], [], 1.0)[0]
        if agent.stdout in ready:
            return receive(agent.stdout, 3)
        if client in ready or not owner_alive():
            agent.terminate()
            return None


def serve(client):
    # Answers one asker; False when the channel must end.
    if peer_uid(client) != os.getuid():
        return True  # another user's process: closed unanswered
    with client.makefile("rwb") as stream:
        request = receive(stream, 2)
        if request is None:
            return True  # gone before it asked
        if not request[0]:
            return False  # reset: closed once the channel has let go of its name
        if agent.poll() is not None:
            send(stream, b"retry", b"", b"")
            return False
        try:
            send(agent.stdin, *request)
        except OSError:
            send(stream, b"retry", b"", b"")  # the agent took nothing: nothing ran
            return False
        answer = answer_of_agent(client)
        if answer is None:
            return False  # the asker sees a closed channel: its command may have run
        send(stream, *answer)
    return True


sys.stdout.write("ready\n")
sys.stdout.flush()
os.close(1)
try:
    while owner_alive():
        ready = select.select([server, agent.stdout], [], [], 1.0)[0]
        if agent.stdout in ready:
            break  # the agent is gone (it says nothing unasked)
        if not ready:
            continue
        client, _ = server.accept()
        try:
            keep = serve(client)
        except OSError:
            keep = True  # the asker went away (a killed worker); the channel goes on
        if not keep:
            not_run_to_waiting_askers()
            client.close()
            break
        client.close()
finally:
    if server.fileno() >= 0:
        not_run_to_waiting_askers()
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
send_frames, receive_frames, peer_uid = _frames["send"], _frames["receive"], _frames["peer_uid"]


class Connection(ConnectionBase):
    transport = "fleet_podman"
    has_pipelining = True
    has_tty = False

    def _connect(self):
        self._connected = True
        return self

    # -- the channel ---------------------------------------------------------------------------

    @staticmethod
    def _run_pid():
        """The playbook run's process: a task runs in a worker that ansible-playbook forked
        (multiprocessing), a meta task such as reset_connection in ansible-playbook itself."""
        return os.getpid() if multiprocessing.parent_process() is None else os.getppid()

    def _channel_name(self):
        """The channel's abstract socket name: per user, playbook run and container."""
        return "virtkit-fleet-podman/%d/%d/%s" % (
            os.getuid(), self._run_pid(),
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
                "/usr/bin/python3", str(self._run_pid()), AGENT]
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
            if peer_uid(client) != os.getuid():
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
        try:
            with client, client.makefile("rwb") as stream:
                send_frames(stream, cmd.encode(errors="surrogateescape"), in_data or b"")
                answer = receive_frames(stream, 3)
        except OSError as exc:
            answer, why = None, str(exc)
        else:
            why = "closed"
        if answer is None:
            # The command may have run: it is not run again.
            raise AnsibleConnectionFailure("the channel to %s failed during a command (%s)"
                                           % (container, why))
        if answer[0] == b"retry":
            return None  # not run: the channel is going
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
