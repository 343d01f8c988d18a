"""The engine against real iptables, ip6tables, ebtables, nft and firewalld, each test in a
network namespace of its own."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

from harness import run, ruleset

DIRECT = ["iptables", "iptables-per-rule", "nftables", "nftables-per-rule"]
NOSUCH = {"iptables": ("ipv4", "-A", "VK_INP", "-j", "NOSUCHCHAIN"),
          "nft": ("ipv4", "add", "rule", "ip", "vk", "nosuch", "accept")}


def engine(backend, **options):
    name, _sep, mode = backend.partition("-")
    return Firewall(name, batch=mode != "per-rule", **options)


def seed_host():
    """What a host already has: a bridge, rules in the tables the transactions touch, and nft
    tables."""
    run("ip", "link", "add", "virbr0", "type", "bridge")
    run("iptables", "-w", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE")
    run("ip6tables", "-w", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    run("ebtables", "--concurrent", "-A", "INPUT", "-p", "IPv4", "-j", "ACCEPT")
    run("ebtables", "--concurrent", "-t", "nat", "-A", "PREROUTING", "-i", "eth0", "-j", "ACCEPT")
    run("nft", "add table inet host; add chain inet host input "
               "{ type filter hook input priority 0; policy accept; }; "
               "add rule inet host input iif lo accept")


def iptables_groups(fw, fail_group=None, fail_at=0):
    """Three groups shaped like a libvirt network start; each later group inherits the rollback
    of the one before, so a failure anywhere undoes everything."""
    groups = [
        [("ipv4", "--table", "filter", "--new-chain", "VK_INP"),
         ("ipv4", "--table", "filter", "--insert", "INPUT", "--jump", "VK_INP"),
         ("ipv4", "--table", "nat", "--new-chain", "VK_PRT"),
         ("ipv4", "--table", "nat", "--insert", "POSTROUTING", "--jump", "VK_PRT"),
         ("ipv6", "--table", "filter", "--new-chain", "VK_INP"),
         ("ipv6", "--table", "filter", "--insert", "INPUT", "--jump", "VK_INP"),
         ("ethernet", "-t", "nat", "-N", "vk-I-vnet0", "-P", "RETURN"),
         ("ethernet", "-t", "nat", "-A", "PREROUTING", "-i", "vnet0", "-j", "vk-I-vnet0")],
        [("ipv4", "--table", "filter", "--append", "VK_INP", "--in-interface", "virbr0",
          "--protocol", "udp", "--destination-port", "53", "--jump", "ACCEPT"),
         ("ipv4", "--table", "filter", "--append", "VK_INP", "--in-interface", "virbr0",
          "--protocol", "tcp", "--destination-port", "53", "--jump", "ACCEPT"),
         ("ipv6", "--table", "filter", "--append", "VK_INP", "--in-interface", "virbr0",
          "--protocol", "udp", "--destination-port", "547", "--jump", "ACCEPT"),
         ("ethernet", "-t", "nat", "-A", "vk-I-vnet0", "-s", "!", "52:54:00:12:34:56",
          "-j", "DROP")],
        [("ipv4", "--table", "nat", "--append", "VK_PRT", "--source", "192.168.122.0/24",
          "!", "--destination", "192.168.122.0/24", "--jump", "MASQUERADE"),
         ("ipv4", "--table", "filter", "--insert", "VK_INP", "--in-interface", "virbr0",
          "--protocol", "udp", "--destination-port", "67", "--jump", "ACCEPT")],
    ]
    return _add_groups(fw, groups, NOSUCH["iptables"], fail_group, fail_at)


def nft_groups(fw, fail_group=None, fail_at=0):
    groups = [
        [("ipv4", "create", "table", "ip", "vk"),
         ("ipv4", "create", "chain", "ip", "vk", "forward",
          "{ type filter hook forward priority 0; policy accept; }"),
         ("ipv4", "create", "chain", "ip", "vk", "guest_output"),
         ("ipv4", "insert", "rule", "ip", "vk", "forward", "counter", "jump", "guest_output")],
        [("ipv4", "insert", "rule", "ip", "vk", "guest_output", "iif", "virbr0", "counter",
          "reject"),
         ("ipv4", "insert", "rule", "ip", "vk", "guest_output", "ip", "saddr", "192.168.122.0/24",
          "iif", "virbr0", "counter", "accept")],
        [("ipv4", "add", "rule", "inet", "host", "input", "iifname", "virbr0", "udp", "dport",
          "67", "accept")],
    ]
    return _add_groups(fw, groups, NOSUCH["nft"], fail_group, fail_at)


def _add_groups(fw, groups, bad_rule, fail_group, fail_at):
    for index, rules in enumerate(groups):
        fw.start_transaction(auto_rollback=True)
        rules = list(rules)
        if index == fail_group:
            rules.insert(min(fail_at, len(rules)), bad_rule)
        for rule in rules:
            fw.add_rule(*rule)
        fw.start_rollback(inherit_previous=index > 0)


def build(backend, fw, **failure):
    return (nft_groups if fw.syntax == "nft" else iptables_groups)(fw, **failure)


@pytest.mark.parametrize("backend", DIRECT)
def test_transaction_applies_every_layer(netns, backend):
    seed_host()
    fw = engine(backend)
    build(backend, fw)
    commands = fw.apply()
    if fw.syntax == "nft":
        listing = run("nft", "list", "table", "ip", "vk")
        assert "ip saddr 192.168.122.0/24 iif \"virbr0\" counter packets 0 bytes 0 accept" in listing
        assert "iifname \"virbr0\" udp dport 67 accept" in run("nft", "list", "chain", "inet",
                                                               "host", "input")
    else:
        assert run("iptables", "-S", "VK_INP").splitlines() == [
            "-N VK_INP",
            "-A VK_INP -i virbr0 -p udp -m udp --dport 67 -j ACCEPT",
            "-A VK_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT",
            "-A VK_INP -i virbr0 -p tcp -m tcp --dport 53 -j ACCEPT"]
        assert "-A VK_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE" in run(
            "iptables-save", "-t", "nat")
        assert "-j vk-I-vnet0" in run("ebtables", "-t", "nat", "-L", "PREROUTING")
        chain = run("ebtables", "-t", "nat", "-L", "vk-I-vnet0")
        assert "-s ! 52:54:00:12:34:56 -j DROP" in chain
    if backend.endswith("per-rule"):
        assert all(command.input is None for command in commands)
    else:
        assert len(commands) < 12  # batched


def test_batched_and_per_rule_leave_the_same_ruleset(netns):  # pylint: disable=unused-argument
    results = []
    for backend in ("iptables", "iptables-per-rule"):
        seed_host()
        fw = engine(backend)
        build(backend, fw)
        fw.apply()
        results.append(ruleset())
        run("nft", "flush", "ruleset")
        run("ip", "link", "del", "virbr0")
    assert results[0] == results[1]


@pytest.mark.parametrize("backend", DIRECT)
@pytest.mark.parametrize("fail_group", [0, 1, 2])
@pytest.mark.parametrize("fail_at", [0, 1, 99])
def test_failure_in_any_group_restores_the_ruleset_exactly(netns, backend, fail_group, fail_at):
    seed_host()
    before = ruleset()
    fw = engine(backend)
    build(backend, fw, fail_group=fail_group, fail_at=fail_at)
    with pytest.raises(FirewallError) as info:
        fw.apply()
    assert "nosuch" in str(info.value).lower()
    assert info.value.status not in (None, 0) and info.value.stderr
    assert ruleset() == before


def test_firewalld_backend_applies_and_rolls_back(firewalld, private_bus):
    seed_host()
    before = ruleset()
    for fail_group in (0, 1, 2):
        fw = Firewall("firewalld", bus_address=private_bus.address)
        iptables_groups(fw, fail_group=fail_group, fail_at=1)
        with pytest.raises(FirewallError) as info:
            fw.apply()
        assert info.value.dbus_error == "org.fedoraproject.FirewallD1.Exception"
        assert "NOSUCHCHAIN" in str(info.value)
        assert ruleset() == before
    fw = Firewall("auto", bus_address=private_bus.address)
    assert fw.backend_name == "firewalld"
    iptables_groups(fw)
    commands = fw.apply()
    assert all(command.transport == "firewalld" for command in commands)
    assert "-A VK_INP -i virbr0 -p udp -m udp --dport 67 -j ACCEPT" in run("iptables", "-S",
                                                                           "VK_INP")
    # A query through firewalld gets the passthrough's output, and its rules run one by one.
    listed = []
    fw = Firewall("firewalld", bus_address=private_bus.address, batch=False)
    fw.start_transaction()
    fw.add_rule("ipv4", "-S", "VK_INP", query=lambda f, layer, lines: listed.extend(lines) or [
        f.add_rule(layer, "-D", *line.split()[1:]) for line in lines if line.startswith("-A")])
    fw.apply()
    assert len(listed) == 4 and run("iptables", "-S", "VK_INP") == "-N VK_INP\n"


def test_query_hook_reads_real_output(netns):  # pylint: disable=unused-argument
    run("iptables", "-w", "-N", "OLD")
    for source in ("10.0.0.1", "10.0.0.2"):
        run("iptables", "-w", "-A", "INPUT", "-s", source, "-j", "OLD")
    run("iptables", "-w", "-A", "INPUT", "-s", "10.0.0.3", "-j", "ACCEPT")

    def delete_jumps_to_old(fw, layer, lines):
        for line in lines:
            words = line.split()
            if words[:2] == ["-A", "INPUT"] and words[-2:] == ["-j", "OLD"]:
                fw.add_rule(layer, "-D", *words[1:])
        fw.add_rule(layer, "-X", "OLD")

    fw = Firewall("iptables")
    fw.start_transaction()
    fw.add_rule("ipv4", "-S", "INPUT", query=delete_jumps_to_old)
    fw.apply()
    assert run("iptables", "-S", "INPUT").splitlines() == [
        "-P INPUT ACCEPT", "-A INPUT -s 10.0.0.3/32 -j ACCEPT"]


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_tool_rejects_rule_and_nothing_stays(netns, backend):  # pylint: disable=unused-argument
    seed_host()
    before = ruleset()
    fw = Firewall(backend)
    fw.start_transaction(auto_rollback=True)
    if fw.syntax == "nft":
        fw.add_rule("ipv4", "create", "table", "ip", "vk")
        fw.add_rule("ipv4", "add", "rule", "ip", "vk", "missing", "bogus-keyword")
    else:
        fw.add_rule("ipv4", "-N", "VK")
        fw.add_rule("ipv4", "-A", "VK", "-p", "tcp", "--dport", "notaport", "-j", "ACCEPT")
    with pytest.raises(FirewallError) as info:
        fw.apply()
    message = str(info.value)
    assert ("notaport" in message) or ("bogus-keyword" in message)
    assert "exit status" in message
    assert ruleset() == before


def test_firewalld_requested_but_not_running(netns, private_bus):  # pylint: disable=unused-argument
    fw = Firewall("firewalld", bus_address=private_bus.address)
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    with pytest.raises(FirewallUnavailableError, match="firewalld is not running"):
        fw.apply()
    fw = Firewall("firewalld", bus_address="unix:path=/nonexistent/socket")
    fw.start_transaction()
    fw.add_rule("ipv4", "-A", "INPUT", "-j", "ACCEPT")
    with pytest.raises(FirewallUnavailableError, match="cannot connect to the system DBus bus"):
        fw.apply()
    assert run("iptables-save") == ""


def test_auto_without_firewalld_picks_nft(netns, private_bus):  # pylint: disable=unused-argument
    assert Firewall("auto", bus_address=private_bus.address).backend_name == "nftables"
