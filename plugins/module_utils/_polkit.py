# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asking polkitd over DBus whether a process may perform an action (CheckAuthorization), as
libvirt's polkit access driver does for every API call."""

import os
import pwd
import re
import signal

AUTHORITY = ("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
             "org.freedesktop.PolicyKit1.Authority")
_LIBVIRT_SHORT = re.compile(r"\A([a-z_-]+)\.([a-z_-]+)\Z")


class PolkitError(Exception):
    pass


def libvirt_action(action):
    """``domain.getattr`` (libvirt's object.permission) -> org.libvirt.api.domain.getattr;
    polkit action ids write ``_`` as ``-``. A full action id is returned as it is."""
    match = _LIBVIRT_SHORT.match(action)
    if match:
        return "org.libvirt.api.%s.%s" % tuple(part.replace("_", "-") for part in match.groups())
    return action


def process_start_time(pid):
    """The start time polkit identifies a process by (field 22 of /proc/PID/stat)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        raise PolkitError("process %d does not exist" % pid)
    return int(stat[stat.rindex(")") + 2:].split()[19])


def process_uid(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise PolkitError("cannot read the uid of process %d" % pid)


class ProcessAs(object):
    """A process running as ``user`` for the duration of a check (polkit identifies subjects
    by process; it refuses bare user subjects)."""

    def __init__(self, user):
        try:
            self.entry = pwd.getpwnam(user)
        except KeyError:
            raise PolkitError("user %r does not exist on this host" % user)
        self.pid = None

    def __enter__(self):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(self.entry.pw_gid)
                os.setuid(self.entry.pw_uid)
                os.write(write_end, b"ready")
                os.close(write_end)
                while True:
                    signal.pause()
            finally:
                os._exit(1)  # pylint: disable=protected-access
        os.close(write_end)
        ready = os.read(read_end, 5)
        os.close(read_end)
        self.pid = pid
        if ready != b"ready":
            self.__exit__()
            raise PolkitError("cannot start a process as user %s" % self.entry.pw_name)
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def check_authorization(bus, pid, action_id, details=None, interactive=False):
    """``(authorized, challenge)`` for process ``pid`` and ``action_id`` with ``details``."""
    variant = bus.variant
    subject = ["unix-process", {"pid": variant("u", pid),
                                "start-time": variant("t", process_start_time(pid)),
                                "uid": variant("i", process_uid(pid))}]
    for key, value in (details or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            # str() would ask about "None" or "['a', 'b']", never what was meant.
            raise PolkitError("detail %r: %r is a %s, not a string" % (
                key, value, "null" if value is None else type(value).__name__))
    body = [subject, action_id, dict(details or {}),
            1 if interactive else 0, ""]
    error, reply = bus.call(AUTHORITY[0], AUTHORITY[1], AUTHORITY[2], "CheckAuthorization",
                            "(sa{sv})sa{ss}us", body)
    if error is not None:
        text = reply[0] if reply and isinstance(reply[0], str) else ""
        raise PolkitError("polkit CheckAuthorization of %s failed: %s: %s"
                          % (action_id, error, text))
    authorized, challenge, _details = reply[0]
    return bool(authorized), bool(challenge)
