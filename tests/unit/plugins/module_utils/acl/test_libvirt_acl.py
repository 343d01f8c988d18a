"""The polkit rules rendered from a declarative policy: names checked against libvirt's, values
escaped, and the result run in a JavaScript engine (node, ECMAScript 5 checked by acorn) the
way polkit runs it."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.virtkit.host.plugins.module_utils.libvirt_acl import AclError, render

ARTICLE = [
    {"name": "berrange may only use the QEMU driver", "user": "berrange",
     "actions": ["connect.getattr"], "details": {"connect_driver": "QEMU"}},
    {"user": "berrange", "actions": "domain.getattr",
     "details": {"connect_driver": "LXC", "domain_name": "demo"}},
]
# Runs a rules file like polkit: each rule in order, the first non-undefined result wins.
RUNNER = """
var fs = require('fs');
var rules = [];
var polkit = {Result: {YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', AUTH_SELF: 'auth_self',
                       AUTH_ADMIN_KEEP: 'auth_admin_keep', AUTH_SELF_KEEP: 'auth_self_keep',
                       NOT_HANDLED: undefined},
              addRule: function (rule) { rules.push(rule); }};
eval(fs.readFileSync(process.argv[2], 'utf8'));
var cases = JSON.parse(process.argv[3]);
var answers = cases.map(function (c) {
  var action = {id: c.action, lookup: function (k) { return c.details[k]; }};
  var subject = {user: c.user, isInGroup: function (g) { return c.groups.indexOf(g) >= 0; }};
  for (var i = 0; i < rules.length; i++) {
    var r = rules[i](action, subject);
    if (r !== undefined) { return r; }
  }
  return 'undecided';
});
console.log(JSON.stringify(answers));
"""


def tool(name):
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("%s is missing (make deps installs it)" % name)
        pytest.skip("%s is missing" % name)
    return path


def evaluate(policy, cases):
    text = render(policy)
    with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as handle:
        handle.write(text)
    try:
        check = subprocess.run([tool("acorn"), "--ecma5", "--silent", handle.name],
                               stderr=subprocess.PIPE, universal_newlines=True, check=False)
        assert check.returncode == 0, check.stderr
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as runner:
            runner.write(RUNNER)
        out = subprocess.run([tool("node"), runner.name, handle.name, json.dumps(cases)],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        os.unlink(runner.name)
        return json.loads(out)
    finally:
        os.unlink(handle.name)


def case(action, details, user="berrange", groups=()):
    return {"action": action, "details": details, "user": user, "groups": list(groups)}


def test_the_articles_examples():
    answers = evaluate(ARTICLE, [
        case("org.libvirt.api.connect.getattr", {"connect_driver": "QEMU"}),
        case("org.libvirt.api.connect.getattr", {"connect_driver": "LXC"}),
        case("org.libvirt.api.domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"}),
        case("org.libvirt.api.domain.getattr", {"connect_driver": "LXC", "domain_name": "other"}),
        case("org.libvirt.api.domain.getattr", {"connect_driver": "QEMU", "domain_name": "demo"}),
        case("org.libvirt.api.domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"},
             user="alice"),
        case("org.libvirt.api.domain.start", {"connect_driver": "LXC", "domain_name": "demo"}),
    ])
    assert answers == ["yes", "no", "yes", "no", "no", "undecided", "undecided"]


def test_rendering_is_readable():
    text = render(ARTICLE[:1])
    assert 'if ((action.id == "org.libvirt.api.connect.getattr") &&' in text
    assert 'subject.user == "berrange") {' in text
    assert 'if (action.lookup("connect_driver") == "QEMU") {' in text


@pytest.mark.parametrize("hostile", [
    'x"); return polkit.Result.YES; //',
    "x'); return polkit.Result.YES; //",
    "a\\\"b",
    "line\nbreak",
    "sep\u2028arator",
    "*/ return polkit.Result.YES; /*",
    "</script>",
])
def test_values_cannot_change_the_logic(hostile):
    policy = [{"user": "berrange", "actions": ["domain.*"],
               "details": {"domain_name": hostile}}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.start", {"domain_name": hostile}),
        case("org.libvirt.api.domain.start", {"domain_name": "other"}),
    ])
    assert answers == ["yes", "no"]


def test_groups_results_and_undecided():
    policy = [{"group": "virt-ops", "actions": ["domain.start", "domain.stop"],
               "details": {"domain_name": "web1"}, "otherwise": "undecided"},
              {"group": "virt-ops", "actions": ["domain.start"], "result": "auth_admin"}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.stop", {"domain_name": "web1"}, groups=["virt-ops"]),
        case("org.libvirt.api.domain.start", {"domain_name": "db1"}, groups=["virt-ops"]),
        case("org.libvirt.api.domain.stop", {"domain_name": "db1"}, groups=["virt-ops"]),
    ])
    assert answers == ["yes", "auth_admin", "undecided"]


@pytest.mark.parametrize("entry, message", [
    ({"user": "u", "actions": ["domain.getatr"]},
     "polkit_acl_rules[0]: action 'domain.getatr': libvirt's domain object has no permission 'getatr'"),
    ({"user": "u", "actions": ["dom.getattr"]}, "libvirt has no object 'dom'"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"network_name": "x"}},
     "detail 'network_name' is not one libvirt passes for domain"),
    ({"actions": ["domain.getattr"]}, "give exactly one of user and group"),
    ({"user": "u", "group": "g", "actions": ["domain.getattr"]}, "give exactly one of user and group"),
    ({"user": "u", "actions": []}, "actions is empty"),
    ({"user": "u", "actions": ["domain.getattr"], "result": "maybe"}, "result 'maybe' is not one of"),
    ({"user": "u", "actions": ["domain.getattr"], "colour": "red"}, "unknown keys colour"),
    ({"user": "u", "actions": ["Domain Getattr"]}, "is not object.permission"),
])
def test_bad_entries_are_named(entry, message):
    with pytest.raises(AclError) as info:
        render([entry])
    assert message in str(info.value)
