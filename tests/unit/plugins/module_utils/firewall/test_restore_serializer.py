"""The one spelling of the *-restore format (_restore.py) and its inverse for listings.

The expected tokenizations were measured against iptables-restore / ebtables-restore 1.8.9
(nf_tables) in a network namespace; tests/integration/test_restore_roundtrip.py checks them
against the real tools."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _restore
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    _BATCHABLE,
    restore_line,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import (
    canonical_iptables,
    parse_list_rules,
    parse_save,
)

split_line = _restore.split_line


@pytest.mark.parametrize("word, spelled", [
    ("ACCEPT", "ACCEPT"),
    ("192.168.122.0/24", "192.168.122.0/24"),
    ("52:54:00:12:34:56", "52:54:00:12:34:56"),
    ("!", "!"),
    ("", '""'),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("\\", '"\\\\"'),
    ('\\"', '"\\\\\\""'),
    ("it's", '"it\'s"'),
    ("tab\there", '"tab\there"'),
    ("#", '"#"'),
    ("a;b{c}", '"a;b{c}"'),
    ("*filter", '"*filter"'),
    ("-P INPUT DROP", '"-P INPUT DROP"'),
    ("sep\u2028arator", '"sep\u2028arator"'),
    ("vt\x0bff\x0c", '"vt\x0bff\x0c"'),
])
def test_spell_word(word, spelled):
    assert _restore.spell_word(word) == spelled
    assert split_line(spelled) == [word]


@pytest.mark.parametrize("word, reason", [
    ("two\nlines", "newline"),
    ("cr\rhere", "carriage return"),
    ("nul\0", "NUL"),
    ("x" * 1001, "longer than"),
    ("\u00e9" * 501, "1002 bytes"),  # bytes, not characters
    ("lone \udc80 surrogate", "not valid Unicode"),
])
def test_spell_word_refuses_what_a_line_cannot_carry(word, reason):
    with pytest.raises(_restore.Unspellable) as info:
        _restore.spell_word(word)
    assert reason in str(info.value)


def test_line_limit_has_a_margin_below_the_tools_buffer():
    assert _restore.MAX_LINE_BYTES <= 10239 - 1024
    words = ["-A", "INPUT"] + ["x" * 999] * 8
    assert len(_restore.spell_line(words)) == 8 * 1000 + 8
    with pytest.raises(_restore.Unspellable) as info:
        _restore.spell_line(words + ["-j", "ACCEPT", "y" * 200])
    assert "cut it in two" in str(info.value)


@pytest.mark.parametrize("line, words", [
    # measured with iptables-restore 1.8.9
    ('-A X --comment "ab"cd', ["-A", "X", "--comment", "ab", "cd"]),
    ('-A X --comment ab"cd"', ["-A", "X", "--comment", "abcd"]),
    ('-A X --comment a\\b', ["-A", "X", "--comment", "a\\b"]),
    ("-A X --comment 'a b'", ["-A", "X", "--comment", "'a", "b'"]),
    ('-A X --comment "" -j A', ["-A", "X", "--comment", "", "-j", "A"]),
    ('-A X --comment "unterminated -j A', ["-A", "X", "--comment", "unterminated -j A"]),
    ('-A X --comment "a\\nb"', ["-A", "X", "--comment", "anb"]),
    ("  -A\tX  \n", ["-A", "X"]),
    ("-A X --comment a\rb", ["-A", "X", "--comment", "a\rb"]),
    ("-A X --comment a\u2028b", ["-A", "X", "--comment", "a\u2028b"]),
    # iptables-save's spelling of a comment: quotes, and \ before " \ and '
    ('-A IN -m comment --comment "it\\\'s \\"x\\" \\\\" -j ACCEPT',
     ["-A", "IN", "-m", "comment", "--comment", 'it\'s "x" \\', "-j", "ACCEPT"]),
])
def test_split_line_reads_as_the_restore_tokenizer(line, words):
    assert split_line(line) == words


hostile = st.lists(st.sampled_from(
    list(' "\'\\;{}#*:-\t\u2028\x0bPa0\n\r') + ["-P INPUT DROP", "COMMIT", '\\"', "\u00e9"]),
    max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(hostile, st.text(max_size=20)), max_size=8))
def test_split_line_inverts_spell_line(words):
    try:
        line = _restore.spell_line(words)
    except _restore.Unspellable:
        assert any(c in word for word in words for c in "\n\r\0") or any(
            "\ud800" <= c <= "\udfff" for word in words for c in word)
        return
    assert "\n" not in line and "\r" not in line and "\0" not in line
    assert split_line(line) == words


def test_rule_line_table_and_command():
    assert restore_line(("-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE")) == (
        "nat", "-A POSTROUTING -j MASQUERADE")
    assert restore_line(("--table=raw", "-A", "X")) == ("raw", "-A X")
    assert restore_line(("-A", "X", "-m", "comment", "--comment", "")) == (
        "filter", '-A X -m comment --comment ""')
    assert restore_line(("-t", "nat", "-N", "X", "-P", "RETURN")) == ("nat", "-N X -P RETURN")
    assert restore_line(("-A", "X", "-s", "!", "52:54:00:12:34:56", "-p", "IPv4")) is not None
    assert restore_line(("-A", "X", "-p", "tcp", "--dport", "-1")) is not None


@pytest.mark.parametrize("args", [
    ("-L", "X"),
    ("-S",),
    ("--check", "X", "-j", "A"),
    ("-w", "-A", "X", "-j", "A"),  # something before the command
    ("-t", "nat"),
    ("-t", "filter\n-P INPUT DROP", "-A", "X"),
    ("-t", "my table", "-A", "X"),
    ("-A", "X", "-j", "A", "-t", "nat"),  # a table option after the command
    ("-A", "X", "-j", "A", "--tab", "nat"),
    ("-A", "X", "-j", "A", "-P", "INPUT", "DROP"),
    ("-A", "X", "-j", "A", "--policy=DROP"),
    ("-A", "X", "-j", "A", "--pol", "INPUT", "DROP"),
    ("-A", "X", "-j", "A", "-vF"),
    ("-A", "X", "-j", "A", "-X"),
    ("-A", "X", "-j", "A", "-E", "X", "Y"),
    ("-A", "X", "-j", "A", "-Z"),
    ("-A", "X", "-j", "A", "-R", "X", "1"),
    ("-A", "X", "-j", "A", "--flush"),
    ("-A", "X", "-j", "A", "--init-table"),
    ("-A", "X", "-j", "A", "--modprobe=/tmp/x"),
    ("-A", "X", "-m", "comment", "--comment", "-P", "-j", "A"),  # could be a command: refused
    ("-A", "X", "-m", "comment", "--comment", "two\nlines"),
    ("-A", "X", "-m", "comment", "--comment", "x" * 2000),
    ("-N", "X", "-P", "RETURN", "-F"),
])
def test_rule_line_refuses(args):
    assert restore_line(args) is None


def test_rule_line_takes_the_callers_command_set():
    assert _restore.rule_line(("-A", "X"), frozenset(("-I",))) is None
    assert _restore.rule_line(("-I", "X"), _BATCHABLE) == ("filter", "-I X")


@pytest.mark.parametrize("word, command", [
    ("-P", True), ("-t", True), ("-vF", True), ("--pol", True), ("--policy=DROP", True),
    ("--ta", True), ("--new", True), ("--l", True),
    ("-j", False), ("-m", False), ("-p", False), ("-s", False), ("-1", False), ("-", False),
    ("--", False), ("--dport", False), ("--in-interface", False), ("--log-prefix", False),
    ("--tcp-flags", False), ("--comment", False), ("--protocol", False), ("ACCEPT", False),
])
def test_is_command_word(word, command):
    assert _restore.is_command_word(word) is command


def test_listing_lines_split_on_newline_only_and_join_open_quotes():
    text = ('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "a\u2028b\rc" -j ACCEPT\n'
            '-A INPUT -m comment --comment "two\nlines \\"x\\"" -j DROP\n'
            '-A INPUT -m comment --comment "\\\\" -j DROP\nCOMMIT\n')
    lines = _restore.listing_lines(text)
    assert lines == ["*filter", ":INPUT ACCEPT [0:0]",
                     '-A INPUT -m comment --comment "a\u2028b\rc" -j ACCEPT',
                     '-A INPUT -m comment --comment "two\nlines \\"x\\"" -j DROP',
                     '-A INPUT -m comment --comment "\\\\" -j DROP', "COMMIT"]
    assert split_line(lines[3])[5] == 'two\nlines "x"'
    assert split_line(lines[4])[5] == "\\"
    assert _restore.listing_lines("") == []
    assert _restore.listing_lines('-A X "open') == ['-A X "open']


def test_parse_save_and_list_rules_read_words_back():
    text = ('*filter\n:INPUT ACCEPT [0:0]\n:MINE - [0:0]\n'
            '-A INPUT -m comment --comment "say \\"hi\\" \\\\ \u2028" -j MINE\n'
            '-A INPUT -j MINE\n'
            '-A MINE -m comment --comment "x\ny" -j DROP\nCOMMIT\n')
    state = parse_save(text)["filter"]
    assert state.chains == {"MINE"}
    assert state.links == {("INPUT", "MINE")}
    first = state.rules["INPUT"][0]
    assert split_line(first) == ["-A", "INPUT", "-m", "comment", "--comment",
                                 'say "hi" \\ \u2028', "-j", "MINE"]
    assert split_line(state.rules["MINE"][0])[5] == "x\ny"
    listed = parse_list_rules(["-N MINE", '-A MINE -m comment --comment "a b" -j DROP'])
    assert listed.has("MINE", '-A MINE -m comment --comment "a b" -j DROP')
    assert parse_list_rules(text.split("*filter\n")[1]).rules["MINE"] == state.rules["MINE"]


@pytest.mark.parametrize("spec, reason", [
    (("-m", "comment", "--comment", "two\nlines", "-j", "ACCEPT"), "newline"),
    (("-m", "comment", "--comment", "x" * 250) * 40, "cut it in two"),
])
def test_scratch_loader_refuses_what_it_cannot_spell(spec, reason):
    with pytest.raises(FirewallError) as info:
        canonical_iptables("ipv4", [("filter", "INPUT", spec)], {})
    assert reason in str(info.value) and "cannot compare rule -A INPUT" in str(info.value)


@pytest.mark.parametrize("table, chains", [
    ("filter\n-P INPUT DROP", {}),
    ("filter", {"filter": ["BAD CHAIN"]}),
    ("filter", {"filter": ["X\n:INPUT"]}),
])
def test_scratch_loader_refuses_bad_names(table, chains):
    with pytest.raises(FirewallError) as info:
        canonical_iptables("ipv4", [(table, "INPUT", ("-j", "ACCEPT"))], chains)
    assert "cannot compare rules of table" in str(info.value)
