"""Property: whatever words a declared nft rule has, nft either refuses it (and nothing changes)
or it adds exactly one rule to its own chain, listed back with the comment that was meant. No
spec reaches another table, chain or command, through a batch (nft -f) or one process."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import NetworkNamespace, exact_state, require, run

from ansible_collections.virtkit.host.plugins.module_utils.firewall._declarative import (
    DeclaredRule,
    RuleSet,
)
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError

# Pieces an attacker would reach for, and ordinary rule words.
PIECES = st.sampled_from([
    ";", "#", "{", "}", '"', "\n", "\r", "\u2028", "\\", "'", " ", "accept", "drop", "delete",
    "table", "inet", "victim", "add", "chain", "flush", "ruleset", "tcp", "dport", "22", "counter",
    "comment", "jump", "c", "x" * 300, "\t", "$", "@", "include", "/etc/passwd"])
SPECS = st.lists(PIECES, min_size=1, max_size=12).map("".join)
COMMENTS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)


def setup():
    run("nft", "flush", "ruleset")
    run("nft", "add table inet filter")
    run("nft", "add chain inet filter input { type filter hook input priority 0; policy accept; }")
    run("nft", "add table inet victim")
    run("nft", "add chain inet victim c")
    run("nft", "add rule inet victim c tcp dport 9 drop")


def rules_of(chain_table):
    listed = json.loads(run("nft", "-j", "list", "table", "inet", chain_table))["nftables"]
    return [entry["rule"] for entry in listed if "rule" in entry]


def apply(spec, batch):
    planner = RuleSet("nftables", batch=batch)
    rule = DeclaredRule("ipv4", "filter", "input", spec, syntax="nft", family="inet")
    planner.apply(planner.plan([], [rule])[0])


@pytest.fixture(scope="module")
def namespace():
    require("nft")
    with NetworkNamespace() as entered:
        yield entered


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=SPECS, batch=st.booleans())
def test_a_spec_adds_one_rule_to_its_chain_or_nothing(namespace, spec, batch):  # pylint: disable=unused-argument,redefined-outer-name
    setup()
    before = exact_state()
    try:
        apply(spec, batch)
    except FirewallError:
        assert exact_state() == before
        return
    assert len(rules_of("filter")) == 1
    victim = rules_of("victim")
    assert len(victim) == 1 and victim[0]["expr"][-1] == {"drop": None}
    tables = json.loads(run("nft", "-j", "list", "tables"))["nftables"]
    assert sorted(entry["table"]["name"] for entry in tables if "table" in entry) == [
        "filter", "victim"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comment=COMMENTS, batch=st.booleans())
def test_a_comment_is_listed_back_as_meant(namespace, comment, batch):  # pylint: disable=unused-argument,redefined-outer-name
    setup()
    before = exact_state()
    try:
        apply('tcp dport 22 accept comment "%s"' % comment, batch)
    except FirewallError:
        # Refused only for what nft cannot hold in a string: a quote, a control character or a
        # line break, more than nft's 128 bytes, or nothing at all.
        assert ('"' in comment or any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in comment)
                or "\u2028" in comment or "\u2029" in comment
                or len(comment.encode("utf-8")) > 128 or not comment.strip()), comment
        assert exact_state() == before
        return
    listed = rules_of("filter")
    assert len(listed) == 1 and listed[0]["comment"] == comment
