"""`make engine-demo`: the firewall engine in a throwaway network
namespace. Applies a libvirt-style NAT network, shows a failing transaction rolled back, and a
dry run; prints every command and the resulting ruleset. Never touches the host's firewall."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

# pylint: disable=wrong-import-position
from harness import NetworkNamespace, run  # noqa: E402

from ansible_collections.virtkit.host.plugins.module_utils._errors import (  # noqa: E402
    FirewallError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import (  # noqa: E402
    Firewall,
)


def network_rules(fw, bridge, subnet, broken=False):
    """A NAT network's rules in two groups; the second inherits the first's rollback."""
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "--table", "filter", "--new-chain", "DEMO_INP")
    fw.add_rule("ipv4", "--table", "filter", "--insert", "INPUT", "--jump", "DEMO_INP")
    fw.add_rule("ipv4", "--table", "nat", "--new-chain", "DEMO_PRT")
    fw.add_rule("ipv4", "--table", "nat", "--insert", "POSTROUTING", "--jump", "DEMO_PRT")
    fw.start_transaction(auto_rollback=True)
    for proto, port in (("udp", "53"), ("tcp", "53"), ("udp", "67")):
        fw.add_rule("ipv4", "--table", "filter", "--append", "DEMO_INP", "--in-interface", bridge,
                    "--protocol", proto, "--destination-port", port, "--jump", "ACCEPT")
    fw.add_rule("ipv4", "--table", "nat", "--append", "DEMO_PRT", "--source", subnet, "!",
                "--destination", subnet, "--jump", "MASQUERADE")
    if broken:
        fw.add_rule("ipv4", "--table", "filter", "--append", "DEMO_INP", "--jump", "NO_SUCH_CHAIN")
    fw.start_rollback(inherit_previous=True)


def show_ruleset(title):
    print("\n--- %s (iptables-save, this namespace only) ---" % title)
    text = run("iptables-save")
    print("\n".join(line for line in text.splitlines() if not line.startswith("#")) or "(empty)")


def main():
    with NetworkNamespace():
        run("ip", "link", "add", "virbr9", "type", "bridge")
        run("iptables", "-w", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")  # the host's own rule
        run("iptables", "-w", "-t", "nat", "-S")  # make the nat table exist
        show_ruleset("before")

        print("\n=== 1. dry run: the commands, nothing applied ===")
        fw = Firewall("iptables", dry_run=True)
        network_rules(fw, "virbr9", "192.168.199.0/24")
        for command in fw.apply():
            print("  would run:", command)

        print("\n=== 2. a transaction that fails in its second group: everything is rolled back ===")
        before = run("iptables-save", "-t", "filter").split("\n", 1)[1]
        fw = Firewall("iptables", trace=lambda line: print("  " + line))
        network_rules(fw, "virbr9", "192.168.199.0/24", broken=True)
        try:
            fw.apply()
        except FirewallError as exc:
            print("\n  FirewallError: %s" % str(exc).splitlines()[0])
        after = run("iptables-save", "-t", "filter").split("\n", 1)[1]
        print("  ruleset identical to before: %s" % (before == after))

        print("\n=== 3. the same network, applied for real ===")
        fw = Firewall("iptables", trace=lambda line: print("  " + line))
        network_rules(fw, "virbr9", "192.168.199.0/24")
        start = time.perf_counter()
        commands = fw.apply()
        print("  %d command(s) in %.1f ms" % (len(commands), 1000 * (time.perf_counter() - start)))
        show_ruleset("after")
    print("\nThe namespace is gone with its rules; the host's firewall was never touched.")


if __name__ == "__main__":
    main()
