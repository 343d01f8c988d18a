# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small edits of a container's root filesystem: the console in /etc/securetty and root's
password hash in /etc/shadow, idempotent, modes kept."""

import hashlib
import os
import random
import tempfile

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_CHARS = _ITOA64
# Byte order of SHA-512 crypt's final encoding: 21 groups of three bytes, then the last byte.
_ORDER = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26),
          (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32),
          (12, 33, 54), (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38),
          (18, 39, 60), (40, 61, 19), (62, 20, 41)]


def _encode(value, count):
    text = ""
    for _char in range(count):
        text += _ITOA64[value & 0x3f]
        value >>= 6
    return text


def _repeat(digest, length):
    return (digest * (length // len(digest) + 1))[:length]


def sha512_crypt(password, salt=None, rounds=5000):
    """SHA-512 crypt ("$6$"), as glibc makes it; in Python, because the crypt module is gone
    from recent Pythons and managed hosts run many versions."""
    if salt is None:
        generator = random.SystemRandom()
        salt = "".join(generator.choice(_SALT_CHARS) for _char in range(16))
    salt = salt[:16]
    key, salt_bytes = password.encode("utf-8"), salt.encode("ascii")
    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    context = hashlib.sha512(key + salt_bytes)
    context.update(_repeat(alternate, len(key)))
    length = len(key)
    while length:
        context.update(alternate if length & 1 else key)
        length >>= 1
    digest = context.digest()
    key_sequence = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    salt_sequence = _repeat(hashlib.sha512(salt_bytes * (16 + digest[0])).digest(),
                            len(salt_bytes))
    for round_number in range(rounds):
        step = hashlib.sha512(key_sequence if round_number & 1 else digest)
        if round_number % 3:
            step.update(salt_sequence)
        if round_number % 7:
            step.update(key_sequence)
        step.update(digest if round_number & 1 else key_sequence)
        digest = step.digest()
    encoded = "".join(_encode((digest[a] << 16) | (digest[b] << 8) | digest[c], 4)
                      for a, b, c in _ORDER) + _encode(digest[63], 2)
    prefix = "$6$" if rounds == 5000 else "$6$rounds=%d$" % rounds
    return "%s%s$%s" % (prefix, salt, encoded)


def hash_matches(password, hashed):
    """Whether ``hashed`` ($6$ only) is ``password``'s hash."""
    if not hashed or not hashed.startswith("$6$"):
        return False
    parts = hashed.split("$")
    rounds = 5000
    if parts[2].startswith("rounds="):
        rounds = int(parts[2][len("rounds="):])
        salt = parts[3]
    else:
        salt = parts[2]
    return sha512_crypt(password, salt, rounds) == hashed


def _write_keeping_mode(path, text, default_mode):
    """Replace a file atomically, keeping its mode and owner (or ``default_mode`` if new)."""
    try:
        stat = os.stat(path)
        mode, owner = stat.st_mode & 0o7777, (stat.st_uid, stat.st_gid)
    except FileNotFoundError:
        mode, owner = default_mode, None
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".virtkit-")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        if owner is not None:
            os.chown(temporary, *owner)
        os.rename(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def securetty_needs(root, device="pts/0"):
    """Whether ROOT/etc/securetty lacks ``device`` (a missing file lacks it)."""
    path = os.path.join(root, "etc", "securetty")
    try:
        with open(path) as handle:
            return device not in [line.strip() for line in handle]
    except FileNotFoundError:
        return True


def securetty_add(root, device="pts/0"):
    """Append ``device`` to ROOT/etc/securetty unless there; returns whether it changed."""
    if not securetty_needs(root, device):
        return False
    path = os.path.join(root, "etc", "securetty")
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    if text and not text.endswith("\n"):
        text += "\n"
    _write_keeping_mode(path, text + device + "\n", 0o600)
    return True


class ShadowError(ValueError):
    pass


def root_hash(root):
    """root's current password field in ROOT/etc/shadow (None when there is no entry)."""
    with open(os.path.join(root, "etc", "shadow")) as handle:
        for line in handle:
            fields = line.rstrip("\n").split(":")
            if fields[0] == "root":
                return fields[1] if len(fields) > 1 else ""
    return None


def set_root_hash(root, hashed):
    """Put ``hashed`` in root's entry of ROOT/etc/shadow; returns whether it changed."""
    path = os.path.join(root, "etc", "shadow")
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise ShadowError("%s does not exist: the root filesystem has no shadow file" % path)
    changed = False
    found = False
    for index, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == "root":
            found = True
            while len(fields) < 9:
                fields.append("")
            if fields[1] != hashed:
                fields[1] = hashed
                lines[index] = ":".join(fields)
                changed = True
    if not found:
        lines.insert(0, "root:%s:19000:0:99999:7:::" % hashed)
        changed = True
    if changed:
        _write_keeping_mode(path, "\n".join(lines) + "\n", 0o640)
    return changed
