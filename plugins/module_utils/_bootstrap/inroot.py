# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files inside a container's root, reached without ever leaving it.

A container root belongs to its guest: any path in it may be a symbolic link, absolute or with
``..``, meant for the guest's own view (its ``/`` is the root) but leading elsewhere when the
host follows it. Every path here is resolved as the guest would see it, chroot-like: ``/`` and
``..`` of the top stop at the root, and a link is read and resolved again from the root. The
kernel does it with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (Linux 5.6+); older
kernels get the same walk in Python, component by component from a directory descriptor of the
root, each directory opened with O_NOFOLLOW | O_DIRECTORY and ``..`` taken from the walk's own
stack, never from the file system. Only regular files are read or replaced (a FIFO, a device
node or a socket is refused before it is opened for reading). Replacing is atomic: a temporary
file in the same directory (by descriptor), written, fsync'ed, given its mode and owner, then
renamed over the old one with renameat.

Pure Python 3.8+, no Ansible import.
"""

import ctypes
import errno
import os
import stat

MAX_LINKS = 40  # as the kernel's own path walk
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
_SYS_OPENAT2 = 437  # the same number on every architecture (new syscalls share one table)
# None: not tried yet; True/False: whether this kernel has openat2 with RESOLVE_IN_ROOT.
USE_OPENAT2 = None


class RootPathError(Exception):
    """A path in a container root cannot be used: ``path`` is the guest's view of it."""

    def __init__(self, root, path, reason):
        super(RootPathError, self).__init__("%s (in the container root %s): %s"
                                            % (path, root, reason))
        self.root, self.path, self.reason = root, path, reason


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_LIBC = None


def _openat2(dirfd, path, flags):
    """openat2(2) with RESOLVE_IN_ROOT; raises OSError, or NotImplementedError without it."""
    global _LIBC, USE_OPENAT2  # pylint: disable=global-statement
    if USE_OPENAT2 is False:
        raise NotImplementedError
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.syscall.restype = ctypes.c_long
    how = _OpenHow(flags | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    encoded = os.fsencode(path)
    for _attempt in range(16):
        result = _LIBC.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd),
                               ctypes.c_char_p(encoded), ctypes.byref(how),
                               ctypes.c_size_t(ctypes.sizeof(how)))
        if result >= 0:
            USE_OPENAT2 = True
            return int(result)
        code = ctypes.get_errno()
        if code == errno.EAGAIN:  # a rename raced the lookup: the kernel asks for a retry
            continue
        if code in (errno.ENOSYS, errno.EPERM) and USE_OPENAT2 is None:
            # No openat2 (ENOSYS), or a seccomp filter that refuses it (EPERM, as some
            # container runtimes do): the walk below does the same.
            USE_OPENAT2 = False
            raise NotImplementedError
        if code in (errno.EINVAL, errno.E2BIG) and USE_OPENAT2 is None:
            USE_OPENAT2 = False  # a kernel without RESOLVE_IN_ROOT
            raise NotImplementedError
        raise OSError(code, os.strerror(code), path)
    raise OSError(errno.EAGAIN, "path lookup kept racing with renames", path)


def _components(path):
    return [part for part in path.split("/") if part not in ("", ".")]


def _walk(rootfd, path):
    """The directory ``path`` (guest view) as an O_RDONLY descriptor, resolved in the root
    without the kernel's help; raises OSError as the kernel would (ENOENT, ENOTDIR, ELOOP)."""
    stack = [os.dup(rootfd)]
    pending = _components(path)
    links = 0
    try:
        while pending:
            part = pending.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            try:
                fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=stack[-1])
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                info = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
                if not stat.S_ISLNK(info.st_mode):
                    raise
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending = _components(target) + pending
                continue
            stack.append(fd)
        result = stack.pop()
        return result
    finally:
        for fd in stack:
            os.close(fd)


def _open_dir(rootfd, path):
    try:
        return _openat2(rootfd, path or ".", os.O_RDONLY | os.O_DIRECTORY)
    except NotImplementedError:
        return _walk(rootfd, path)


