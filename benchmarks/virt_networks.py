"""20 NAT networks (the articles' case) on one host, in a private network namespace.

Compares, in one run:
  * virtkit.host.virt_network_firewall, one task for all 20 networks (first apply and the
    idempotent rerun; module time, and the whole ansible-playbook run);
  * the same rules with one ansible.builtin.iptables task per rule (a loop: one module run per
    rule), in one ansible-playbook run;
  * the same rules with one firewall-cmd --direct --passthrough per rule (firewalld on a
    private bus), and with one iptables process per rule (libvirt's own direct path);
  * a change of every network's subnet: one task (the record replaces the old rules) against
    what the module needed without a record, the old definitions absent, then the new present.

    python benchmarks/virt_networks.py [--networks 20] [--skip-slow]
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

# pylint: disable=wrong-import-position
from _timing import timed_module, timed_playbook  # noqa: E402
from harness import Firewalld, NetworkNamespace, PrivateBus, run  # noqa: E402

from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (  # noqa: E402
    NetworkDefinition,
    ip_definition,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.rules import (  # noqa: E402
    iptables_base,
    iptables_rules,
)


def networks(count):
    return [{"name": "net%d" % i, "bridge": "virbr%d" % (100 + i), "forward_mode": "nat",
             "ips": [{"address": "10.100.%d.1" % i, "prefix": 24, "dhcp": True}]}
            for i in range(count)]


def renumbered(specs):
    """The same networks on other subnets."""
    return [dict(spec, ips=[dict(spec["ips"][0], address=spec["ips"][0]["address"].replace(
        "10.100.", "10.101."))]) for spec in specs]


def all_rules(specs):
    """libvirt's base chains and every network's rules, as (layer, args)."""
    rules = iptables_base("ipv4", {}) + iptables_base("ipv6", {})
    for spec in specs:
        ip = spec["ips"][0]
        rules += iptables_rules(NetworkDefinition(
            spec["name"], spec["bridge"], "nat",
            ips=[ip_definition(ip["address"], prefix=ip["prefix"], has_dhcp=True)]))
    return rules


def builtin_iptables_item(layer, args):
    """The same rule as ansible.builtin.iptables parameters."""
    item = {"ip_version": "ipv6" if layer == "ipv6" else "ipv4"}
    words = list(args)
    negate = False
    index = 0
    names = {"--table": "table", "--in-interface": "in_interface", "--out-interface": "out_interface",
             "--protocol": "protocol", "-p": "protocol", "--destination-port": "destination_port",
             "--source": "source", "--destination": "destination", "--jump": "jump",
             "--to-ports": "to_ports", "--match": "match", "--ctstate": "ctstate"}
    while index < len(words):
        word = words[index]
        if word == "!":
            negate = True
        elif word == "--insert":
            item["action"] = "insert"
            item["chain"] = words[index + 1]
            index += 1
        elif word == "--new-chain":
            item["chain"] = words[index + 1]
            item["chain_management"] = True
            index += 1
        elif word == "--checksum-fill":
            # ansible.builtin.iptables cannot say --checksum-fill, without which iptables
            # refuses CHECKSUM: a plain ACCEPT in the same place stands in (same cost).
            item["jump"] = "ACCEPT"
        elif word in names:
            value = words[index + 1]
            if negate:
                value, negate = "!" + value, False
            if names[word] in ("match", "ctstate"):
                item[names[word]] = value.split(",")
            else:
                item[names[word]] = value
            index += 1
        index += 1
    return item


PLAYBOOK_ONE_TASK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - virtkit.host.virt_network_firewall:
        backend: iptables
        networks: "{{ nets }}"
"""

PLAYBOOK_PER_RULE = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.iptables:
        ip_version: "{{ item.ip_version }}"
        table: "{{ item.table | default(omit) }}"
        chain: "{{ item.chain }}"
        action: "{{ item.action | default(omit) }}"
        chain_management: "{{ item.chain_management | default(omit) }}"
        in_interface: "{{ item.in_interface | default(omit) }}"
        out_interface: "{{ item.out_interface | default(omit) }}"
        protocol: "{{ item.protocol | default(omit) }}"
        destination_port: "{{ item.destination_port | default(omit) }}"
        source: "{{ item.source | default(omit) }}"
        destination: "{{ item.destination | default(omit) }}"
        match: "{{ item.match | default(omit) }}"
        ctstate: "{{ item.ctstate | default(omit) }}"
        jump: "{{ item.jump | default(omit) }}"
        to_ports: "{{ item.to_ports | default(omit) }}"
      loop: "{{ rules }}"
