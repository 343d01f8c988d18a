# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A container root directory's life: made fresh beside its final place and renamed into it
only when populated, recorded as made by this module, and removed only when that record says
so.

The creation record is a file beside the root, not in it (the guest owns everything inside
its root and could forge or delete a record there): ``PARENT/.NAME.virtkit-bootstrap`` for the
root ``PARENT/NAME``, mode 0600, JSON with the module, the container's name, the root's path
and the root directory's device and inode numbers at creation. A root is removed only when
its record exists (a regular file), names the same container and root, and the directory at
the root's path is still that directory (same device and inode: not replaced, not a mount
point on top of it); when the root lies strictly under the configured base; when nothing is
mounted on or under it; and the removal itself never follows a symbolic link nor crosses into
another file system.
"""

import json
import os
import stat
import tempfile

MODULE = "virtkit.host.lxc_bootstrap"
SUFFIX = ".virtkit-bootstrap"


class RootDirError(Exception):
    pass


def record_path(root):
    parent, name = os.path.split(root)
    return os.path.join(parent, "." + name + SUFFIX)


def write_record(root, name, info):
    """Record that the directory ``info`` (an os.stat result) is ``name``'s root at ``root``."""
    path = record_path(root)
    text = json.dumps({"module": MODULE, "name": name, "root": root,
                       "dev": info.st_dev, "ino": info.st_ino}, sort_keys=True) + "\n"
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".virtkit-record-")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), 0o600)
            os.fsync(stream.fileno())
        os.rename(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def read_record(root):
    """The creation record of ``root`` as a dict, or None when there is none (or it is not a
    regular file of ours)."""
    try:
        fd = os.open(record_path(root), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd) as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            record = json.loads(handle.read(65536))
        except ValueError:
            return None
    return record if isinstance(record, dict) and record.get("module") == MODULE else None


def remove_record(root):
    try:
        os.unlink(record_path(root))
    except FileNotFoundError:
        pass


def _unescape(field):
    # /proc/self/mountinfo writes space, tab, newline and backslash as \ooo.
    out, index = "", 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit():
            out += chr(int(field[index + 1:index + 4], 8))
            index += 4
        else:
            out += field[index]
            index += 1
    return out


def mounts_at_or_under(path):
    """Mount points at ``path`` or below it (this process's mount namespace)."""
    found = []
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4:
                    point = _unescape(fields[4])
                    if point == real or point.startswith(real.rstrip("/") + "/"):
                        found.append(point)
    except OSError:
        pass
    return found


def _under(path, base):
    return path != base and path.startswith(base.rstrip("/") + "/")


def refusal(root, base, name):
    """Why ``root`` must not be removed (None when it may)."""
    if root == "/" or not _under(root, base):
        return "%s is not inside the base directory %s (root_base)" % (root, base)
    if not _under(os.path.join(os.path.realpath(os.path.dirname(root)),
                               os.path.basename(root)), os.path.realpath(base)):
        return "%s leads out of the base directory %s through a symbolic link" % (root, base)
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "%s is not a directory (a symbolic link or a file)" % root
    mounts = mounts_at_or_under(root)
    if mounts:
        return "file systems are mounted at or under %s: %s" % (root, ", ".join(mounts[:5]))
    if os.lstat(os.path.dirname(root)).st_dev != info.st_dev:
        return "%s is a mount point" % root
    record = read_record(root)
    if record is None:
        return ("%s has no creation record %s: lxc_bootstrap did not create it (or a version "
                "before the record existed did); remove it by hand" % (root, record_path(root)))
    if record.get("name") != name or record.get("root") != root:
        return "%s was created for the container %r at %r, not for %r" % (
            root, record.get("name"), record.get("root"), name)
    if (record.get("dev"), record.get("ino")) != (info.st_dev, info.st_ino):
        return ("%s is not the directory lxc_bootstrap created there (it was replaced since)"
                % root)
    return None


def remove_tree(path):
    """Remove the directory ``path`` and everything in it, by descriptors: no symbolic link is
    followed, and no other file system is entered (a mount met on the way stops the removal
    with an error, the rest left in place)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    top = os.open(path, flags)
    device = os.fstat(top).st_dev
    stack = [(top, None)]  # (directory descriptor, its name in the directory below it)
    try:
        while stack:
            fd = stack[-1][0]
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                child_fd = os.open(child, flags, dir_fd=fd)
                if os.fstat(child_fd).st_dev != device:
                    os.close(child_fd)
                    raise RootDirError("%s: a file system is mounted inside it; nothing below "
                                       "that mount was removed" % path)
                stack.append((child_fd, child))
                continue
            done, name = stack.pop()
            os.close(done)
            if stack:
                os.rmdir(name, dir_fd=stack[-1][0])
    finally:
        for fd, _name in stack:
            os.close(fd)
    os.rmdir(path)


def staging(root):
    """A fresh empty directory beside ``root`` (mode 0755) to populate before renaming it
    into place; the parent directories are created when missing (and kept)."""
    parent, name = os.path.split(root)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    path = tempfile.mkdtemp(dir=parent, prefix="." + name + ".virtkit-new-")
    os.chmod(path, 0o755)
    return path


def move_into_place(staged, root, name):
    """Record the staged directory as ``name``'s root and rename it to ``root``, which must
    not exist (nothing is replaced)."""
    if os.path.lexists(root):
        raise RootDirError("%s appeared while it was populated: the new root is left at %s"
                           % (root, staged))
    write_record(root, name, os.lstat(staged))
    try:
        os.rename(staged, root)
    except OSError:
        remove_record(root)
        raise


def snapshot(root, limit=500000):
    """{relative path: (mode, size, mtime_ns)} of everything under ``root`` (links not
    followed), at most ``limit`` entries: to say what a failed run changed in it."""
    seen = {}
    for directory, dirs, files in os.walk(root):
        for entry in dirs + files:
            path = os.path.join(directory, entry)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            seen[os.path.relpath(path, root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
            if len(seen) >= limit:
                return seen
    return seen


def changed_entries(before, after):
    return sorted(set(before) ^ set(after) | {k for k in before if k in after
                                              and before[k] != after[k]})
