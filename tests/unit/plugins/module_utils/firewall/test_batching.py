"""The batch fast path: restore files and nft -f, with the same outcome as one rule at a time."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._nftables import (
    NftablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import DryRunRunner

from ansible_collections.virtkit.host.tests.unit.utils.firewall_fakes import (
    ALL_TOOLS,
    FakeRunner,
)


def fail_on(needle):
    """Fail a process whose argv or input mentions ``needle`` (a restore fails as a whole)."""
    return lambda argv, text: "bad rule" if needle in " ".join(argv) + (text or "") else None


def argvs(commands):
    return [(c.argv, c.input) for c in commands]


def test_runs_of_one_table_become_one_restore():
    runner = FakeRunner()
    fw = Firewall(IptablesBackend(runner))
    fw.start_transaction()
    fw.add_rule("ipv4", "--table", "filter", "--new-chain", "FOO")
    fw.add_rule("ipv4", "--table", "filter", "--append", "FOO", "-m", "comment",
                "--comment", "two words", "--jump", "ACCEPT")
    fw.add_rule("ipv4", "--append", "FOO", "--jump", "DROP")  # filter by default
    fw.add_rule("ipv4", "-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE")
    fw.add_rule("ipv6", "-A", "INPUT", "-j", "ACCEPT")
    fw.add_rule("ipv6", "-A", "INPUT", "-j", "DROP")
    fw.add_rule("ethernet", "-t", "nat", "-N", "X", "-P", "RETURN")
    fw.add_rule("ethernet", "-t", "nat", "-A", "X", "-j", "DROP")
    assert argvs(fw.apply()) == [
        (["iptables-restore", "-w", "--noflush"],
         '*filter\n--new-chain FOO\n--append FOO -m comment --comment "two words" --jump ACCEPT\n'
         "--append FOO --jump DROP\nCOMMIT\n"),
        (["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE"], None),
        (["ip6tables-restore", "-w", "--noflush"],
         "*filter\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n"),
        (["ebtables-restore", "--noflush"], "*nat\n-N X -P RETURN\n-A X -j DROP\nCOMMIT\n"),
    ]


def test_queries_and_unsafe_arguments_run_alone():
    fw = Firewall(IptablesBackend(FakeRunner()))
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "FOO", "-j", "ACCEPT")
    fw.add_rule("ipv4", "-S", "FOO")  # a query without callback still runs on its own
    fw.add_rule("ipv4", "-A", "FOO", "-m", "comment", "--comment", "two\nlines", "-j", "ACCEPT")
    fw.add_rule("ipv4", "-A", "FOO", "-m", "comment", "--comment", "-P", "-j", "ACCEPT")
    fw.add_rule("ipv4", "-A", "FOO", "-j", "DROP")
    assert [c.argv[0] for c in fw.apply()] == ["iptables"] * 5


def test_quotes_and_backslashes_are_batched_as_the_restore_parser_reads_them():
    fw = Firewall(IptablesBackend(FakeRunner()))
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "FOO", "-m", "comment", "--comment", 'say "hi"', "-j", "ACCEPT")
    fw.add_rule("ipv4", "-A", "FOO", "-m", "comment", "--comment", "C:\\dir\\", "-j", "DROP")
    fw.add_rule("ipv4", "-A", "FOO", "-m", "comment", "--comment", "it's", "-j", "DROP")
    assert argvs(fw.apply()) == [
        (["iptables-restore", "-w", "--noflush"],
         '*filter\n-A FOO -m comment --comment "say \\"hi\\"" -j ACCEPT\n'
         '-A FOO -m comment --comment "C:\\\\dir\\\\" -j DROP\n'
         '-A FOO -m comment --comment "it\'s" -j DROP\nCOMMIT\n')]


def test_an_over_long_line_is_never_batched():
    words = []
    for _count in range(40):
        words += ["-m", "comment", "--comment", "c" * 250]
    fw = Firewall(IptablesBackend(FakeRunner()))
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT", *words)
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "DROP")
    assert [(c.argv[0], len(c.argv)) for c in fw.apply()] == [("iptables", 166), ("iptables", 6)]


def test_legacy_ebtables_is_never_batched():
    fw = Firewall(IptablesBackend(FakeRunner(ebtables="legacy")))
    fw.start_transaction()
    fw.add_rule("ethernet", "-A", "INPUT", "-j", "ACCEPT")
    fw.add_rule("ethernet", "-A", "INPUT", "-j", "DROP")
    assert [c.argv[0] for c in fw.apply()] == ["ebtables", "ebtables"]


def test_missing_restore_tool_falls_back_to_one_process_per_rule():
    fw = Firewall(IptablesBackend(FakeRunner(installed=("iptables",))))
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "DROP")
    assert [c.argv[0] for c in fw.apply()] == ["iptables", "iptables"]


def test_failed_batch_is_replayed_rule_by_rule_to_name_the_failing_rule():
    runner = FakeRunner(fail=fail_on("BAD"))
    fw = Firewall(IptablesBackend(runner))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "-N", "FOO")
    fw.add_rule("ipv4", "-A", "FOO", "-j", "BAD")
    fw.add_rule("ipv4", "-A", "FOO", "-j", "ACCEPT")
    with pytest.raises(FirewallError) as info:
        fw.apply()
    assert argvs(info.value.commands) == [
        (["iptables-restore", "-w", "--noflush"],
         "*filter\n-N FOO\n-A FOO -j BAD\n-A FOO -j ACCEPT\nCOMMIT\n"),
        (["iptables", "-w", "-N", "FOO"], None),
        (["iptables", "-w", "-A", "FOO", "-j", "BAD"], None),
        (["iptables", "-w", "-X", "FOO"], None),  # the auto rollback
    ]
    assert info.value.command.argv == ["iptables", "-w", "-A", "FOO", "-j", "BAD"]
    assert "exit status 1" in str(info.value) and "bad rule" in str(info.value)


def test_ignored_failures_in_a_batch_are_replayed_and_ignored():
    fw = Firewall(IptablesBackend(FakeRunner(fail=fail_on("GONE"))))
    fw.start_transaction(ignore_errors=True)
    fw.add_rule("ipv4", "-D", "FOO", "-j", "GONE")
    fw.add_rule("ipv4", "-D", "FOO", "-j", "ACCEPT")
    commands = fw.apply()
    assert [c.argv[0] for c in commands] == ["iptables-restore", "iptables", "iptables"]


def test_successful_batch_records_undo_for_every_rule():
    runner = FakeRunner(fail=fail_on("BAD"))
    fw = Firewall(IptablesBackend(runner))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "-N", "FOO")
    fw.add_rule("ipv4", "-I", "INPUT", "-j", "FOO")
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "BAD")
    fw.start_rollback(inherit_previous=True)
    with pytest.raises(FirewallError) as info:
        fw.apply()
    assert argvs(info.value.commands)[-1] == (
        ["iptables-restore", "-w", "--noflush"], "*filter\n-D INPUT -j FOO\n-X FOO\nCOMMIT\n")


def test_nft_batch_and_handles_for_auto_rollback():
    echo = ("add table ip t # handle 1\n"
            "add rule ip t c counter accept # handle 7\n"
            "insert rule ip t c ip saddr 1.2.3.4 drop # handle 8\n"
            "# new generation 3 by process 99 (nft)\n")
    runner = FakeRunner(fail=fail_on("nosuch"), output=lambda argv: echo if "-ae" in argv else "")
    fw = Firewall(NftablesBackend(runner))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "add", "table", "ip", "t")
    fw.add_rule("ipv4", "create", "chain", "ip", "t", "c")
    fw.add_rule("ipv4", "add rule ip t c counter accept")  # one string: nft joins words
    fw.add_rule("ipv4", "insert", "rule", "ip", "t", "c", "ip", "saddr", "1.2.3.4", "drop")
    fw.start_transaction()
    fw.add_rule("ipv4", "add", "rule", "ip", "t", "nosuch", "drop")
    fw.start_rollback(inherit_previous=True)
    with pytest.raises(FirewallError) as info:
        fw.apply()
    assert argvs(info.value.commands) == [
        (["nft", "-ae", "-f", "-"],
         "add table ip t\ncreate chain ip t c\nadd rule ip t c counter accept\n"
         "insert rule ip t c ip saddr 1.2.3.4 drop\n"),
        (["nft", "add", "rule", "ip", "t", "nosuch", "drop"], None),
        (["nft", "-f", "-"], "delete rule ip t c handle 8\ndelete rule ip t c handle 7\n"
                             "delete chain ip t c\n"),
    ]


def test_nft_single_rule_uses_ae_only_for_rules_to_undo():
    output = "add rule ip t c accept # handle 4\n"
    runner = FakeRunner(fail=fail_on("BAD"), output=lambda argv: output if "-ae" in argv else "")
    fw = Firewall(NftablesBackend(runner, batch=False))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "add", "chain", "ip", "t", "c")
    fw.add_rule("ipv4", "add", "rule", "ip", "t", "c", "accept")
    fw.add_rule("ipv4", "add", "rule", "ip", "t", "c", "BAD")
    with pytest.raises(FirewallError) as info:
        fw.apply()
    assert [c.argv for c in info.value.commands] == [
        ["nft", "add", "chain", "ip", "t", "c"],  # add chain: may pre-exist, so no undo
        ["nft", "-ae", "add", "rule", "ip", "t", "c", "accept"],
        ["nft", "-ae", "add", "rule", "ip", "t", "c", "BAD"],
        ["nft", "delete", "rule", "ip", "t", "c", "handle", "4"],
    ]


def test_nft_queries_and_options_are_not_batched():
    fw = Firewall(NftablesBackend(FakeRunner()))
    fw.start_transaction()
    fw.add_rule("ipv4", "list", "table", "ip", "t")
    fw.add_rule("ipv4", "-a", "list", "ruleset")
    fw.add_rule("ipv4", "add", "rule", "ip", "t", "c", "comment", '"# not a comment"')
    fw.add_rule("ipv4", "add", "table", "ip", "t")
    assert [c.input for c in fw.apply()] == [None, None, None, None]


def test_dry_run_returns_the_same_commands_and_runs_nothing():
    def build(fw):
        fw.start_transaction(auto_rollback=True)
        fw.add_rule("ipv4", "-N", "FOO")
        fw.add_rule("ipv4", "-A", "FOO", "-j", "ACCEPT")
        fw.add_rule("ipv4", "-L", "FOO", query=lambda f, layer, lines: seen.append(lines))
        fw.add_rule("ipv6", "-A", "INPUT", "-j", "ACCEPT")
        return fw

    seen = []
    real = FakeRunner()
    expected = build(Firewall(IptablesBackend(real))).apply()
    dry = DryRunRunner(installed=ALL_TOOLS)
    assert build(Firewall(IptablesBackend(dry))).apply() == expected
    assert seen == [[]] * 2 and len(real.calls) == 3
