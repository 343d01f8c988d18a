"""A failure leaves the firewall as it was: a fault injected at every command of representative
tasks (additions, deletions, chain removals; iptables, ip6tables, ebtables, nft; the firewall
and virt_network_firewall planners) leaves iptables-save, ip6tables-save, ebtables-save and
nft list ruleset byte-identical. Also: deletions that fail half-way, hostile values that must
not change what a command means, and concurrent runs on one host."""

import os
import subprocess
import sys

import pytest

from harness import NetworkNamespace, checkout, exact_state, ruleset, run, run_module

from ansible_collections.virtkit.host.plugins.module_utils.firewall._declarative import (
    DeclaredChain,
    DeclaredRule,
    RuleSet,
)
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (
    parse_network_xml,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.firewall import (
    NetworkFirewall,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.record import (
    NetworkRecord,
)


class FaultyRunner(ProcessRunner):
    """Runs tools for real, except that once ``armed`` the command number ``fail_at`` (0-based,
    counting every process the engine starts, batches and rollback included) fails without
    running."""

    def __init__(self, fail_at):
        super(FaultyRunner, self).__init__()
        self.fail_at = fail_at
        self.armed = False
        self.count = 0

    def run(self, argv, stdin_text=None):
        if self.armed:
            index = self.count
            self.count += 1
            if index == self.fail_at:
                return 1, "", "injected failure"
        return super(FaultyRunner, self).run(argv, stdin_text)


def inject_everywhere(prepare, task, limit=200):
    """For N = 0, 1, ...: in a fresh namespace, ``prepare()`` the host, then run ``task(runner)``
    with command N failing. The task either fails and leaves the ruleset as before, or (a failed
    batch is replayed rule by rule) succeeds with the ruleset a faultless run gives. Stops when
    N is past the last command; returns how many commands a faultless run takes."""
    with NetworkNamespace():
        prepare()
        runner = FaultyRunner(None)
        task(runner)
        commands = runner.count
        expected = exact_state()
    failures = 0
    for fail_at in range(min(limit, commands)):
        with NetworkNamespace():
            prepare()
            before = exact_state()
            runner = FaultyRunner(fail_at)
            try:
                task(runner)
            except FirewallError as exc:
                failures += 1
                assert not exc.undo_failed, (fail_at, exc.undo_failed)
                assert exact_state() == before, "failure at command %d: %s" % (fail_at, exc)
            else:
                assert exact_state() == expected, "command %d failed, then the task succeeded" % fail_at
    assert commands < limit
    return commands, failures


def iptables_host():
    for tool in ("iptables", "ip6tables"):
        run(tool, "-w", "-N", "OLD")
        run(tool, "-w", "-A", "OLD", "-p", "tcp", "--dport", "1", "-j", "ACCEPT")
        run(tool, "-w", "-A", "OLD", "-m", "comment", "--comment", "a \"quoted\" word", "-j", "DROP")
        for port in ("10", "11", "12", "11"):
            run(tool, "-w", "-A", "INPUT", "-p", "tcp", "--dport", port, "-j", "ACCEPT")
        run(tool, "-w", "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "RETURN")
    run("ebtables", "-N", "OLDE", "-P", "RETURN")
    run("ebtables", "-A", "OLDE", "-p", "IPv4", "-j", "ACCEPT")
    run("ebtables", "-A", "FORWARD", "-i", "vnet0", "-j", "DROP")
    run("ebtables", "-A", "FORWARD", "-i", "vnet1", "-j", "DROP")


IPTABLES_TASK = dict(
    chains=[{"layer": "ipv4", "table": "filter", "name": "NEW"},
            {"layer": "ethernet", "table": "filter", "name": "OLDE", "state": "absent"},
            {"layer": "ipv4", "table": "filter", "name": "OLD", "state": "absent"},
            {"layer": "ipv6", "table": "filter", "name": "OLD", "state": "absent"}],
    rules=[{"layer": "ipv4", "table": "filter", "chain": "NEW", "spec": "-p udp -j ACCEPT"},
           {"layer": "ipv4", "table": "filter", "chain": "INPUT", "spec": "-j NEW", "position": 2},
           {"layer": "ipv4", "table": "filter", "chain": "INPUT", "spec": "-p tcp --dport 11 -j ACCEPT",
            "state": "absent"},
           {"layer": "ipv4", "table": "nat", "chain": "POSTROUTING", "spec": "-o lo -j RETURN",
            "state": "absent"},
           {"layer": "ipv6", "table": "filter", "chain": "INPUT", "spec": "-p tcp --dport 10 -j ACCEPT",
            "state": "absent"},
           {"layer": "ipv6", "table": "filter", "chain": "INPUT", "spec": "-p udp --dport 53 -j ACCEPT"},
           {"layer": "ethernet", "table": "filter", "chain": "FORWARD", "spec": "-i vnet0 -j DROP",
            "state": "absent"},
           {"layer": "ethernet", "table": "filter", "chain": "FORWARD", "spec": "-i vnet2 -j DROP",
            "position": 1}],
)


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "per-rule"])
def test_fault_at_every_command_iptables(batch):
    def task(runner):
        planner = RuleSet("iptables", runner=runner, batch=batch)
        planned = planner.plan([DeclaredChain(**chain) for chain in IPTABLES_TASK["chains"]],
                               [DeclaredRule(**rule) for rule in IPTABLES_TASK["rules"]])
        runner.armed = True
        planner.apply(planned[0])
    commands, failures = inject_everywhere(iptables_host, task)
    # A failed batch applied nothing and is replayed rule by rule: the replay fails when the
    # injected failure hits one of its rules.
    assert commands >= (4 if batch else 14) and failures >= (1 if batch else 14)


def nft_host():
    run("ip", "link", "add", "virbr0", "type", "bridge")
    run("nft", "add table inet host")
    run("nft", "add chain inet host input { type filter hook input priority 0; policy accept; }")
    for port in (10, 11, 12, 11):
        run("nft", "add rule inet host input tcp dport %d counter accept" % port)
    run("nft", "add chain inet host old")
    run("nft", 'add rule inet host old iif "virbr0" udp dport 1 accept comment "a;b#c"')
    run("nft", "add rule inet host old drop")


def test_fault_at_every_command_nftables():
    chains = [{"layer": "ipv4", "table": "host", "family": "inet", "name": "new"},
              {"layer": "ipv4", "table": "host", "family": "inet", "name": "old", "state": "absent"}]
    rules = [{"layer": "ipv4", "table": "host", "family": "inet", "chain": "new",
              "spec": "udp dport 53 accept"},
             {"layer": "ipv4", "table": "host", "family": "inet", "chain": "input",
              "spec": "tcp dport 11 counter accept", "state": "absent"},
             {"layer": "ipv4", "table": "host", "family": "inet", "chain": "input",
              "spec": "jump new", "position": 2},
             {"layer": "ipv4", "table": "fresh", "family": "ip", "chain": "c",
              "spec": "drop"}]
    for batch in (True, False):
        def task(runner, batch=batch):
            planner = RuleSet("nftables", runner=runner, batch=batch)
            planned = planner.plan([DeclaredChain(syntax="nft", **chain) for chain in chains],
                                   [DeclaredRule(syntax="nft", **rule) for rule in rules])
            runner.armed = True
            planner.apply(planned[0])
        commands, failures = inject_everywhere(nft_host, task)
        assert commands >= (1 if batch else 8) and failures >= (0 if batch else 8)


def network(name, bridge, mode="nat", address="10.9.0.1"):
    return ("<network><name>%s</name><forward mode='%s'/><bridge name='%s'/>"
            "<ip address='%s' prefix='24'><dhcp><range start='%s0' end='%s9'/></dhcp></ip>"
            "</network>" % (name, mode, bridge, address, address[:-1], address[:-1]))


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "per-rule"])
@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_fault_at_every_command_virt_networks(tmp_path, backend, batch):
    """Network A is replaced (its forward mode and subnet changed: the recorded rules go), B
    added, C removed. A failure anywhere leaves the rules and the record as they were."""
    a_old = network("a", "virbr0")
    a_new = network("a", "virbr0", mode="route", address="10.6.0.1")
    b, c = network("b", "virbr1", address="10.8.0.1"), network("c", "virbr2", address="10.7.0.1")
    path = str(tmp_path / "record.json")

    def definitions(*pairs):
        return [(parse_network_xml(text).name, parse_network_xml(text), state)
                for text, state in pairs]

    def prepare():
        for bridge in ("virbr0", "virbr1", "virbr2"):
            run("ip", "link", "add", bridge, "type", "bridge")
        if os.path.exists(path):
            os.unlink(path)
        planner = NetworkFirewall(backend, record=NetworkRecord(path))
        planner.apply(planner.plan(definitions((a_old, "present"), (c, "present"))))

    def task(runner):
        record = NetworkRecord(path)
        before = record.load()
        planner = NetworkFirewall(backend, runner=runner, batch=batch, record=record)
        planned = planner.plan(definitions((a_new, "present"), (b, "present"), (c, "absent")))
        assert [n.action for n in planned] == ["replaced", "added", "removed"]
        runner.armed = True
        try:
            planner.apply(planned)
        except FirewallError:
            assert record.load() == before, "a failed change rewrote the record"
            raise
        assert sorted(record.load()) == ["a", "b"]
    commands, failures = inject_everywhere(prepare, task)
    assert batch or failures >= 20, (commands, failures)


