"""Hostile words through the engine's iptables-restore batch path (and its per-rule fallback)
against the real tools, each example in a network namespace of its own: what iptables-save
lists must read back, with _restore.split_line, as exactly the words meant, and nothing in a
word may change anything else (the INPUT policy stays ACCEPT)."""

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _restore
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import restore_line
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

from harness import NetworkNamespace, require

COMMENT_BYTES = 255  # iptables keeps the first 255 bytes of a comment, silently

FRAGMENTS = ['"', "\\", "'", " ", "\t", ";", "{", "}", "#", "*", ":", "-", "\n", "\r",
             "\u2028", "\x0b", "\u00e9", "x", "-P INPUT DROP", ":INPUT DROP [0:0]", "COMMIT",
             "*filter", '\\"', "-t nat", "-F"]
hostile_words = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
            max_size=60),
    st.builds(lambda pad, tail: "p" * pad + tail, st.integers(200, 300),
              st.sampled_from(["", '"', "\\", " -P INPUT DROP", '\\" -j DROP'])),
)


@pytest.fixture(autouse=True)
def tools():
    require("iptables", "iptables-restore", "iptables-save")


def save_filter():
    """iptables-save of the filter table as text (bytes a comment cut mid-character kept)."""
    out = subprocess.run(["iptables-save", "-t", "filter"], stdout=subprocess.PIPE, check=True)
    return out.stdout.decode("utf-8", "surrogateescape")


def listed_rules(chain):
    prefix = "-A %s " % chain
    return [_restore.split_line(line) for line in _restore.listing_lines(save_filter())
            if line.startswith(prefix)]


def input_policy():
    out = subprocess.run(["iptables", "-w", "-S", "INPUT"], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return out.splitlines()[0]


def kept(word):
    """The comment iptables keeps of ``word``."""
    return word.encode("utf-8")[:COMMENT_BYTES].decode("utf-8", "surrogateescape")


def comment_rule(word, target):
    return ("-A", "INPUT", "-m", "comment", "--comment", word, "-j", target)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_words, min_size=1, max_size=4))
def test_hostile_comments_read_back_exactly(words):
    with NetworkNamespace():
        fw = Firewall(backend="iptables")
        fw.start_transaction()
        rules = [comment_rule(word, ("ACCEPT", "DROP")[index % 2])
                 for index, word in enumerate(words)]
        rules.append(("-A", "INPUT", "-j", "RETURN"))
        for rule in rules:
            fw.add_rule("ipv4", *rule)
        commands = fw.apply()
        restored = "".join(c.input for c in commands if c.argv[0] == "iptables-restore")
        alone = [tuple(c.argv[2:]) for c in commands if c.argv[0] == "iptables"]
        for index, rule in enumerate(rules):
            spelled = restore_line(rule)
            if spelled is None:  # refused: the rule ran as its own process
                assert rule in alone
            elif any(restore_line(other) for other in rules[max(index - 1, 0):index + 2]
                     if other is not rule):
                assert spelled[1] + "\n" in restored  # in a batch with a neighbour
            word = rule[5] if len(rule) > 5 else ""
            if not word.startswith("-") and "\n" not in word and "\r" not in word:
                assert spelled is not None, word
        expected = [list(rule[:5]) + [kept(rule[5])] + list(rule[6:]) for rule in rules[:-1]]
        assert listed_rules("INPUT") == expected + [list(rules[-1])]
        assert input_policy() == "-P INPUT ACCEPT"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_words.map(kept), min_size=1, max_size=3, unique=True))
def test_deleting_and_rolling_back_hits_the_exact_rule(words):
    """``-D`` through a restore file deletes the rule meant, not a look-alike, and an
    auto-rollback undoes exactly what it added, in order."""
    # Look-alikes, not twins: "-D RULE" deletes the first identical rule of the chain, so an
    # identical rule already there would be the one deleted (iptables' semantics, not spelling).
    decoys = [kept(decoy) for word in words for decoy in (word + "\\", '"%s"' % word, word[:-1])]
    with NetworkNamespace():
        for word in decoys:
            if word not in words:  # added one process each
                subprocess.run(["iptables", "-w"] + list(comment_rule(word, "DROP")), check=True)
        before = listed_rules("INPUT")

        fw = Firewall(backend="iptables")
        fw.start_transaction(auto_rollback=True)
        for word in words:
            fw.add_rule("ipv4", *comment_rule(word, "ACCEPT"))
            fw.add_rule("ipv4", *comment_rule(word, "DROP"))
        fw.start_transaction()
        fw.add_rule("ipv4", "-A", "INPUT", "-j", "NOSUCHCHAIN")
        fw.start_rollback(inherit_previous=True)
        with pytest.raises(FirewallError):
            fw.apply()
        assert listed_rules("INPUT") == before

        fw = Firewall(backend="iptables")
        fw.start_transaction()
        for word in words:
            fw.add_rule("ipv4", *comment_rule(word, "ACCEPT"))
        fw.apply()
        fw = Firewall(backend="iptables")
        fw.start_transaction()
        for word in words:
            fw.add_rule("ipv4", "-D", *comment_rule(word, "ACCEPT")[1:])
        fw.apply()
        assert listed_rules("INPUT") == before
        assert input_policy() == "-P INPUT ACCEPT"


