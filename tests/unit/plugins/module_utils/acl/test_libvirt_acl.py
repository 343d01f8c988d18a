"""The polkit rules rendered from a declarative policy: names checked against libvirt's, values
escaped, and the result run in a JavaScript engine (node, ECMAScript 5 checked by acorn) the
way polkit runs it."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.plugin_utils._libvirt_acl import (
    AclError,
    js_string,
    render,
)

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
  var subject = {user: c.user, local: c.local, active: c.active,
                 isInGroup: function (g) { return c.groups.indexOf(g) >= 0; }};
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


def evaluate(policy, cases, default="deny"):
    text = render(policy, default=default)
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


def case(action, details, user="berrange", groups=(), local=True, active=True):
    return {"action": action, "details": details, "user": user, "groups": list(groups),
            "local": local, "active": active}


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
    assert answers == ["yes", "no", "yes", "no", "no", "no", "no"]


def test_the_articles_examples_under_libvirts_defaults():
    """polkit_acl_default: libvirt: what no entry grants is left to libvirt's policy."""
    answers = evaluate(ARTICLE, [
        case("org.libvirt.api.connect.getattr", {"connect_driver": "QEMU"}),
        case("org.libvirt.api.connect.getattr", {"connect_driver": "LXC"}),
        case("org.libvirt.api.domain.getattr", {"connect_driver": "LXC", "domain_name": "demo"},
             user="alice"),
    ], default="libvirt")
    assert answers == ["yes", "undecided", "undecided"]


def test_entries_fall_through():
    """The first-match trap: two entries for one user and action with different domains both
    apply; what neither grants is refused by the lock-down."""
    policy = [{"user": "alice", "actions": ["domain.getattr"], "details": {"domain_name": "web1"}},
              {"user": "alice", "actions": ["domain.getattr"], "details": {"domain_name": "web2"}}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.getattr", {"domain_name": "web1"}, user="alice"),
        case("org.libvirt.api.domain.getattr", {"domain_name": "web2"}, user="alice"),
        case("org.libvirt.api.domain.getattr", {"domain_name": "db1"}, user="alice"),
        case("org.libvirt.api.domain.getattr", {"domain_name": "web1"}, user="bob"),
        case("org.freedesktop.other", {}, user="bob"),
    ])
    assert answers == ["yes", "yes", "no", "no", "undecided"]


def test_otherwise_deny_still_stops_at_the_entry():
    policy = [{"user": "alice", "actions": ["domain.getattr"], "details": {"domain_name": "web1"},
               "otherwise": "deny"},
              {"user": "alice", "actions": ["domain.getattr"], "details": {"domain_name": "web2"}}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.getattr", {"domain_name": "web1"}, user="alice"),
        case("org.libvirt.api.domain.getattr", {"domain_name": "web2"}, user="alice"),
    ], default="libvirt")
    assert answers == ["yes", "no"]


def test_any_of_values_globs_and_subjects():
    policy = [{"user": ["alice", "bob"], "actions": ["domain.getattr"],
               "details": {"domain_name": ["web1", {"glob": "db-*"}, {"glob": "c?t"}]}},
              {"group": ["ops", "dev"], "actions": ["domain.start"], "local": True, "active": True},
              {"user": "carol", "actions": ["domain.stop"], "local": False}]
    getattr_ = "org.libvirt.api.domain.getattr"
    answers = evaluate(policy, [
        case(getattr_, {"domain_name": "web1"}, user="alice"),
        case(getattr_, {"domain_name": "web1"}, user="bob"),
        case(getattr_, {"domain_name": "web1"}, user="carol"),
        case(getattr_, {"domain_name": "web2"}, user="bob"),
        case(getattr_, {"domain_name": "db-"}, user="bob"),
        case(getattr_, {"domain_name": "db-main"}, user="bob"),
        case(getattr_, {"domain_name": "xdb-main"}, user="bob"),
        case(getattr_, {"domain_name": "cat"}, user="bob"),
        case(getattr_, {"domain_name": "ct"}, user="bob"),
        case(getattr_, {"domain_name": "caat"}, user="bob"),
        case(getattr_, {}, user="bob"),
        case("org.libvirt.api.domain.start", {}, user="x", groups=["dev"]),
        case("org.libvirt.api.domain.start", {}, user="x", groups=["dev"], active=False),
        case("org.libvirt.api.domain.start", {}, user="x", groups=["dev"], local=False),
        case("org.libvirt.api.domain.start", {}, user="x", groups=["other"]),
        case("org.libvirt.api.domain.stop", {}, user="carol", local=False),
        case("org.libvirt.api.domain.stop", {}, user="carol", local=True),
    ])
    assert answers == ["yes", "yes", "no", "no", "yes", "yes", "no", "yes", "no", "no", "no",
                       "yes", "no", "no", "no", "yes", "no"]


