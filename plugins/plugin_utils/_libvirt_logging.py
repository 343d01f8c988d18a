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


# Keys the role manages, and what clearing each one means.
CLEARABLE = {"filters": "log_filters", "outputs": "log_outputs"}


def clear_keys(clear, filters, outputs):
    """The libvirtd.conf keys ``libvirt_logging_clear`` removes (back to libvirt's default); a
    key both cleared and given is refused."""
    if clear is None:
        clear = []
    if not isinstance(clear, list):
        raise LoggingSettingsError("libvirt_logging_clear", clear,
                                   "is a %s, not a list" % _kind(clear))
    keys = []
    for index, name in enumerate(clear):
        where = "libvirt_logging_clear[%d]" % index
        vocabulary.text(name, where, 16)
        vocabulary.one_of(name, where, tuple(CLEARABLE))
        given = filters if name == "filters" else outputs
        if given:
            raise LoggingSettingsError(where, name, "clears the %s that libvirt_logging_%s sets "
                                                    "(give one or the other)" % (name, name))
        keys.append(CLEARABLE[name])
    return keys


def _key_line(key):
    return re.compile(r"\A\s*%s\s*=" % re.escape(key))


def _example_line(key):
    return re.compile(r"\A\s*#\s*%s\s*=" % re.escape(key))


def config_text(current, wanted, clear=()):
    """libvirtd.conf's text with ``wanted`` ({key: value text}) set and the keys of ``clear``
    removed. libvirt reads the first uncommented line of a key (measured with libvirtd 9.0: of
    two log_filters lines the first applies), so a key is written in place of its first line and
    its other lines are removed; a key the file lacks goes after its first commented example
    (the stock file has one for each), else at the end."""
    lines = current.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, value in wanted.items():
        line = "%s = %s\n" % (key, value)
        active = [index for index, text in enumerate(lines) if _key_line(key).match(text)]
        if active:
            lines[active[0]] = line
            lines = [text for index, text in enumerate(lines) if index not in active[1:]]
            continue
        examples = [index for index, text in enumerate(lines) if _example_line(key).match(text)]
        if examples:
            lines.insert(examples[0] + 1, line)
        else:
            lines.append(line)
    for key in clear:
        lines = [text for text in lines if not _key_line(key).match(text)]
    return "".join(lines)


def configured(current, key):
    """The value text of a key as libvirt reads it (its first uncommented line), or None."""
    for text in current.splitlines():
        if _key_line(key).match(text):
            return text.split("=", 1)[1].strip()
    return None


def daemon_words(text):
    """The words of ``virt-admin daemon-log-filters`` / ``daemon-log-outputs`` output."""
    found = []
    for line in (text or "").splitlines():
        if ":" in line and line.strip().startswith("Logging "):
            found.extend(line.split(":", 1)[1].split())
    return found


def filter_words(value):
    """Filters as the daemon reports them: libvirt 4.4.0 on matches globs and shows each
    match between ``*`` (``1:qemu`` reads back as ``1:*qemu*``)."""
    words = []
    for word in value.split():
        level, match = word.split(":", 1)
        words.append("%s:*%s*" % (level, match.lstrip("+")))
    return words


# The output libvirt takes when it has none set: exactly one, to stderr, journald or its file.
_DEFAULT_OUTPUT = re.compile(r"\A[1-4]:(stderr|journald|file:/var/log/libvirt/\S+)\Z")


def runtime_changes(wanted, clear, daemon_filters, daemon_outputs):
    """What virt-admin must set for the running daemon to log as wanted: {key: value} for
    log_filters / log_outputs whose daemon value differs (an empty value resets the daemon to
    libvirt's default). ``daemon_filters`` and ``daemon_outputs`` are virt-admin's output, None
    when not read."""
    changes = {}
    if daemon_filters is not None:
        current = daemon_words(daemon_filters)
        if "log_filters" in wanted and current != filter_words(wanted["log_filters"]):
            changes["log_filters"] = wanted["log_filters"]
        elif "log_filters" in clear and current:
            changes["log_filters"] = ""
    if daemon_outputs is not None:
        current = daemon_words(daemon_outputs)
        if "log_outputs" in wanted and current != wanted["log_outputs"].split():
            changes["log_outputs"] = wanted["log_outputs"]
        elif "log_outputs" in clear and not (len(current) == 1
                                             and _DEFAULT_OUTPUT.match(current[0])):
            changes["log_outputs"] = ""
    return changes


def plan(current, level=None, filters=(), outputs=(), version_text=None, clear=None,
         daemon_filters=None, daemon_outputs=None):
    """Everything the role does, from the configuration's current text and (when read) the
    daemon's settings: {"config": new text, "runtime": {key: virt-admin value},
    "restart": [reasons a restart is needed]}."""
    wanted = values(level, filters, outputs, version_text)
    keys = clear_keys(clear, filters, outputs)
    written = {key: conf_string(value, key) if key in ("log_filters", "log_outputs") else value
               for key, value in wanted.items()}
    text = config_text(current, written, keys)
    restart = []
    if "log_level" in wanted and configured(current, "log_level") != wanted["log_level"]:
        restart.append("log_level %s (was %s): virt-admin cannot set the default level, and "
                       "outputs left to libvirt's default take their priority from it; restart "
                       "the daemon" % (wanted["log_level"],
                                       configured(current, "log_level") or "libvirt's default"))
    return {"config": text, "differs": text != current,
            "runtime": runtime_changes(wanted, keys, daemon_filters, daemon_outputs),
            "restart": restart}