def smuggling_rule(smuggled):
    """A rule whose restore line, spelled without a length limit, is cut by iptables-restore's
    10240-byte line buffer right before ``smuggled``."""
    rule = ["-A", "INPUT", "-j", "ACCEPT"]
    for _count in range(37):
        rule += ["-m", "comment", "--comment", "c" * 250]
    head = " ".join(rule) + ' -m comment --comment "'
    return tuple(rule + ["-m", "comment", "--comment", "p" * (10239 - len(head)) + smuggled])


@pytest.mark.parametrize("smuggled", [":INPUT DROP [0:0]", "-P INPUT DROP", "COMMIT"])
def test_a_10k_line_cannot_smuggle_a_policy(smuggled):
    """Regression: a 10 KB line once set the INPUT policy to DROP through the batch path.
    The serializer refuses the line; the rule then runs as its own process, verbatim."""
    rule = smuggling_rule(smuggled)
    assert restore_line(rule) is None
    with pytest.raises(_restore.Unspellable) as info:
        _restore.spell_line(rule)
    assert "cut it in two" in str(info.value)
    with NetworkNamespace():
        fw = Firewall(backend="iptables")
        fw.start_transaction()
        fw.add_rule("ipv4", *rule)
        fw.add_rule("ipv4", "-A", "INPUT", "-j", "DROP")
        fw.add_rule("ipv4", "-A", "INPUT", "-j", "RETURN")
        commands = fw.apply()
        assert [c.argv[0] for c in commands] == ["iptables", "iptables-restore"]
        assert input_policy() == "-P INPUT ACCEPT"
        listed = listed_rules("INPUT")
        # iptables-save lists the matches first, then the target.
        assert listed[0] == list(rule[:2] + rule[4:] + rule[2:4])
        assert listed[1:] == [["-A", "INPUT", "-j", "DROP"], ["-A", "INPUT", "-j", "RETURN"]]


WORDS = ['say "hi"', "back\\slash\\", "it's", "", "a;b{c}#d", "-P INPUT DROP", "x\u2028y",
         ":INPUT DROP [0:0]", "two\nlines", 'end\\"']


def test_ip6tables_batch_reads_back_exactly():
    require("ip6tables", "ip6tables-restore", "ip6tables-save")
    with NetworkNamespace():
        fw = Firewall(backend="iptables")
        fw.start_transaction()
        for word in WORDS:
            fw.add_rule("ipv6", *comment_rule(word, "ACCEPT"))
        commands = fw.apply()
        assert "ip6tables-restore" in [c.argv[0] for c in commands]
        out = subprocess.run(["ip6tables-save", "-t", "filter"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        listed = [_restore.split_line(line) for line in _restore.listing_lines(out)
                  if line.startswith("-A INPUT ")]
        assert listed == [list(comment_rule(word, "ACCEPT")) for word in WORDS]
        assert out.count(":INPUT ACCEPT") == 1


def test_ebtables_batch_reads_back_exactly():
    """ebtables-restore shares the tokenizer; ebtables prints a log prefix in quotes without
    escapes (and refuses a double quote in it), so the words here hold no backslash."""
    require("ebtables", "ebtables-restore", "ebtables-save")
    prefixes = ["it's", "a b;{}#", "-P INPUT DROP", ":INPUT DROP", "x\u2028y"]
    with NetworkNamespace():
        fw = Firewall(backend="iptables")
        fw.start_transaction()
        for prefix in prefixes:
            fw.add_rule("ethernet", "-A", "INPUT", "--log-prefix", prefix, "-j", "ACCEPT")
        commands = fw.apply()
        assert commands[0].argv[0] == "ebtables-restore"
        out = subprocess.run(["ebtables-save"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        listed = [_restore.split_line(line) for line in _restore.listing_lines(out)
                  if line.startswith("-A INPUT ")]
        assert [words[words.index("--log-prefix") + 1] for words in listed] == prefixes
        assert ":INPUT ACCEPT" in out
