# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small edits of a container's root filesystem: the console in /etc/securetty and root's
password hash in /etc/shadow, idempotent, modes and owners kept.

Every file is reached through :class:`inroot.Root`: resolved as the guest sees it, never
outside the root, read only when it is a regular file, replaced atomically."""

import hashlib
import hmac
import random
import re

from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.inroot import Root

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_CHARS = _ITOA64
# Byte order of SHA-512 crypt's final encoding: 21 groups of three bytes, then the last byte.
_ORDER = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26),
          (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32),
          (12, 33, 54), (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38),
          (18, 39, 60), (40, 61, 19), (62, 20, 41)]
# SHA-512 crypt's rounds: 5000 unless "rounds=N$" says otherwise; glibc clamps N to
# 1000..999999999, libxcrypt (Debian 12, Fedora) refuses a hash outside that range or with a
# leading zero. The cost grows linearly: about 0.7 s per million rounds in this pure-Python
# implementation on a 2020s x86 core. A hash above MAX_COMPARED_ROUNDS is not compared (that
# could take many minutes: glibc's maximum is an hour's work on a slow host): the password is
# written again with the default rounds. One million is above every common setting (passlib's
# default is 656000; login.defs SHA_CRYPT_MAX_ROUNDS examples use 5000 to 500000).
DEFAULT_ROUNDS = 5000
MIN_ROUNDS, MAX_ROUNDS = 1000, 999999999
MAX_COMPARED_ROUNDS = 1000000
# $6$[rounds=N$]SALT$HASH; a salt is up to 16 printable ASCII characters other than $ and :.
_SHA512_HASH = re.compile(r"\A\$6\$(?:rounds=([1-9][0-9]{0,8})\$)?([!-#%-9;-~]{0,16})"
                          r"\$([./0-9A-Za-z]{86})\Z")


def _encode(value, count):
    text = ""
    for _char in range(count):
        text += _ITOA64[value & 0x3f]
        value >>= 6
    return text


def _repeat(digest, length):
    return (digest * (length // len(digest) + 1))[:length]


def sha512_crypt(password, salt=None, rounds=DEFAULT_ROUNDS, explicit_rounds=None):
    """SHA-512 crypt ("$6$"), as glibc makes it; in Python, because the crypt module is gone
    from recent Pythons and managed hosts run many versions. ``explicit_rounds``: whether the
    result says "rounds=N$" (as glibc does whenever the setting did; default: unless 5000)."""
    if not MIN_ROUNDS <= rounds <= MAX_ROUNDS:
        raise ValueError("SHA-512 crypt rounds must be %d to %d" % (MIN_ROUNDS, MAX_ROUNDS))
    if explicit_rounds is None:
        explicit_rounds = rounds != DEFAULT_ROUNDS
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
    prefix = "$6$rounds=%d$" % rounds if explicit_rounds else "$6$"
    return "%s%s$%s" % (prefix, salt, encoded)


def compare_hash(password, hashed):
    """(matches, note): whether ``hashed`` is ``password``'s SHA-512 crypt hash, exactly as
    libxcrypt's check decides it (the whole string, "rounds=5000$" included when written).
    ``note`` says why a hash was not compared at all (None when it was): not SHA-512, malformed,
    or rounds above MAX_COMPARED_ROUNDS (never computed)."""
    if not hashed or not hashed.startswith("$6$"):
        return False, None
    match = _SHA512_HASH.match(hashed)
    if not match:
        return False, "the current hash is not a well-formed SHA-512 crypt hash"
    rounds_text, salt = match.group(1), match.group(2)
    rounds = int(rounds_text) if rounds_text else DEFAULT_ROUNDS
    if rounds < MIN_ROUNDS:
        return False, "the current hash's rounds=%d is below %d: no password matches it" % (
            rounds, MIN_ROUNDS)
    if rounds > MAX_COMPARED_ROUNDS:
        return False, ("the current hash's rounds=%d is above %d: not compared"
                       % (rounds, MAX_COMPARED_ROUNDS))
    computed = sha512_crypt(password, salt, rounds, explicit_rounds=rounds_text is not None)
    return hmac.compare_digest(computed.encode("ascii"), hashed.encode("ascii")), None


def hash_matches(password, hashed):
    """Whether ``hashed`` ($6$ only) is ``password``'s hash (see compare_hash)."""
    return compare_hash(password, hashed)[0]


class _Opened(object):
    """A Root for a path, or the Root given (left open)."""

    def __init__(self, root):
        self.given = isinstance(root, Root)
        self.root = root if self.given else Root(root)

    def __enter__(self):
        return self.root

    def __exit__(self, *exc):
        if not self.given:
            self.root.close()


def _mode(info, default):
    # Permission bits only: a set-id or sticky bit on these files is never kept.
    return info.st_mode & 0o777 if info is not None else default


def securetty_needs(root, device="pts/0"):
    """Whether ROOT/etc/securetty lacks ``device`` (a missing file lacks it)."""
    with _Opened(root) as opened:
        text, _info = opened.read("/etc/securetty")
    return text is None or device not in [line.strip() for line in text.splitlines()]


def securetty_add(root, device="pts/0"):
    """Append ``device`` to ROOT/etc/securetty unless there (mode and owner kept; a new file
    gets 0600, root's); returns whether it changed."""
    with _Opened(root) as opened:
        text, info = opened.read("/etc/securetty")
        if text is not None and device in [line.strip() for line in text.splitlines()]:
            return False
        text = text or ""
        if text and not text.endswith("\n"):
            text += "\n"
        opened.write("/etc/securetty", text + device + "\n", _mode(info, 0o600),
                     (info.st_uid, info.st_gid) if info is not None else None)
    return True


class ShadowError(ValueError):
    pass


def _shadow(opened):
    text, info = opened.read("/etc/shadow")
    if text is None:
        raise ShadowError("%s/etc/shadow does not exist: the root filesystem has no shadow file"
                          % opened.path.rstrip("/"))
    return text, info


def root_hash(root):
    """root's current password field in ROOT/etc/shadow (None when there is no entry)."""
    with _Opened(root) as opened:
        text, _info = _shadow(opened)
    for line in text.splitlines():
        fields = line.split(":")
        if fields[0] == "root":
            return fields[1] if len(fields) > 1 else ""
    return None


def set_root_hash(root, hashed):
    """Put ``hashed`` in root's entry of ROOT/etc/shadow (mode and owner kept); returns
    whether it changed."""
    if not hashed or ":" in hashed or any(c in hashed for c in "\n\r\x00"):
        raise ShadowError("root_password_hash is not a crypt hash (it must not be empty or "
                          "hold ':' or a line break)")
    with _Opened(root) as opened:
        text, info = _shadow(opened)
        lines = text.splitlines()
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
            opened.write("/etc/shadow", "\n".join(lines) + "\n", _mode(info, 0o640),
                         (info.st_uid, info.st_gid))
    return changed