GLOB_CASES = [
    ("web-*", "web-", True), ("web-*", "web-1", True), ("web-*", "web", False),
    ("web-*", "xweb-1", False), ("*", "", True), ("*", "anything", True),
    ("a*b*c", "abc", True), ("a*b*c", "aXbYc", True), ("a*b*c", "acb", False),
    ("a*b*c", "abcbc", True), ("a*b*c", "abcb", False), ("*a", "bbba", True),
    ("?", "", False), ("?", "\u00e9", True), ("??", "\u00e9", False), ("a?c", "a*c", True),
    ("*.*", "a.b", True), ("*.*", "ab", False), ("web[1]", "web1", False),
    ("web[1]", "web[1]", True), ("x\\*", "x\\yz", True), ("**a**", "a", True),
    ('x"*', 'x"); return polkit.Result.YES; //', True),
    ('x"*', "x'); return polkit.Result.YES; //", False),
    ("*/", "*/ return polkit.Result.YES; /*", False),
]


def test_globs_match_like_fnmatch():
    """The JavaScript glob against the expected answers, and those against Python's
    fnmatchcase for patterns without brackets (brackets are literal in polkit_acl's globs).
    One entry per case, each for a user of its own."""
    import fnmatch  # pylint: disable=import-outside-toplevel
    policy = [{"user": "u%d" % index, "actions": ["domain.getattr"],
               "details": {"domain_name": {"glob": pattern}}}
              for index, (pattern, _value, _expected) in enumerate(GLOB_CASES)]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.getattr", {"domain_name": value}, user="u%d" % index)
        for index, (_pattern, value, _expected) in enumerate(GLOB_CASES)])
    assert answers == ["yes" if expected else "no" for _p, _v, expected in GLOB_CASES]
    for pattern, value, expected in GLOB_CASES:
        if "[" not in pattern:
            assert fnmatch.fnmatchcase(value, pattern) is expected, (pattern, value)


def test_globs_agree_with_fnmatch_on_random_cases():
    """300 random patterns and values over a small alphabet (stars and question marks in
    runs), answered by the rules in node and by Python's fnmatchcase."""
    import fnmatch  # pylint: disable=import-outside-toplevel
    import random  # pylint: disable=import-outside-toplevel
    rng = random.Random(16)
    cases = []
    for _case in range(300):
        pattern = "".join(rng.choice("ab*?.") for _char in range(rng.randint(0, 7)))
        value = "".join(rng.choice("ab.") for _char in range(rng.randint(0, 8)))
        cases.append((pattern or "*", value or "a"))
    policy = [{"user": "u%d" % index, "actions": ["domain.getattr"],
               "details": {"domain_name": {"glob": pattern}}}
              for index, (pattern, _value) in enumerate(cases)]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.getattr", {"domain_name": value}, user="u%d" % index)
        for index, (_pattern, value) in enumerate(cases)])
    expected = ["yes" if fnmatch.fnmatchcase(value, pattern) else "no"
                for pattern, value in cases]
    assert answers == expected
    assert 40 < expected.count("yes") < 260


@pytest.mark.parametrize("entry, message", [
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": []}},
     "polkit_acl_rules[0].details.domain_name: is an empty list"),
    ({"user": [], "actions": ["domain.getattr"]}, "polkit_acl_rules[0].user: is an empty list"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": {"regex": "x"}}},
     "polkit_acl_rules[0].details.domain_name: a pattern is {glob: PATTERN}"),
    ({"user": "u", "actions": ["domain.getattr"],
      "details": {"domain_name": {"glob": "x", "other": "y"}}}, "a pattern is {glob: PATTERN}"),
])
def test_bad_lists_and_patterns(entry, message):
    with pytest.raises(AclError) as info:
        render([entry])
    assert message in str(info.value)


def test_deny_default_rule_and_choice():
    text = render([])
    assert 'if (action.id.indexOf("org.libvirt.api.") === 0) {' in text
    assert "return polkit.Result.NO;" in text
    assert "polkit.Result" not in render([], default="libvirt")
    with pytest.raises(AclError) as info:
        render([], default="allow")
    assert "polkit_acl_default: 'allow' is not one of deny, libvirt" in str(info.value)
    with pytest.raises(vocabulary.InvalidValue):
        render([], default=None)