def test_record_that_cannot_be_written_rolls_the_change_back(tmp_path, netns):  # pylint: disable=unused-argument
    """The record is written after the rules: when it cannot be, the rules go back too."""
    class UnwritableRecord(NetworkRecord):
        def save(self, networks):
            raise OSError(28, "No space left on device")
    for bridge in ("virbr0", "virbr1"):
        run("ip", "link", "add", bridge, "type", "bridge")
    path = str(tmp_path / "record.json")
    planner = NetworkFirewall("iptables", record=NetworkRecord(path))
    planner.apply(planner.plan([("a", parse_network_xml(network("a", "virbr0")), "present")]))
    before, record_before = exact_state(), open(path).read()
    planner = NetworkFirewall("iptables", record=UnwritableRecord(path))
    planned = planner.plan([("a", parse_network_xml(network("a", "virbr1", address="10.5.0.1")),
                             "present")])
    with pytest.raises(FirewallError, match="could not write the record.*No space left.*rolled back"):
        planner.apply(planned)
    assert exact_state() == before
    assert open(path).read() == record_before


def test_chain_still_referenced_keeps_its_rules(netns):  # pylint: disable=unused-argument
    """-F runs, -X fails (a rule jumps to the chain): the chain's rules are put back."""
    run("iptables", "-w", "-N", "MON")
    run("iptables", "-w", "-A", "MON", "-p", "tcp", "--dport", "9100", "-j", "ACCEPT")
    run("iptables", "-w", "-A", "MON", "-j", "RETURN")
    run("iptables", "-w", "-A", "INPUT", "-j", "MON")
    before = ruleset()
    result = run_module("firewall", {"chains": [{"name": "MON", "state": "absent"}]})
    assert result["failed"] and not result["changed"]
    assert ruleset() == before


