# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's logging settings (log_level, log_filters, log_outputs, log_buffer_size), checked
by type and character before anything is written (a value libvirtd refuses stops it from
starting), and written the way libvirt's configuration parser reads them."""

import re

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

LEVELS = {1: "debug", 2: "info", 3: "warning", 4: "error"}
OUTPUT_TYPES = ("stderr", "syslog", "file", "journald")
# The keys each entry takes (an output's beyond level and type depend on its type).
FILTER_KEYS = ("level", "match", "stack_trace")
OUTPUT_KEYS = {"stderr": (), "journald": (), "syslog": ("ident",), "file": ("path",)}
_MATCH = re.compile(r"\A[A-Za-z0-9_.*/-]{1,256}\Z")
_IDENT = re.compile(r"\A[A-Za-z0-9_.-]{1,64}\Z")
# libvirt 1.2.3 dropped the always-on log ring buffer; older ones should have it off.
RING_BUFFER_FIXED = (1, 2, 3)
# The filters' "+" flag (log a stack trace) is no longer honoured by libvirt that matches
# filters as globs (4.4.0 on); libvirt 9.0 takes "1:+name" and drops the "+".
STACK_TRACES_UNTIL = (4, 4, 0)


class LoggingSettingsError(vocabulary.InvalidValue):
    """A setting libvirt would refuse; ``field`` names the entry, ``value`` is the value."""


def version_tuple(text):
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def _kind(value):
    return vocabulary._type_name(value)  # pylint: disable=protected-access