def test_rendering_is_readable():
    text = render(ARTICLE[:1])
    assert 'if ((action.id == "org.libvirt.api.connect.getattr") &&' in text
    assert 'subject.user == "berrange") {' in text
    assert 'if (action.lookup("connect_driver") == "QEMU") {' in text


HOSTILE = [
    'x"); return polkit.Result.YES; //',
    "x'); return polkit.Result.YES; //",
    "a\\\"b",
    "a\\u0041b",  # a backslash and u0041, not "A"
    "a;b{c}d#e",
    "*/ return polkit.Result.YES; /*",
    "</script><script>",
    "w" * 4096,  # a very long word, at the limit
    "caf\u00e9 \u65e5\u672c \uffef",  # non-ASCII within the BMP
]


def short(value):
    return ascii(value)[:24] if isinstance(value, str) else None


@pytest.mark.parametrize("hostile", HOSTILE, ids=short)
def test_values_cannot_change_the_logic(hostile):
    policy = [{"user": "berrange", "actions": ["domain.*"],
               "details": {"domain_name": hostile}}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.start", {"domain_name": hostile}),
        case("org.libvirt.api.domain.start", {"domain_name": "other"}),
    ])
    assert answers == ["yes", "no"]


@pytest.mark.parametrize("value, message", [
    ("line\nbreak", "contains a control character or a line break"),
    ("sep\u2028arator", "contains a control character or a line break"),
    ("para\u2029graph", "contains a control character or a line break"),
    ("nul\x00", "contains a control character or a line break"),
    ("nel\x85", "contains a control character or a line break"),
    ("web1\n", "contains a control character or a line break"),
    ("emoji \U0001F600", "contains U+1F600, outside the Basic Multilingual Plane"),
    ("lone \ud83d", "contains U+D83D, outside the Basic Multilingual Plane"),
    ("w" * 4097, "is longer than 4096 characters"),
    ("", "is empty"),
], ids=short)
def test_values_the_engine_cannot_compare_are_refused(value, message):
    policy = [{"user": "berrange", "actions": ["domain.getattr"],
               "details": {"domain_name": value}}]
    with pytest.raises(vocabulary.InvalidValue) as info:
        render(policy)
    assert str(info.value).startswith("polkit_acl_rules[0].details.domain_name: ")
    assert message in str(info.value)


@pytest.mark.parametrize("entry, message", [
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": None}},
     "polkit_acl_rules[0].details.domain_name: None is a null, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": ["web1", None]}},
     "polkit_acl_rules[0].details.domain_name[1]: None is a null, not a string, {glob: PATTERN}"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": {"glob": 5}}},
     "polkit_acl_rules[0].details.domain_name.glob: 5 is a int, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": ["a\u2028"]}},
     "polkit_acl_rules[0].details.domain_name[0]: 'a\\u2028' contains a control character"),
    ({"user": "u", "actions": ["domain.getattr"], "local": "yes"},
     "polkit_acl_rules[0].local: 'yes' is a str, not a bool"),
    ({"user": "u", "actions": ["domain.getattr"], "active": 1},
     "polkit_acl_rules[0].active: 1 is a int, not a bool"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": 5}},
     "polkit_acl_rules[0].details.domain_name: 5 is a int, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": True}},
     "polkit_acl_rules[0].details.domain_name: True is a bool, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "details": ["domain_name", "demo"]},
     "polkit_acl_rules[0].details: ['domain_name', 'demo'] is a list, not a mapping"),
    ({"user": "u", "actions": ["domain.getattr"], "details": None},
     "polkit_acl_rules[0].details: None is a null, not a mapping"),
    ({"user": None, "actions": ["domain.getattr"]},
     "polkit_acl_rules[0].user: None is a null, not a string"),
    ({"user": ["a", None], "actions": ["domain.getattr"]},
     "polkit_acl_rules[0].user[1]: None is a null, not a string"),
    ({"group": {"a": 1}, "actions": ["domain.getattr"]},
     "polkit_acl_rules[0].group: {'a': 1} is a dict, not a string"),
    ({"group": 0, "actions": ["domain.getattr"]},
     "polkit_acl_rules[0].group: 0 is a int, not a string"),
    ({"user": "u\u2028", "actions": ["domain.getattr"]},
     "polkit_acl_rules[0].user: 'u\\u2028' contains a control character or a line break"),
    ({"user": "u", "actions": None}, "polkit_acl_rules[0].actions: None is a null, not a list"),
    ({"user": "u", "actions": ["domain.getattr", 1]},
     "polkit_acl_rules[0].actions[1]: 1 is a int, not a string"),
    ({"user": "u", "actions": ["domain.getattr\n"]},
     "polkit_acl_rules[0].actions[0]: 'domain.getattr\\n' contains a control character"),
    ({"user": "u", "actions": ["domain.getattr"], "result": None},
     "polkit_acl_rules[0].result: None is a null, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "details": {"domain_name": "d"},
      "otherwise": False}, "polkit_acl_rules[0].otherwise: False is a bool, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "name": ["a"]},
     "polkit_acl_rules[0].name: ['a'] is a list, not a string"),
    ({"user": "u", "actions": ["domain.getattr"], "name": "a\nb"},
     "polkit_acl_rules[0].name: 'a\\nb' contains a control character"),
    ("user: u", "polkit_acl_rules[0]: 'user: u' is a str, not a mapping"),
])
def test_wrong_types_are_named(entry, message):
    with pytest.raises(vocabulary.InvalidValue) as info:
        render([entry])
    assert str(info.value).startswith(message)


