# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's fine-grained access control as polkit rules: a declarative policy checked against
libvirt's objects, permissions and details, rendered as ECMAScript 5 (what polkit's engine
runs), every value escaped."""

import json
import re

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
_ACTION = re.compile(r"^([a-z_]+)\.([a-z_*]+)$")


class AclError(ValueError):
    """A policy entry libvirt or polkit would not understand; names the entry and the value."""


def _js(text):
    """A JavaScript string literal: JSON with every non-ASCII character escaped (so U+2028 and
    U+2029, which end a line in ES5, cannot end the literal), and "/" escaped so no "</" or
    comment opener appears in the file."""
    return json.dumps(str(text), ensure_ascii=True).replace("/", "\\/")


def action_ids(actions, where):
    """``object.permission`` (``object.*`` for all of an object's permissions) -> polkit ids."""
    if isinstance(actions, str):
        actions = [actions]
    if not actions:
        raise AclError("%s: actions is empty" % where)
    found = []
    for action in actions:
        match = _ACTION.match(str(action))
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


def render(policy, header=""):
    """The polkit rules file for a list of policy entries (see the polkit_acl role)."""
    blocks = []
    for index, entry in enumerate(policy or []):
        blocks.append(_rule(entry, "polkit_acl_rules[%d]" % index))
    lines = header.splitlines()
    lines.append("// libvirt access control (access_drivers = [ \"polkit\" ]). First matching "
                 "rule wins.")
    return "\n".join(lines + blocks) + "\n"


def _rule(entry, where):
    if not isinstance(entry, dict):
        raise AclError("%s: an entry is a mapping, not %r" % (where, entry))
    unknown = set(entry) - {"name", "user", "group", "actions", "details", "result", "otherwise"}
    if unknown:
        raise AclError("%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
    if bool(entry.get("user")) == bool(entry.get("group")):
        raise AclError("%s: give exactly one of user and group" % where)
    actions = action_ids(entry.get("actions"), where)
    details = entry.get("details") or {}
    if not isinstance(details, dict):
        raise AclError("%s: details is a mapping of detail name to value, not %r"
                       % (where, details))
    objects = {obj for obj, _id in actions}
    for name in details:
        allowed = {"connect_driver"}
        for obj in objects:
            allowed.update(DETAILS[obj])
        if name not in allowed:
            raise AclError("%s: detail %r is not one libvirt passes for %s (it passes: %s)"
                           % (where, name, ", ".join(sorted(objects)), ", ".join(sorted(allowed))))
    result = entry.get("result", "allow")
    if result not in RESULTS:
        raise AclError("%s: result %r is not one of %s" % (where, result, ", ".join(RESULTS)))
    otherwise = entry.get("otherwise", "deny" if details else None)
    if otherwise is not None and otherwise not in tuple(RESULTS) + ("undecided",):
        raise AclError("%s: otherwise %r is not one of %s, undecided"
                       % (where, otherwise, ", ".join(RESULTS)))
    subject = ("subject.user == %s" % _js(entry["user"]) if entry.get("user")
               else "subject.isInGroup(%s)" % _js(entry["group"]))
    ids = " ||\n        ".join("action.id == %s" % _js(action_id) for _obj, action_id in actions)
    name = entry.get("name") or ""
    lines = ["", "polkit.addRule(function (action, subject) {"]
    if name:
        lines.append("    // %s" % re.sub(r"[^\x20-\x7e]", "?", str(name)))
    lines.append("    if ((%s) &&\n        %s) {" % (ids, subject))
    if details:
        test = " &&\n            ".join("action.lookup(%s) == %s" % (_js(key), _js(value))
                                        for key, value in sorted(details.items()))
        lines.append("        if (%s) {" % test)
        lines.append("            return polkit.Result.%s;" % RESULTS[result])
        lines.append("        }")
        if otherwise != "undecided":
            lines.append("        return polkit.Result.%s;" % RESULTS[otherwise])
    else:
        lines.append("        return polkit.Result.%s;" % RESULTS[result])
    lines.append("    }")
    lines.append("});")
    return "\n".join(lines)