"""


def make_bridges(specs):
    for spec in specs:
        run("ip", "link", "add", spec["bridge"], "type", "bridge")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--skip-slow", action="store_true",
                        help="skip ansible.builtin.iptables and firewall-cmd (minutes)")
    options = parser.parse_args()
    specs = networks(options.networks)
    rules = all_rules(specs)
    results = {}

    def report(label, seconds):
        results[label] = seconds
        print("%-62s %8.3f s" % (label, seconds), flush=True)

    print("%d NAT networks, %d rules (libvirt's base chains included)\n"
          % (len(specs), len(rules)))
    for backend in ("iptables", "nftables"):
        with NetworkNamespace():
            make_bridges(specs)
            seconds, first = timed_module("virt_network_firewall", {"backend": backend, "networks": specs})
            report("virt_network_firewall (%s): first apply, module" % backend, seconds)
            seconds, again = timed_module("virt_network_firewall", {"backend": backend, "networks": specs})
            assert not again["changed"]
            report("virt_network_firewall (%s): idempotent rerun, module" % backend, seconds)
            print("    %d commands on first apply, %d reads on rerun"
                  % (len(first["commands"]), len(again["queries"])))
            moved = renumbered(specs)
            seconds, replaced = timed_module("virt_network_firewall",
                                             {"backend": backend, "networks": moved})
            assert {n["action"] for n in replaced["networks"]} == {"replaced"}
            report("virt_network_firewall (%s): every subnet changed, one task" % backend,
                   seconds)
        with NetworkNamespace():
            make_bridges(specs)
            timed_module("virt_network_firewall", {"backend": backend, "networks": specs})
            absent, _result = timed_module("virt_network_firewall", {
                "backend": backend, "networks": [dict(spec, state="absent") for spec in specs]})
            present, _result = timed_module("virt_network_firewall", {
                "backend": backend, "networks": renumbered(specs)})
            report("  the same without a record: old absent, then new (%s)" % backend,
                   absent + present)
    with NetworkNamespace():
        make_bridges(specs)
        report("virt_network_firewall: ansible-playbook, one task",
               timed_playbook(PLAYBOOK_ONE_TASK, {"nets": specs})[0])
    with NetworkNamespace():
        start = time.perf_counter()
        for layer, args in rules:
            subprocess.run(["iptables" if layer == "ipv4" else "ip6tables", "-w"] + list(args),
                           check=True)
        report("one iptables process per rule (libvirt's direct path)",
               time.perf_counter() - start)
    if not options.skip_slow:
        with NetworkNamespace():
            items = [builtin_iptables_item(layer, args) for layer, args in rules]
            report("ansible.builtin.iptables: one task per rule, ansible-playbook",
                   timed_playbook(PLAYBOOK_PER_RULE, {"rules": items})[0])
        bus = PrivateBus()
        try:
            with NetworkNamespace():
                daemon = Firewalld(bus, "iptables")
                try:
                    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
                    start = time.perf_counter()
                    for layer, args in rules:
                        subprocess.run(["firewall-cmd", "--direct", "--passthrough", layer] +
                                       list(args), check=True, env=env, stdout=subprocess.DEVNULL)
                    report("firewall-cmd --direct --passthrough per rule",
                           time.perf_counter() - start)
                finally:
                    daemon.stop()
        finally:
            bus.stop()

    print("\nRatios (same run):")
    fast = "virt_network_firewall (iptables): first apply, module"
    for slow in ("ansible.builtin.iptables: one task per rule, ansible-playbook",
                 "firewall-cmd --direct --passthrough per rule",
                 "one iptables process per rule (libvirt's direct path)"):
        if slow in results:
            print("  %-60s %7.1fx" % (slow + " / module", results[slow] / results[fast]))
    for backend in ("iptables", "nftables"):
        one = "virt_network_firewall (%s): every subnet changed, one task" % backend
        two = "  the same without a record: old absent, then new (%s)" % backend
        print("  %-60s %7.1fx" % ("subnet change, two tasks / one (%s)" % backend,
                                  results[two] / results[one]))
    playbook = "virt_network_firewall: ansible-playbook, one task"
    slow = "ansible.builtin.iptables: one task per rule, ansible-playbook"
    if slow in results:
        title = "ansible.builtin.iptables playbook / our playbook"
        print("  %-60s %7.1fx  (target >= 20x)" % (title, results[slow] / results[playbook]))
    rerun = results["virt_network_firewall (iptables): idempotent rerun, module"]
    print("  idempotent rerun of all networks: %.3f s (target < 1 s)" % rerun)


if __name__ == "__main__":
    main()