def _level(value, field, allow_text=False):
    """1-4 as an int (a bool is not one); ``allow_text`` also takes "1"-"4" (a role variable
    given with -e name=value is a string)."""
    if allow_text and isinstance(value, str) and re.match(r"\A[0-9]\Z", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoggingSettingsError(field, value, "is a %s, not a level (1 debug, 2 info, "
                                                 "3 warning, 4 error)" % _kind(value))
    if value not in LEVELS:
        raise LoggingSettingsError(field, value, "is not 1 (debug), 2 (info), 3 (warning) or "
                                                 "4 (error)")
    return value


def _text(value, field, pattern, what):
    vocabulary.text(value, field, 256)
    if not pattern.match(value):
        raise LoggingSettingsError(field, value, "is not %s" % what)
    return value


def _entries(entries, name, kind):
    """(where, entry) for each entry of a list of settings, each checked to be a mapping."""
    if not isinstance(entries, list):
        raise LoggingSettingsError(name, entries, "is a %s, not a list" % _kind(entries))
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (name, index)
        if not isinstance(entry, dict):
            raise LoggingSettingsError(where, entry, "is a %s, not a mapping %s"
                                       % (_kind(entry), kind))
        yield where, entry


def _known_keys(entry, where, keys, what):
    for key in entry:
        if key not in keys:
            raise LoggingSettingsError("%s.%s" % (where, key), entry[key],
                                       "is not a setting of %s (it takes: %s)"
                                       % (what, ", ".join(keys)))


def filters_text(filters, version=None):
    words = []
    for where, entry in _entries(filters, "libvirt_logging_filters", "{level, match}"):
        _known_keys(entry, where, FILTER_KEYS, "a filter")
        level = _level(entry.get("level"), where + ".level")
        match = _text(entry.get("match"), where + ".match", _MATCH,
                      "a source name or glob (letters, digits, . _ - / *)")
        stack_trace = entry.get("stack_trace", False)
        if not isinstance(stack_trace, bool):
            raise LoggingSettingsError(where + ".stack_trace", stack_trace,
                                       "is a %s, not a boolean" % _kind(stack_trace))
        if stack_trace and version is not None and version >= STACK_TRACES_UNTIL:
            raise LoggingSettingsError(
                where + ".stack_trace", stack_trace, "asks for stack traces ('+'), which "
                "libvirt %s does not honour" % ".".join(str(part) for part in version))
        words.append("%d:%s%s" % (level, "+" if stack_trace else "", match))
    return " ".join(words)


def output_path(value, field):
    """A file output's path as libvirt takes it: absolute and normalised, no white space
    (outputs are split on spaces) and no ":" (an output is split on ":"), each component at
    most 255 bytes, and not both kinds of quote (libvirt's configuration strings have no
    escapes). Whether its directory exists is for the target to say."""
    vocabulary.absolute_path(value, field)
    if re.search(r"\s", value):
        raise LoggingSettingsError(field, value, "contains white space (libvirt splits outputs "
                                                 "on spaces)")
    if ":" in value:
        raise LoggingSettingsError(field, value, "contains ':' (libvirt splits an output on "
                                                 "':')")
    try:
        components = value.encode("utf-8").split(b"/")
    except UnicodeEncodeError:
        raise LoggingSettingsError(field, value, "is not valid Unicode (a lone surrogate)")
    if any(len(component) > 255 for component in components):
        raise LoggingSettingsError(field, value, "has a component longer than 255 bytes")
    if '"' in value and "'" in value:
        raise LoggingSettingsError(field, value, "contains both \" and ' (libvirt's "
                                                 "configuration strings have no escapes)")
    return value


def outputs_text(outputs):
    words = []
    for where, entry in _entries(outputs, "libvirt_logging_outputs", "{level, type, ...}"):
        kind = entry.get("type")
        vocabulary.text(kind, where + ".type", 16)
        vocabulary.one_of(kind, where + ".type", OUTPUT_TYPES)
        _known_keys(entry, where, ("level", "type") + OUTPUT_KEYS[kind], "a %s output" % kind)
        level = _level(entry.get("level"), where + ".level")
        if kind == "syslog":
            ident = _text(entry.get("ident", "libvirtd"), where + ".ident", _IDENT,
                          "a syslog ident libvirt takes (1-64 of A-Z a-z 0-9 _ . -)")
            words.append("%d:syslog:%s" % (level, ident))
        elif kind == "file":
            words.append("%d:file:%s" % (level, output_path(entry.get("path"), where + ".path")))
        else:
            words.append("%d:%s" % (level, kind))
    return " ".join(words)


def conf_string(value, field):
    """The one serializer of a string in libvirt's configuration files (virConfParseString):
    between double quotes, or single quotes when it holds a double quote; the parser knows no
    escapes and ends a string at a line break, so those are refused."""
    vocabulary.text(value, field, 65536, allow_empty=True)
    if '"' not in value:
        return '"%s"' % value
    if "'" not in value:
        return "'%s'" % value
    raise LoggingSettingsError(field, value, "contains both \" and ' (libvirt's configuration "
                                             "strings have no escapes)")


def values(level=None, filters=(), outputs=(), version_text=None):
    """The settings as libvirt takes them ({key: text}, strings unquoted: virt-admin's
    arguments). Empty filters or outputs leave their key alone."""
    if version_text is not None:
        vocabulary.text(version_text, "libvirt_logging_version", 4096, allow_empty=True)
    version = version_tuple(version_text)
    found = {}
    if level is not None:
        found["log_level"] = str(_level(level, "libvirt_logging_level", allow_text=True))
    found["log_filters"] = filters_text(list(filters) if isinstance(filters, tuple) else filters,
                                        version)
    found["log_outputs"] = outputs_text(list(outputs) if isinstance(outputs, tuple) else outputs)
    for key in ("log_filters", "log_outputs"):
        if not found[key]:
            del found[key]
    if version is not None and version < RING_BUFFER_FIXED:
        found["log_buffer_size"] = "0"
    return found


def settings(level=None, filters=(), outputs=(), version_text=None):
    """The libvirtd.conf values to set, as {key: value text} (strings quoted by
    :func:`conf_string`)."""
    return {key: conf_string(value, key) if key in ("log_filters", "log_outputs") else value
            for key, value in values(level, filters, outputs, version_text).items()}
