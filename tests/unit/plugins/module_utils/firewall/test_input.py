"""Bad input, backend choice, tracing, and the iptables/nft syntax helpers."""

import sys

import pytest

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _firewalld as firewalld
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
    restore_line,
    split_table,
    undo_args,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._nftables import echoed_handles
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import (
    Firewall,
    resolve_backend,
)

from ansible_collections.virtkit.host.tests.unit.utils.firewall_fakes import (
    FakeRunner,
)


def new_firewall(runner=None):
    fw = Firewall(IptablesBackend(runner or FakeRunner()))
    fw.start_transaction()
    return fw


@pytest.mark.parametrize("layer, args, message", [
    ("ipv5", ("-A", "INPUT"), "unknown firewall layer 'ipv5' (expected one of: ethernet, ipv4, ipv6)"),
    ("ipv4", (), "empty rule for layer ipv4"),
    ("ipv4", ("-A", 5), "rule argument 5 for layer ipv4 is a int, not a string"),
    ("ipv6", ("-A", "IN\0PUT"), "contains a NUL byte"),
])
def test_bad_rules_are_refused_when_added(layer, args, message):
    fw = new_firewall()
    with pytest.raises(FirewallError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fw.add_rule(layer, *args)


def test_rules_need_a_transaction():
    fw = Firewall(IptablesBackend(FakeRunner()))
    with pytest.raises(FirewallError, match="start_transaction"):
        fw.add_rule("ipv4", "-A", "INPUT")
    with pytest.raises(FirewallError, match="start_transaction"):
        fw.start_rollback()


def test_unknown_options_and_uncallable_query():
    fw = new_firewall()
    with pytest.raises(TypeError, match="unexpected keyword argument 'ignore_error'"):
        fw.add_rule("ipv4", "-A", "INPUT", ignore_error=True)  # pylint: disable=unexpected-keyword-arg
    with pytest.raises(FirewallError, match="not callable"):
        fw.add_rule("ipv4", "-L", "INPUT", query="yes")


def test_apply_twice_is_refused():
    fw = new_firewall()
    fw.apply()
    with pytest.raises(FirewallError, match="applied already"):
        fw.apply()


def test_missing_binary_is_never_ignored():
    fw = Firewall(IptablesBackend(FakeRunner(installed=())))
    fw.start_transaction(ignore_errors=True)
    fw.add_rule("ethernet", "-A", "INPUT", "-j", "ACCEPT", ignore_errors=True)
    with pytest.raises(FirewallUnavailableError) as info:
        fw.apply()
    assert info.value.command.argv[0] == "ebtables"
    assert "ebtables: command not found" in str(info.value)


def test_missing_binary_message_from_the_process_runner():
    fw = Firewall(IptablesBackend(ProcessRunner(search_path=["/nonexistent"])))
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    with pytest.raises(FirewallUnavailableError,
                       match=r"^iptables: command not found \(searched /nonexistent\)$"):
        fw.apply()


def test_unknown_backend():
    with pytest.raises(FirewallError, match="unknown firewall backend 'ufw'"):
        Firewall("ufw", runner=FakeRunner())


def test_auto_prefers_firewalld_then_nft_then_iptables(monkeypatch):
    monkeypatch.setattr(
        "ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction.firewalld_running",
        lambda address: False)
    assert resolve_backend("auto", FakeRunner()) == "nftables"
    assert resolve_backend("auto", FakeRunner(installed=("iptables",))) == "iptables"
    assert resolve_backend("auto", FakeRunner(), prefer=("iptables", "nftables")) == "iptables"
    with pytest.raises(FirewallUnavailableError, match="no firewall found"):
        resolve_backend("auto", FakeRunner(installed=()))
    monkeypatch.setattr(
        "ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction.firewalld_running",
        lambda address: True)
    assert resolve_backend("auto", FakeRunner()) == "firewalld"


def test_firewalld_without_dbus_next_names_the_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "dbus_next", None)  # import fails as if not installed
    fw = Firewall("firewalld", runner=FakeRunner())
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    with pytest.raises(MissingLibraryError) as info:
        fw.apply()
    assert info.value.library == "dbus-next"
    assert "needs the Python library dbus-next" in str(info.value)
    # auto: without dbus-next, a running firewalld must not be gone around
    monkeypatch.setattr(firewalld, "firewalld_process", lambda: False)
    assert firewalld.firewalld_running() is False
    monkeypatch.setattr(firewalld, "firewalld_process", lambda: True)
    with pytest.raises(MissingLibraryError):
        resolve_backend("auto", FakeRunner())


def test_firewalld_unreachable_bus_is_not_running():
    assert firewalld.firewalld_running("unix:path=/nonexistent/bus") is False


def test_trace_sees_every_command_and_costs_nothing_when_off():
    lines = []
    fw = Firewall(IptablesBackend(FakeRunner(fail=lambda argv, text: "no" if "BAD" in argv else None),
                                  batch=False), trace=lines.append)
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "BAD", ignore_errors=True)
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    fw.apply()
    assert lines == ["ignored: iptables -w -A INPUT -j BAD failed (exit status 1): no",
                     "ran: iptables -w -A INPUT -j ACCEPT"]


def test_syntax_helpers():
    assert split_table(("-t", "nat", "-A", "X")) == ("nat", ["-A", "X"])
    assert split_table(("--table=raw", "-A", "X")) == ("raw", ["-A", "X"])
    assert undo_args(("-I", "INPUT", "3", "-j", "X")) == ("-D", "INPUT", "-j", "X")
    assert undo_args(("--append", "X", "-j", "Y")) == ("--delete", "X", "-j", "Y")
    assert undo_args(("-t", "nat", "--new-chain", "X")) == ("-t", "nat", "--delete-chain", "X")
    assert undo_args(("-N", "X", "-P", "RETURN", "-t", "nat")) == ("-X", "X", "-t", "nat")
    assert undo_args(("-D", "X", "-j", "Y")) is None
    assert undo_args(("-L",)) is None
    assert restore_line(("-A", "X", "--comment", "")) == ("filter", '-A X --comment ""')
    assert restore_line(("-L", "X")) is None
    assert restore_line(("-A", "X", "--comment", "back\\slash")) == (
        "filter", '-A X --comment "back\\\\slash"')
    assert echoed_handles("add rule inet f c handle 3 counter accept # handle 12\n") == [
        ("delete", "rule", "inet", "f", "c", "handle", "12")]