def test_reinstall_with_a_missing_bridge_keeps_the_old_rules(netns):  # pylint: disable=unused-argument
    """nft refuses B (no such bridge) after A's old rules were deleted: they come back."""
    run("ip", "link", "add", "virbr0", "type", "bridge")
    args = {"backend": "nftables", "networks": [{"xml": network("a", "virbr0")}]}
    assert run_module("virt_network_firewall", args)["changed"]
    before = ruleset()
    result = run_module("virt_network_firewall", {"backend": "nftables", "networks": [
        {"xml": network("a", "virbr0", mode="route")},
        {"xml": network("b", "virbr9", address="10.8.0.1")}]})
    assert result["failed"] and not result["changed"], result
    assert ruleset() == before


HOSTILE_BRIDGES = ["{virbr1}accept#", "vir;br", 'v"br', "virbr0\n", "vir br", "v\u2028br",
                   "virbr1234567890123", "..", "a/b", "v#"]


@pytest.mark.parametrize("bridge", HOSTILE_BRIDGES)
@pytest.mark.parametrize("field", ["bridge", "forward_dev"])
def test_hostile_interface_names_are_refused(netns, bridge, field):  # pylint: disable=unused-argument
    run("ip", "link", "add", "virbr0", "type", "bridge")
    spec = {"name": "iso", "bridge": "virbr0", "forward_mode": "nat",
            "ips": [{"address": "10.9.0.1", "prefix": 24}]}
    spec[field] = bridge
    before = ruleset()
    result = run_module("virt_network_firewall", {"backend": "nftables", "networks": [spec]})
    assert result["failed"] and "Traceback" not in result["msg"]
    assert ("bridge name" if field == "bridge" else "forward dev") in result["msg"]
    assert repr(bridge) in result["msg"]
    assert ruleset() == before


