# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the libvirt_logging role reads on a target, in one module run: libvirtd's version, the
daemon's configuration, the file outputs' paths and directories, and the running daemon's
filters and outputs (virt-admin). Pure Python; it only reads."""

import errno
import os
import stat
import subprocess
import time

# virt-admin's and libvirtd's output is parsed ("Logging filters: ..."): untranslated.
_ENVIRONMENT_UPDATE = {"LC_ALL": "C", "LANG": "C"}
DAEMON_KEYS = ("filters", "outputs")


class ReadError(Exception):
    """Something the role needs could not be read; the message names it."""


def _environment():
    environment = dict(os.environ)
    environment.update(_ENVIRONMENT_UPDATE)
    return environment


def _text(data):
    # As the command module returns it (strip_empty_ends): trailing line breaks dropped.
    return data.decode("utf-8", "replace").rstrip("\r\n")


def run(argv):
    """(rc, stdout, stderr) of a command (an argv list, never a shell); OSError when it cannot
    be started."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_environment(), close_fds=True)
    out, err = proc.communicate()
    return proc.returncode, _text(out), _text(err)


def version(runner=run):
    """``libvirtd --version``'s output."""
    argv = ["libvirtd", "--version"]
    try:
        rc, out, err = runner(argv)
    except OSError as exc:
        raise ReadError("%s could not run: %s" % (" ".join(argv), exc))
    if rc != 0:
        raise ReadError("%s failed (rc %d): %s" % (" ".join(argv), rc, err.strip() or out.strip()))
    return out


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "something else"


def read_config(path):
    """{path, exists, content}: the configuration's text (a missing file is empty). A path that
    is there but not a regular file (a directory, a dangling link, a device) or that cannot be
    read is refused, naming it. A FIFO is refused without blocking on it."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT and not os.path.lexists(path):
            return {"path": path, "exists": False, "content": ""}
        if exc.errno == errno.ENOENT:
            raise ReadError("the configuration %s is a symbolic link to nothing" % path)
        raise ReadError("the configuration %s cannot be read: %s" % (path, exc.strerror))
    except ValueError as exc:  # an embedded NUL
        raise ReadError("the configuration %r cannot be read: %s" % (path, exc))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ReadError("the configuration %s is %s, not a regular file" % (path, _kind(mode)))
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:
                raise ReadError("the configuration %s cannot be read: %s" % (path, exc.strerror))
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        content = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReadError("the configuration %s is not UTF-8 text (byte %d)" % (path, exc.start))
    return {"path": path, "exists": True, "content": content}


def look(path):
    """{path, exists, isdir, error} of a path, as the stat module sees it without following a
    final symbolic link (lstat): a missing path does not exist; any other failure (a component
    that is a file, no permission, a name too long) is its error text."""
    found = {"path": path, "exists": False, "isdir": False, "error": None}
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            found["error"] = exc.strerror or str(exc)
        return found
    except ValueError as exc:  # an embedded NUL
        found["error"] = str(exc)
        return found
    found.update(exists=True, isdir=stat.S_ISDIR(mode))
    return found


def output_paths(paths):
    """For each file output's path: {path, dir: look(its directory), file: look(it)}."""
    return [{"path": path, "dir": look(os.path.dirname(path)), "file": look(path)}
            for path in paths]


def daemon_log(keys, admin_uri="", retries=2, delay=1.0, runner=run, sleep=time.sleep):
    """``virt-admin [-c URI] daemon-log-KEY`` for each key: ({key: stdout} of those that
    answered, {key: stderr or why it could not run} of those that did not). Each is tried
    ``retries`` more times, ``delay`` seconds apart: a socket-activated libvirtd that quits when
    idle may be going as a client connects ("client socket is closed"); the next connection
    starts it again."""
    answers, errors = {}, {}
    for key in keys:
        argv = ["virt-admin"] + (["-c", admin_uri] if admin_uri else []) + ["daemon-log-" + key]
        for attempt in range(max(retries, 0) + 1):
            if attempt:
                sleep(delay)
            try:
                rc, out, err = runner(argv)
            except OSError as exc:
                rc, out, err = None, "", str(exc)
            if rc == 0:
                answers[key] = out
                errors.pop(key, None)
                break
            errors[key] = err
    return answers, errors


def read(config=None, want_version=False, paths=(), daemon=(), admin_uri="", retries=2,
         delay=1.0, runner=run, sleep=time.sleep):
    """Everything at once, as the module returns it (ReadError for what must be read)."""
    result = {}
    if want_version:
        result["version_output"] = version(runner)
    if config is not None:
        result["config"] = read_config(config)
    result["paths"] = output_paths(paths)
    result["daemon"], result["daemon_errors"] = daemon_log(daemon, admin_uri, retries, delay,
                                                           runner, sleep)
    return result
