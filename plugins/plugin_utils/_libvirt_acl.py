# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's fine-grained access control as polkit rules: a declarative policy checked against
libvirt's objects, permissions and details, rendered as ECMAScript 5 (what polkit's engine
runs), every value checked by type and character and escaped by one serializer."""

import json
import re

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

# libvirt's ACL objects and their permissions (src/access/viraccessperm.c).
PERMISSIONS = {
    "connect": "getattr read write search_domains search_networks search_storage_pools "
               "search_node_devices search_interfaces search_secrets search_nwfilters "
               "search_nwfilter_bindings detect_storage_pools pm_control interface_transaction",
    "domain": "getattr read write read_secure start stop reset save delete migrate checkpoint "
              "snapshot suspend hibernate core_dump pm_control init_control inject_nmi "
              "send_input send_signal fs_trim fs_freeze block_read block_write mem_read "
              "open_graphics open_device screenshot open_namespace set_time set_password",
    "interface": "getattr read write save delete start stop",
    "network": "getattr read write save delete start stop search_ports",
    "network_port": "getattr read write create delete",
    "node_device": "getattr read write start stop detach delete",
    "nwfilter": "getattr read write save delete",
    "nwfilter_binding": "getattr read create delete",
    "secret": "getattr read write read_secure save delete",
    "storage_pool": "getattr read write save delete start stop refresh search_storage_vols format",
    "storage_vol": "getattr read create delete format resize data_read data_write",
}
PERMISSIONS = {name: tuple(text.split()) for name, text in PERMISSIONS.items()}
# The details libvirt passes with each object's checks (connect_driver always).
DETAILS = {
    "connect": (),
    "domain": ("domain_name", "domain_uuid"),
    "interface": ("interface_name", "interface_macaddr"),
    "network": ("network_name", "network_uuid"),
    "network_port": ("network_name", "network_uuid", "port_uuid"),
    "node_device": ("node_device_name",),
    "nwfilter": ("nwfilter_name", "nwfilter_uuid"),
    "nwfilter_binding": ("nwfilter_binding_portdev", "nwfilter_binding_linkdev",
                         "nwfilter_binding_filter"),
    "secret": ("secret_uuid", "secret_usage_volume", "secret_usage_ceph", "secret_usage_target",
               "secret_usage_name"),
    "storage_pool": ("pool_name", "pool_uuid"),
    "storage_vol": ("pool_name", "pool_uuid", "vol_name", "vol_key"),
}
RESULTS = {"allow": "YES", "deny": "NO", "auth_admin": "AUTH_ADMIN",
           "auth_admin_keep": "AUTH_ADMIN_KEEP", "auth_self": "AUTH_SELF",
           "auth_self_keep": "AUTH_SELF_KEEP"}
_ACTION = re.compile(r"\A([a-z_]+)\.([a-z_*]+)\Z")
KEYS = ("name", "user", "group", "actions", "details", "result", "otherwise", "local", "active")
# Lengths: user and group names, detail values (libvirt object names, UUIDs, paths), comments.
NAME_MAX = 256
VALUE_MAX = 4096


class AclError(ValueError):
    """A policy entry libvirt or polkit would not understand; names the entry and the value.
    Values of the wrong type or with refused characters raise vocabulary.InvalidValue."""


def js_string(value):
    """The one JavaScript string literal serializer: JSON with every non-ASCII character
    escaped (so U+2028 and U+2029, which end a line in ES5, cannot end the literal), and "/"
    escaped so no "</" or comment opener appears in the file. duktape (ES5) reads a JSON string
    as the same string. Takes checked text only (see :func:`vocabulary.bmp_text`)."""
    if not isinstance(value, str):
        raise TypeError("js_string takes a string, not %r" % (value,))
    return json.dumps(value, ensure_ascii=True).replace("/", "\\/")


def _wrong_type(field, value, what):
    return vocabulary.InvalidValue(field, value, "is a %s, not %s"
                                   % (vocabulary._type_name(value), what))  # pylint: disable=protected-access


def _value(value, field, max_length=VALUE_MAX):
    """A string compared in polkit's engine: no control character or line break (U+2028 and
    U+2029 end a JavaScript line), nothing outside the BMP (duktape never matches it)."""
    return vocabulary.bmp_text(value, field, max_length)


def action_ids(actions, where):
    """``object.permission`` (``object.*`` for all of an object's permissions) -> polkit ids.
    ``actions`` is one such string or a list of them."""
    if isinstance(actions, str):
        actions = [actions]
    if not isinstance(actions, list):
        raise _wrong_type("%s.actions" % where, actions, "a list of object.permission strings")
    if not actions:
        raise AclError("%s: actions is empty" % where)
    found = []
    for index, action in enumerate(actions):
        vocabulary.text(action, "%s.actions[%d]" % (where, index), NAME_MAX)
        match = _ACTION.match(action)
        if not match:
            raise AclError("%s: action %r is not object.permission (for example domain.getattr)"
                           % (where, action))
        obj, permission = match.groups()
        if obj not in PERMISSIONS:
            raise AclError("%s: action %r: libvirt has no object %r (objects: %s)"
                           % (where, action, obj, ", ".join(sorted(PERMISSIONS))))
        permissions = PERMISSIONS[obj] if permission == "*" else (permission,)
        if permission != "*" and permission not in PERMISSIONS[obj]:
            raise AclError("%s: action %r: libvirt's %s object has no permission %r (it has: %s)"
                           % (where, action, obj, permission, ", ".join(PERMISSIONS[obj])))
        found += [(obj, "org.libvirt.api.%s.%s" % (obj.replace("_", "-"), p.replace("_", "-")))
                  for p in permissions]
    return found


DEFAULTS = ("deny", "libvirt")
# The final rule of polkit_acl_default: deny (what no entry decided, for every subject; polkitd
# authorises uid 0 before it runs any rule, so root is never refused).
LIBVIRT_API_PREFIX = "org.libvirt.api."
# Glob matching by explicit string operations (no regular expression): "*" any run of
# characters, "?" one character (one UTF-16 unit: values are BMP-only), all else literal.
_GLOB_FUNCTION = """\
    function glob(value, pattern) {
        if (typeof value !== "string") {
            return false;
        }
        var v = 0, p = 0, star = -1, mark = 0;
        while (v < value.length) {
            if (p < pattern.length && pattern.charAt(p) === "*") {
                star = p;
                mark = v;
                p++;
            } else if (p < pattern.length &&
                       (pattern.charAt(p) === "?" || pattern.charAt(p) === value.charAt(v))) {
                p++;
                v++;
            } else if (star !== -1) {
                p = star + 1;
                mark++;
                v = mark;
            } else {
                return false;
            }
        }
        while (p < pattern.length && pattern.charAt(p) === "*") {
            p++;
        }
        return p === pattern.length;
    }"""


def render(policy, header="", default="deny"):
    """The polkit rules file for a list of policy entries (see the polkit_acl role). ``header``
    is comment lines, each starting with ``//``. ``default``: ``deny`` ends the file with a rule
    refusing every ``org.libvirt.api.*`` action no entry decided; ``libvirt`` leaves such
    actions to libvirt's own policy (read-only actions allowed to any local user)."""
    if not isinstance(policy, list):
        raise _wrong_type("polkit_acl_rules", policy, "a list")
    if not isinstance(default, str):
        raise _wrong_type("polkit_acl_default", default, "a string")
    if default not in DEFAULTS:
        raise AclError("polkit_acl_default: %r is not one of %s" % (default, ", ".join(DEFAULTS)))
    blocks = []
    for index, entry in enumerate(policy):
        blocks.append(_rule(entry, "polkit_acl_rules[%d]" % index))
    if default == "deny":
        blocks.append("\n".join([
            "",
            "polkit.addRule(function (action, subject) {",
            "    // polkit_acl_default: deny. A libvirt API action no entry above decided is refused",
            "    // (polkitd authorises uid 0 before any rule runs).",
            "    if (action.id.indexOf(%s) === 0) {" % js_string(LIBVIRT_API_PREFIX),
            "        return polkit.Result.NO;",
            "    }",
            "});"]))
    if not isinstance(header, str):
        raise _wrong_type("header", header, "a string")
    lines = header.rstrip("\n").split("\n") if header else []
    for number, line in enumerate(lines):
        vocabulary.bmp_text(line, "header line %d" % (number + 1), 4096, allow_empty=True)
        if line and not line.startswith("//"):
            raise vocabulary.InvalidValue("header line %d" % (number + 1), line,
                                          "is not a // comment")
    lines.append("// libvirt access control (access_drivers = [ \"polkit\" ]). An entry that does "
                 "not match falls through")
    lines.append("// to the next; %s" % (
        "the last rule refuses every libvirt API action none decided." if default == "deny"
        else "what none decides is left to libvirt's own policy."))
    return "\n".join(lines + blocks) + "\n"


def _one_or_more(value, field, check, what):
    """``value`` as a non-empty list: a single value is a list of one; each element checked."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise AclError("%s: is an empty list (give one or more %s)" % (field, what))
    return [check(item, "%s[%d]" % (field, index) if isinstance(value, list) else field)
            for index, item in enumerate(values)]


def _detail_matcher(value, field):
    """One allowed value of a detail: a string (exact) or ``{glob: PATTERN}``; returns a
    JavaScript test of ``action.lookup(...)`` as a format string with one ``%s``, and whether
    it needs the glob function."""
    if isinstance(value, dict):
        if list(value) != ["glob"]:
            raise AclError("%s: a pattern is {glob: PATTERN}, not %r" % (field, dict(value)))
        pattern = _value(value["glob"], field + ".glob")
        return "glob(%%s, %s)" % js_string(pattern).replace("%", "%%"), True
    if not isinstance(value, str):
        raise _wrong_type(field, value, "a string, {glob: PATTERN} or a list of them")
    return "%%s == %s" % js_string(_value(value, field)).replace("%", "%%"), False


def _detail_test(name, value, field):
    """The JavaScript test of one detail (any of its allowed values); whether it needs glob."""
    lookup = "action.lookup(%s)" % js_string(name)
    matchers = _one_or_more(value, field, _detail_matcher, "values")
    tests = [template % lookup for template, _glob in matchers]
    test = tests[0] if len(tests) == 1 else "(%s)" % " || ".join(tests)
    return test, any(needs for _template, needs in matchers)


def _subject_test(entry, where):
    """Who the entry is for: any of its users, or a member of any of its groups; then
    ``local`` and ``active`` (the subject's session) when given."""
    key = "user" if "user" in entry else "group"

    def one(value, field):
        return _value(value, field, NAME_MAX)
    names = _one_or_more(entry[key], "%s.%s" % (where, key), one, key + "s")
    if key == "user":
        tests = ["subject.user == %s" % js_string(name) for name in names]
    else:
        tests = ["subject.isInGroup(%s)" % js_string(name) for name in names]
    test = tests[0] if len(tests) == 1 else "(%s)" % " || ".join(tests)
    for flag in ("local", "active"):
        if flag in entry:
            if not isinstance(entry[flag], bool):
                raise _wrong_type("%s.%s" % (where, flag), entry[flag], "a bool")
            test += " &&\n        %ssubject.%s" % ("" if entry[flag] else "!", flag)
    return test


def _rule(entry, where):
    if not isinstance(entry, dict):
        raise _wrong_type(where, entry, "a mapping (user or group, actions, details, ...)")
    unknown = [key for key in entry if key not in KEYS]
    if unknown:
        raise AclError("%s: unknown keys %s" % (where, ", ".join(sorted(map(str, unknown)))))
    if ("user" in entry) == ("group" in entry):
        raise AclError("%s: give exactly one of user and group" % where)
    actions = action_ids(entry.get("actions"), where)
    details = entry.get("details", {})
    if not isinstance(details, dict):
        raise _wrong_type("%s.details" % where, details, "a mapping of detail name to value")
    objects = {obj for obj, _id in actions}
    allowed = {"connect_driver"}
    for obj in objects:
        allowed.update(DETAILS[obj])
    for name in details:
        if name not in allowed:
            raise AclError("%s: detail %r is not one libvirt passes for %s (it passes: %s)"
                           % (where, name, ", ".join(sorted(objects)), ", ".join(sorted(allowed))))
    tests, needs_glob = [], False
    for name, value in sorted(details.items()):
        test, glob = _detail_test(name, value, "%s.details.%s" % (where, name))
        tests.append(test)
        needs_glob = needs_glob or glob
    result = _choice(entry, "result", "allow", RESULTS, where)
    otherwise = _choice(entry, "otherwise", "undecided", tuple(RESULTS) + ("undecided",), where)
    subject = _subject_test(entry, where)
    ids = " ||\n        ".join("action.id == %s" % js_string(action_id)
                               for _obj, action_id in actions)
    name = entry.get("name", "")
    if name != "":
        _value(name, where + ".name", NAME_MAX)
    lines = ["", "polkit.addRule(function (action, subject) {"]
    if name:
        # A line comment: checked above (no line break of any reader); non-ASCII shown as "?".
        lines.append("    // %s" % re.sub(r"[^\x20-\x7e]", "?", name))
    if needs_glob:
        lines.append(_GLOB_FUNCTION)
    lines.append("    if ((%s) &&\n        %s) {" % (ids, subject))
    if tests:
        lines.append("        if (%s) {" % " &&\n            ".join(tests))
        lines.append("            return polkit.Result.%s;" % RESULTS[result])
        lines.append("        }")
        if otherwise != "undecided":
            lines.append("        return polkit.Result.%s;" % RESULTS[otherwise])
    else:
        lines.append("        return polkit.Result.%s;" % RESULTS[result])
    lines.append("    }")
    lines.append("});")
    return "\n".join(lines)


def _choice(entry, key, default, choices, where):
    """``entry[key]``, a string among ``choices``; ``default`` when the key is absent."""
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, str):
        raise _wrong_type("%s.%s" % (where, key), value, "a string")
    if value not in choices:
        raise AclError("%s: %s %r is not one of %s" % (where, key, value, ", ".join(choices)))
    return value