@pytest.mark.parametrize("spec", [
    "tcp dport 8080 accept; add table inet filter; delete table inet filter",
    "tcp dport 8080 accept # the rest is a comment",
    'tcp dport 8080 accept comment "x" ; delete table inet filter',
    "tcp dport { 22, 80 } } accept",
    "tcp dport 8080 accept\ndelete table inet filter",
    'tcp dport 8080 accept comment "unterminated',
])
def test_nft_specs_are_one_command(netns, spec):  # pylint: disable=unused-argument
    run("nft", "add table inet filter")
    run("nft", "add chain inet filter input { type filter hook input priority 0; policy accept; }")
    before = ruleset()
    for as_list in (False, True):
        rule = spec.split(" ") if as_list else spec
        result = run_module("firewall", {"backend": "nftables", "rules": [
            {"family": "inet", "table": "filter", "chain": "input", "rule": rule}]})
        assert result["failed"] and "rules[0]" in result["msg"], result
        assert ruleset() == before
    assert "table inet filter" in run("nft", "list", "tables")


@pytest.mark.parametrize("rule", ["-P INPUT DROP", "-j ACCEPT -F", "-X OLD", "-j ACCEPT -N X",
                                  "-E OLD NEW", "-Z", "-j ACCEPT --table=nat"])
def test_iptables_specs_carry_no_command(netns, rule):  # pylint: disable=unused-argument
    before = ruleset()
    result = run_module("firewall", {"rules": [{"chain": "INPUT", "rule": rule}]})
    assert result["failed"] and "must not name a command or table" in result["msg"]
    assert ruleset() == before


def test_nft_rule_with_quotes_and_braces_applies_and_stays_idempotent(netns):  # pylint: disable=unused-argument
    run("nft", "add table inet filter")
    args = {"backend": "nftables", "rules": [
        {"family": "inet", "table": "filter", "chain": "input",
         "rule": 'tcp dport { 22, 80 } accept comment "ssh; web # ok"'}],
        "chains": [{"family": "inet", "table": "filter", "name": "input",
                    "spec": "{ type filter hook input priority 0; policy accept; }"}]}
    first = run_module("firewall", args)
    assert first["changed"] and not first.get("failed"), first.get("msg")
    assert 'comment "ssh; web # ok"' in run("nft", "list", "chain", "inet", "filter", "input")
    assert not run_module("firewall", args)["changed"]


def test_concurrent_runs_serialise(netns):  # pylint: disable=unused-argument
    """Five runs of one task at once on one host: each rule exactly once."""
    args = {"chains": [{"name": "SVC"}], "rules": [
        {"chain": "SVC", "rule": "-p tcp --dport %d -j ACCEPT" % port} for port in range(20)]
        + [{"chain": "INPUT", "rule": "-j SVC"}]}
    import json  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=os.path.join(checkout(), "build", "collections"))
    try:
        procs = [subprocess.Popen([sys.executable, "-m",
                                   "ansible_collections.virtkit.host.plugins.modules.firewall",
                                   handle.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, universal_newlines=True) for _run in range(5)]
        results = [json.loads(proc.communicate()[0]) for proc in procs]
    finally:
        os.unlink(handle.name)
    assert not any(result.get("failed") for result in results), results
    assert sum(1 for result in results if result["changed"]) == 1
    listing = run("iptables", "-S")
    assert listing.count("-A INPUT -j SVC") == 1
    for port in range(20):
        assert listing.count("--dport %d -j ACCEPT" % port) == 1
