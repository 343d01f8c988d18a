# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small state files the engine keeps on the host, per network namespace (netfilter's state is
per namespace): root's alone, written atomically."""

import json
import os
import socket
import struct

STATE_DIR = "/run/virtkit.host"
# SO_NETNS_COOKIE (Linux 5.14+, in the generic numbering of x86, arm, and most others): a
# number no other namespace gets while the host is up, where the inode of /proc/self/ns/net is
# reused once a namespace is gone.
_SO_NETNS_COOKIE = 71


def namespace_inode():
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


def namespace_cookie():
    """This network namespace's cookie, or None where the kernel has none."""
    try:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    except OSError:
        return None
    try:
        return struct.unpack("Q", probe.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8))[0]
    except (OSError, struct.error):
        return None
    finally:
        probe.close()


def namespace_directory(base):
    """``base``'s directory for this network namespace."""
    return os.path.join(base, "net-%d" % namespace_inode())


def make_private_directory(directory):
    """``directory``, root's alone (0700), and so are the directories between it and
    STATE_DIR when it lies there (a directory elsewhere keeps its parents' modes)."""
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700, exist_ok=True)
    path = os.path.abspath(directory)
    while True:
        os.chmod(path, 0o700)
        if path == STATE_DIR or not path.startswith(STATE_DIR + os.sep):
            return
        path = os.path.dirname(path)


def write_json(path, data):
    """Write ``data`` to ``path`` atomically (0600; a link at the temporary name is refused)."""
    temporary = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


def read_json(path):
    """The data in ``path``; OSError or ValueError when it cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as handle:
        return json.load(handle)
