# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's logging settings (log_level, log_filters, log_outputs, log_buffer_size), checked
before anything is written: a value libvirtd refuses stops it from starting."""

import re

LEVELS = {1: "debug", 2: "info", 3: "warning", 4: "error"}
OUTPUT_TYPES = ("stderr", "syslog", "file", "journald")
_MATCH = re.compile(r"^[A-Za-z0-9_.*/-]+$")
_IDENT = re.compile(r"^[A-Za-z0-9_.-]+$")
# libvirt 1.2.3 dropped the always-on log ring buffer; older ones should have it off.
RING_BUFFER_FIXED = (1, 2, 3)
# The filters' "+" flag (log a stack trace) is no longer honoured by libvirt that matches
# filters as globs (4.4.0 on); libvirt 9.0 takes "1:+name" and drops the "+".
STACK_TRACES_UNTIL = (4, 4, 0)


class LoggingSettingsError(ValueError):
    """A setting libvirt would refuse; names the entry and the value."""


def version_tuple(text):
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def _level(value, where):
    try:
        level = int(value)
    except (TypeError, ValueError):
        level = None
    if level not in LEVELS:
        raise LoggingSettingsError("%s: level %r is not 1 (debug), 2 (info), 3 (warning) or "
                                   "4 (error)" % (where, value))
    return level


def _entries(entries, name, shape):
    """(where, entry, level) for each entry of a list of settings, each checked to be a
    mapping with a valid level; ``where`` names it in errors."""
    for index, entry in enumerate(entries or []):
        where = "%s[%d]" % (name, index)
        if not isinstance(entry, dict):
            raise LoggingSettingsError("%s: an entry is a mapping %s, not %r" % (where, shape, entry))
        yield where, entry, _level(entry.get("level"), where)


def filters_text(filters, version=None):
    words = []
    for where, entry, level in _entries(filters, "libvirt_logging_filters", "{level, match}"):
        match = str(entry.get("match", ""))
        if not _MATCH.match(match):
            raise LoggingSettingsError("%s: match %r is not a source name or glob (letters, "
                                       "digits, . _ - / *)" % (where, match))
        flag = ""
        if entry.get("stack_trace"):
            if version is not None and version >= STACK_TRACES_UNTIL:
                raise LoggingSettingsError(
                    "%s: stack traces ('+') are not honoured by libvirt %s" %
                    (where, ".".join(str(part) for part in version)))
            flag = "+"
        words.append("%d:%s%s" % (level, flag, match))
    return " ".join(words)


def outputs_text(outputs):
    words = []
    for where, entry, level in _entries(outputs, "libvirt_logging_outputs", "{level, type, ...}"):
        kind = entry.get("type")
        if kind not in OUTPUT_TYPES:
            raise LoggingSettingsError("%s: type %r is not one of %s"
                                       % (where, kind, ", ".join(OUTPUT_TYPES)))
        if kind == "syslog":
            ident = str(entry.get("ident") or "libvirtd")
            if not _IDENT.match(ident):
                raise LoggingSettingsError("%s: syslog ident %r has characters libvirt does not "
                                           "take" % (where, ident))
            words.append("%d:syslog:%s" % (level, ident))
        elif kind == "file":
            path = str(entry.get("path") or "")
            if not path.startswith("/") or any(char.isspace() for char in path):
                raise LoggingSettingsError("%s: path %r is not an absolute path without spaces"
                                           % (where, path))
            words.append("%d:file:%s" % (level, path))
        else:
            words.append("%d:%s" % (level, kind))
    return " ".join(words)


def settings(level=None, filters=None, outputs=None, version_text=None):
    """The libvirtd.conf lines to set, as {key: value text} (strings quoted as libvirt wants)."""
    version = version_tuple(version_text)
    lines = {}
    if level is not None:
        lines["log_level"] = str(_level(level, "libvirt_logging_level"))
    if filters:
        lines["log_filters"] = '"%s"' % filters_text(filters, version)
    if outputs:
        lines["log_outputs"] = '"%s"' % outputs_text(outputs)
    if version is not None and version < RING_BUFFER_FIXED:
        lines["log_buffer_size"] = "0"
    return lines