def test_the_policy_is_a_list():
    with pytest.raises(vocabulary.InvalidValue) as info:
        render(None)
    assert str(info.value) == "polkit_acl_rules: None is a null, not a list"


@pytest.mark.parametrize("header", ["// ok\nevil();", "// ok\u2028evil();", "// \U0001F600"])
def test_header_is_only_comments(header):
    with pytest.raises(vocabulary.InvalidValue):
        render([], header)


def test_header_comments_are_kept():
    assert render([], "//\n// Ansible managed\n//").startswith("//\n// Ansible managed\n//\n// libvirt")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=0xFFFF,
                                               blacklist_categories=("Cs",))),
                min_size=1, max_size=50))
def test_js_string_reads_back_as_the_same_string(values):
    """Every BMP string, control characters included, is read back by an ES5 parser (acorn)
    and engine (node) as exactly itself."""
    source = "var values = [%s];\n" % ", ".join(js_string(value) for value in values)
    assert all(ord(char) < 0x80 for char in source)
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as handle:
        handle.write(source + "console.log(JSON.stringify(values));\n")
    try:
        check = subprocess.run([tool("acorn"), "--ecma5", "--silent", handle.name],
                               stderr=subprocess.PIPE, universal_newlines=True, check=False)
        assert check.returncode == 0, check.stderr
        out = subprocess.run([tool("node"), handle.name], stdout=subprocess.PIPE, check=True).stdout
    finally:
        os.unlink(handle.name)
    assert json.loads(out.decode("utf-8")) == values


@settings(max_examples=15, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, blacklist_characters="*?",
                                      blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
               min_size=1, max_size=40))
def test_glob_text_is_only_text(text):
    """Any BMP text in a glob (quotes, backslashes, regex syntax, non-ASCII) is acorn-clean ES5
    and matches only itself: ``TEXT*`` takes what starts with TEXT and nothing else."""
    policy = [{"user": "u", "actions": ["domain.getattr"],
               "details": {"domain_name": {"glob": text + "*"}}}]
    values = (text, text + "x*", "x" + text, text[:-1], text.upper())
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.getattr", {"domain_name": value}, user="u")
        for value in values])
    assert answers == ["yes" if value.startswith(text) else "no" for value in values]


def test_js_string_takes_strings_only():
    with pytest.raises(TypeError):
        js_string(None)


def test_groups_results_and_undecided():
    policy = [{"group": "virt-ops", "actions": ["domain.start", "domain.stop"],
               "details": {"domain_name": "web1"}, "otherwise": "undecided"},
              {"group": "virt-ops", "actions": ["domain.start"], "result": "auth_admin"}]
    answers = evaluate(policy, [
        case("org.libvirt.api.domain.stop", {"domain_name": "web1"}, groups=["virt-ops"]),
        case("org.libvirt.api.domain.start", {"domain_name": "db1"}, groups=["virt-ops"]),
        case("org.libvirt.api.domain.stop", {"domain_name": "db1"}, groups=["virt-ops"]),
    ])
    assert answers == ["yes", "auth_admin", "no"]


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
