"""The firewall module on real iptables, ip6tables, ebtables and firewalld."""

import pytest

from harness import Firewalld, ruleset, run, run_module, run_playbook

RULES = {
    "chains": [{"name": "MON"}, {"layer": "ipv6", "table": "mangle", "name": "MARKS"}],
    "rules": [
        {"chain": "INPUT", "rule": "-p tcp --dport 22 -j ACCEPT"},
        {"chain": "INPUT", "rule": "-s 10.9.0.0/16 -j MON", "position": 1},
        {"chain": "MON", "rule": ["-p", "tcp", "--dport", "9100", "-j", "ACCEPT"]},
        {"chain": "MON", "rule": "-m comment --comment 'node exporter' -j RETURN"},
        {"table": "nat", "chain": "POSTROUTING",
         "rule": "--source 10.9.0.0/16 ! --destination 10.9.0.0/16 --jump MASQUERADE"},
        {"layer": "ipv6", "chain": "INPUT", "rule": "--protocol tcp --destination-port 22 --jump ACCEPT"},
        {"layer": "ethernet", "chain": "FORWARD", "rule": "-i vnet0 -s ! 52:54:00:12:34:56 -j DROP"},
    ],
}


def test_apply_check_diff_idempotence(netns):  # pylint: disable=unused-argument
    run("iptables", "-w", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    before = ruleset()
    checked = run_module("firewall", RULES, check=True, diff=True)
    assert checked["changed"] and ruleset() == before
    applied = run_module("firewall", RULES, diff=True)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["diff"] == checked["diff"]
    assert [c["argv"] for c in applied["commands"]] == [c["argv"] for c in checked["commands"]]
    assert run("iptables", "-S", "INPUT").splitlines() == [
        "-P INPUT ACCEPT", "-A INPUT -s 10.9.0.0/16 -j MON", "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"]
    assert '-A MON -m comment --comment "node exporter" -j RETURN' in run("iptables", "-S", "MON")
    assert "-N MARKS" in run("ip6tables", "-t", "mangle", "-S")
    diff = {entry["before_header"]: entry for entry in applied["diff"]}
    assert diff["ipv4 filter INPUT"]["before"] == "-A INPUT -i lo -j ACCEPT\n"
    assert diff["ipv4 filter INPUT"]["after"].splitlines()[0] == "-A INPUT -s 10.9.0.0/16 -j MON"
    after = ruleset()
    for check in (True, False):
        again = run_module("firewall", RULES, check=check, diff=True)
        assert not again["changed"] and again["commands"] == [] and again["diff"] == []
    assert ruleset() == after
    # Everything back out: rules first, then the chains.
    gone = run_module("firewall", dict(RULES, state="absent"))
    assert gone["changed"]
    assert "MON" not in run("iptables", "-S") and "MARKS" not in run("ip6tables", "-t", "mangle", "-S")
    assert run("iptables", "-S", "INPUT").splitlines() == ["-P INPUT ACCEPT",
                                                           "-A INPUT -i lo -j ACCEPT"]


def test_failure_undoes_the_whole_task(netns):  # pylint: disable=unused-argument
    """The last rule fails only when applied (an insert position past the end of the chain):
    the rules before it, already applied, are removed again."""
    run("iptables", "-w", "-N", "KEEP")
    # iptables-nft creates a table on first use and a rollback leaves it (docs/architecture.md):
    # the host has its ip6 filter table already.
    run("ip6tables", "-w", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    before = ruleset()
    result = run_module("firewall", {"rules": [
        {"chain": "KEEP", "rule": "-j ACCEPT"},
        {"chain": "NEWCHAIN", "rule": "-j RETURN"},
        {"layer": "ipv6", "chain": "INPUT", "rule": "-j ACCEPT"},
        {"chain": "INPUT", "rule": "-s 192.0.2.1 -j DROP", "position": 40},
    ]})
    assert result["failed"]
    assert "-s 192.0.2.1 -j DROP" in result["msg"] and "exit status" in result["msg"]
    assert ruleset() == before


@pytest.mark.parametrize("rules, message", [
    ([{"chain": "INPUT", "rule": "-p tcp --dport notaport -j ACCEPT"}],
     "iptables refused rule -A INPUT -p tcp --dport notaport -j ACCEPT (table filter)"),
    ([{"chain": "INPUT", "rule": "-A INPUT -j ACCEPT"}], "rules[0]: rule '-A INPUT -j ACCEPT' must not name a command"),
    ([{"table": "nonsense", "chain": "INPUT", "rule": "-j ACCEPT"}], "rules[0]: table 'nonsense' is not a ipv4 table"),
    ([{"chain": "INPUT", "rule": ""}], "rules[0]: the rule is empty"),
    ([{"chain": "INPUT", "rule": "-m comment --comment 'unterminated"}], "does not parse"),
    ([{"chain": "INPUT", "rule": {"a": 1}}], "rules[0].rule: {'a': 1} is a dict, not a string or a list"),
])
def test_bad_input_fails_clearly_and_changes_nothing(netns, rules, message):  # pylint: disable=unused-argument
    before = ruleset()
    result = run_module("firewall", {"rules": rules})
    assert result["failed"] and message in result["msg"], result["msg"]
    assert ruleset() == before


def test_through_firewalld(netns, private_bus):  # pylint: disable=unused-argument
    daemon = Firewalld(private_bus, "iptables")
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        args = {"rules": RULES["rules"][:3], "chains": RULES["chains"][:1]}
        result = run_module("firewall", args, env=env)
        assert not result.get("failed"), result.get("msg")
        assert result["backend"] == "firewalld"
        assert all(c.get("via") == "firewalld" for c in result["commands"])
        assert "-A MON -p tcp -m tcp --dport 9100 -j ACCEPT" in run("iptables", "-S", "MON")
        again = run_module("firewall", args, env=env)
        assert not again["changed"] and again["commands"] == []
    finally:
        daemon.stop()


NFT_RULES = {
    "backend": "nftables",
    "chains": [{"family": "inet", "table": "host", "name": "input",
                "spec": "{ type filter hook input priority 0; policy accept; }"},
               {"family": "inet", "table": "host", "name": "monitoring"}],
    "rules": [
        {"family": "inet", "table": "host", "chain": "input", "rule": "tcp dport 22 accept"},
        {"family": "inet", "table": "host", "chain": "input", "rule": "iif lo accept",
         "position": 1},
        {"family": "inet", "table": "host", "chain": "input",
         "rule": "ip saddr 10.9.0.0/16 jump monitoring"},
        {"family": "inet", "table": "host", "chain": "monitoring",
         "rule": ["tcp", "dport", "9100", "counter", "accept"]},
        {"layer": "ipv6", "table": "filter6", "chain": "c", "rule": "ip6 saddr fd00::/8 drop"},
    ],
}


def test_nft_syntax(netns):  # pylint: disable=unused-argument
    run("ip", "link", "set", "lo", "up")
    before = ruleset()
    checked = run_module("firewall", NFT_RULES, check=True, diff=True)
    assert not checked.get("failed"), checked.get("msg")
    assert checked["changed"] and ruleset() == before
    applied = run_module("firewall", NFT_RULES, diff=True)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["diff"] == checked["diff"]
    listing = run("nft", "list", "chain", "inet", "host", "input")
    assert listing.index('iif "lo" accept') < listing.index("tcp dport 22 accept")
    assert "ip6 saddr fd00::/8 drop" in run("nft", "list", "table", "ip6", "filter6")
    after = ruleset()
    again = run_module("firewall", NFT_RULES, diff=True)
    assert not again["changed"] and again["commands"] == [] and ruleset() == after
    gone = run_module("firewall", {"backend": "nftables", "state": "absent",
                                   "rules": NFT_RULES["rules"][2:4],
                                   "chains": NFT_RULES["chains"][1:]})
    assert gone["changed"], gone.get("msg")
    assert "monitoring" not in run("nft", "list", "table", "inet", "host")
    assert "tcp dport 22 accept" in run("nft", "list", "table", "inet", "host")


def test_nft_failure_undoes_tables_chains_and_rules(netns):  # pylint: disable=unused-argument
    """A rule that only fails when applied (insert at an index past the end): the table and
    chain created by the task go too."""
    before = ruleset()
    result = run_module("firewall", {"backend": "nftables", "rules": [
        {"family": "inet", "table": "fresh", "chain": "c", "rule": "tcp dport 1 accept"},
        {"family": "inet", "table": "fresh", "chain": "c", "rule": "tcp dport 2 accept",
         "position": 9}]})
    assert result["failed"] and "tcp dport 2 accept" in result["msg"]
    assert ruleset() == before


GROUP_DEFAULTS_PLAY = """
- name: The group's default reaches every module of the group
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/virtkit.host.engine:
      backend: nftables
  tasks:
    - name: firewall (auto would take iptables)
      virtkit.host.firewall:
        chains:
          - {family: inet, table: host, name: input, spec: "{ type filter hook input priority 0; policy accept; }"}
        rules:
          - {family: inet, table: host, chain: input, rule: tcp dport 22 accept}
      register: fw
    - name: nwfilter_binding takes no nftables
      virtkit.host.nwfilter_binding:
        bindings: [{interface: vnet0, state: absent}]
      register: nw
      ignore_errors: true
    - name: A block's group default wins over the play's
      module_defaults:
        group/virtkit.host.engine:
          backend: iptables
      block:
        - name: virt_network_firewall (auto would take nftables)
          virtkit.host.virt_network_firewall:
            networks: [{name: lab, bridge: virbr9}]
          check_mode: true
          register: net
    - name: The backends
      ansible.builtin.assert:
        that:
          - fw.backend == 'nftables' and fw is changed
          - nw is failed and 'backend' in nw.msg and 'nftables' in nw.msg
          - net.backend == 'iptables'
"""


def test_module_defaults_group_sets_the_backend(netns, tmp_path):  # pylint: disable=unused-argument
    code, _changed, out = run_playbook(tmp_path, GROUP_DEFAULTS_PLAY, {})
    assert code == 0, out
    assert "tcp dport 22 accept" in run("nft", "list", "chain", "inet", "host", "input")
