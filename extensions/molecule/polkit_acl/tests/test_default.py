"""The converged container: rules file in place, checked by acorn, libvirtd switched to polkit,
and the rules, run in node the way polkit runs them, lock down what no entry grants."""

import json
import shlex

RULES = "/etc/polkit-1/rules.d/50-virtkit-libvirt-acl.rules"
# Each rule in order, the first answer wins (polkit's engine, with polkit's API mocked).
RUNNER = """
var fs = require('fs');
var rules = [];
var polkit = {Result: {YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', AUTH_SELF: 'auth_self',
                       AUTH_ADMIN_KEEP: 'auth_admin_keep', AUTH_SELF_KEEP: 'auth_self_keep'},
              addRule: function (rule) { rules.push(rule); }};
eval(fs.readFileSync(process.argv[1], 'utf8'));
console.log(JSON.stringify(JSON.parse(process.argv[2]).map(function (c) {
  var action = {id: 'org.libvirt.api.' + c[1], lookup: function (k) { return c[2][k]; }};
  var subject = {user: c[0], local: true, active: true,
                 isInGroup: function (g) { return (c[3] || []).indexOf(g) >= 0; }};
  for (var i = 0; i < rules.length; i++) {
    var r = rules[i](action, subject);
    if (r !== undefined) { return r; }
  }
  return 'undecided';
})));
"""


def answers(host, cases):
    command = "node -e %s %s %s" % (shlex.quote(RUNNER), RULES, shlex.quote(json.dumps(cases)))
    return json.loads(host.check_output(command))


def test_rules_file(host):
    rules = host.file(RULES)
    assert rules.exists and rules.user == "root" and rules.mode == 0o644
    assert 'action.id == "org.libvirt.api.domain.getattr"' in rules.content_string
    assert 'action.lookup("domain_name") == "demo"' in rules.content_string
    assert 'if (action.id.indexOf("org.libvirt.api.") === 0) {' in rules.content_string
    assert host.run("acorn --ecma5 --silent %s" % rules.path).rc == 0


def test_lock_down(host):
    """An unlisted user gets no on libvirt's read-only actions; listed ones what they are
    granted, a list and a glob included; other software's actions are not touched."""
    assert answers(host, [
        ["alice", "domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"}],
        ["alice", "connect.getattr", {"connect_driver": "QEMU"}],
        ["berrange", "domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"}],
        ["berrange", "domain.getattr", {"connect_driver": "LXC", "domain_name": "other"}],
        ["berrange", "connect.getattr", {"connect_driver": "QEMU"}],
        ["carol", "domain.read", {"domain_name": "web-7"}, ["web-oncall"]],
        ["carol", "domain.getattr", {"domain_name": "web1"}, ["webteam"]],
        ["carol", "domain.getattr", {"domain_name": "db1"}, ["webteam"]],
    ]) == ["no", "no", "yes", "no", "yes", "yes", "yes", "no"]


def test_access_driver(host):
    config = host.file("/etc/libvirt/libvirtd.conf").content_string
    assert 'access_drivers = [ "polkit" ]' in config.splitlines()