class Root(object):
    """A container root, opened once; every path given to its methods is the guest's view
    (``/etc/shadow`` or ``etc/shadow``). Use as a context manager or call close()."""

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise RootPathError(path, "/", "cannot open the root: %s" % exc.strerror)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _error(self, path, exc):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
            reason = "too many levels of symbolic links (a link loop?)"
        return RootPathError(self.path, path, reason)

    def directory(self, path):
        """A descriptor of the directory ``path``; the caller closes it."""
        try:
            return _open_dir(self.fd, path)
        except OSError as exc:
            raise self._error(path, exc)

    def _locate(self, path):
        """(parent directory descriptor, name, lstat or None) of the file ``path``, following a
        final symbolic link inside the root. The caller closes the descriptor."""
        wanted = path
        for _link in range(MAX_LINKS + 1):
            head, name = os.path.split(wanted.rstrip("/"))
            if name in ("", ".", ".."):
                raise RootPathError(self.path, path, "is not a file name")
            dirfd = self.directory(head)
            try:
                info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                return dirfd, name, None
            except OSError as exc:
                os.close(dirfd)
                raise self._error(path, exc)
            if not stat.S_ISLNK(info.st_mode):
                return dirfd, name, info
            try:
                target = os.readlink(name, dir_fd=dirfd)
            finally:
                os.close(dirfd)
            wanted = target if target.startswith("/") else (head or ".") + "/" + target
        raise self._error(path, OSError(errno.ELOOP, "loop"))

    def exists(self, path):
        """Whether ``path`` names anything (a dangling link does not)."""
        try:
            dirfd, _name, info = self._locate(path)
        except RootPathError:
            return False
        os.close(dirfd)
        return info is not None

    def is_dir(self, path):
        try:
            os.close(self.directory(path))
            return True
        except RootPathError:
            return False

    def read(self, path):
        """(text, stat) of the regular file ``path``, or (None, None) when it does not exist."""
        dirfd, name, info = self._locate(path)
        try:
            if info is None:
                return None, None
            if not stat.S_ISREG(info.st_mode):
                raise RootPathError(self.path, path, "is not a regular file")
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                             | os.O_CLOEXEC, dir_fd=dirfd)
            except OSError as exc:
                raise self._error(path, exc)
            with os.fdopen(fd, "rb") as handle:
                opened = os.fstat(handle.fileno())
                if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
                        info.st_dev, info.st_ino):
                    raise RootPathError(self.path, path, "changed while it was opened")
                return handle.read().decode("utf-8", "surrogateescape"), opened
        finally:
            os.close(dirfd)

    def write(self, path, text, mode, owner=None):
        """Replace (or create) the regular file ``path`` atomically with ``text``, mode
        ``mode`` and ``owner`` (uid, gid) when given."""
        dirfd, name, info = self._locate(path)
        try:
            if info is not None and not stat.S_ISREG(info.st_mode):
                raise RootPathError(self.path, path, "is not a regular file")
            temporary = None
            for attempt in range(100):
                candidate = ".%s.virtkit-%d-%d" % (name, os.getpid(), attempt)
                try:
                    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise self._error(path, exc)
                temporary = candidate
                break
            if temporary is None:
                raise RootPathError(self.path, path, "no temporary name free beside it")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(text.encode("utf-8", "surrogateescape"))
                    handle.flush()
                    if owner is not None:
                        os.fchown(handle.fileno(), owner[0], owner[1])
                    os.fchmod(handle.fileno(), mode)
                    os.fsync(handle.fileno())
                os.rename(temporary, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
                temporary = None
                os.fsync(dirfd)
            except OSError as exc:
                raise self._error(path, exc)
            finally:
                if temporary is not None:
                    try:
                        os.unlink(temporary, dir_fd=dirfd)
                    except OSError:
                        pass
        finally:
            os.close(dirfd)

    def same_on_host(self, path):
        """Whether the host, following ``ROOT/path`` its own way (as a package manager run with
        --installroot does), reaches the same thing as the guest's view of ``path`` (both
        absent counts as the same)."""
        try:
            host = os.stat(os.path.join(self.path, path.lstrip("/")))
        except OSError:
            host = None
        try:
            fd = self.directory(path) if host is None or stat.S_ISDIR(host.st_mode) else None
        except RootPathError:
            fd = None
        if fd is not None:
            guest = os.fstat(fd)
            os.close(fd)
        else:
            try:
                dirfd, name, guest = self._locate(path)
                if guest is not None:
                    guest = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                os.close(dirfd)
            except RootPathError:
                guest = None
        if host is None or guest is None:
            return host is None and guest is None
        return (host.st_dev, host.st_ino) == (guest.st_dev, guest.st_ino)
