"""Time to apply N rules to a custom chain, in a private network namespace.

Compares, in one run: one iptables process per rule, firewall-cmd --direct --passthrough per
rule (N=100 only: it takes seconds per handful of rules), a raw iptables-restore --noflush of
the same rules (the floor for the direct path), and the engine with each backend.

    python benchmarks/firewall_apply.py [--sizes 100,1000] [--repeat 3] [--no-firewall-cmd]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

# pylint: disable=wrong-import-position
from harness import Firewalld, NetworkNamespace, PrivateBus, run  # noqa: E402

from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import (  # noqa: E402
    Firewall,
)

CHAIN = "VK_BENCH"


def sources(count):
    return ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, count + 1)]


def iptables_rules(count):
    return [("-A", CHAIN, "-s", source, "-j", "ACCEPT") for source in sources(count)]


def nft_rules(count):
    return [("add", "rule", "ip", "filter", CHAIN, "ip", "saddr", source, "accept")
            for source in sources(count)]


def prepare(kind):
    if kind == "nft":
        run("nft", "add table ip filter; add chain ip filter %s" % CHAIN)
    else:
        run("iptables", "-w", "-N", CHAIN)


def check(count, kind):
    if kind == "nft":
        listed = run("nft", "list", "chain", "ip", "filter", CHAIN).count("accept")
    else:
        listed = len(run("iptables", "-S", CHAIN).splitlines()) - 1
    if listed != count:
        raise SystemExit("benchmark bug: %d rules in %s, expected %d" % (listed, CHAIN, count))


# Each method applies `count` rules to CHAIN, which exists and is empty.
def per_process(count):
    for rule in iptables_rules(count):
        subprocess.run(["iptables", "-w"] + list(rule), check=True)


def raw_restore(count):
    text = "*filter\n" + "".join(" ".join(rule) + "\n" for rule in iptables_rules(count)) + "COMMIT\n"
    subprocess.run(["iptables-restore", "-w", "--noflush"], input=text.encode(), check=True)


def engine_method(backend, syntax, auto_rollback=False, **options):
    def apply(count):
        fw = Firewall(backend, **options)
        fw.start_transaction(auto_rollback=auto_rollback)
        for rule in (nft_rules if syntax == "nft" else iptables_rules)(count):
            fw.add_rule("ipv4", *rule)
        fw.apply()
    return apply


def firewall_cmd(count):
    for rule in iptables_rules(count):
        subprocess.run(["firewall-cmd", "--direct", "--passthrough", "ipv4"] + list(rule),
                       check=True, stdout=subprocess.DEVNULL)


def measure(method, count, kind, repeat, setup=None):
    """Median seconds over `repeat` runs, each in a fresh namespace (set-up not timed)."""
    times = []
    for _run in range(repeat):
        with NetworkNamespace():
            daemon = setup() if setup else None
            try:
                prepare(kind)
                start = time.perf_counter()
                method(count)
                times.append(time.perf_counter() - start)
                check(count, kind)
            finally:
                if daemon is not None:
                    daemon.stop()
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-firewall-cmd", action="store_true",
                        help="skip firewall-cmd (about 0.3 s per rule)")
    args = parser.parse_args()

    bus = PrivateBus()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address  # for firewall-cmd and the engine

    def start_firewalld():
        return Firewalld(bus, "nftables")

    methods = [
        # label, function, rule syntax, repeat factor, setup, sizes allowed
        ("iptables: one process per rule", per_process, "iptables", 1, None, None),
        ("iptables-restore --noflush (raw)", raw_restore, "iptables", None, None, None),
        ("engine, iptables backend (batch)", engine_method("iptables", "iptables"),
         "iptables", None, None, None),
        ("engine, iptables backend (per rule)", engine_method("iptables", "iptables", batch=False),
         "iptables", 1, None, None),
        ("engine, nftables backend (batch)", engine_method("nftables", "nft"), "nft", None, None,
         None),
        ("firewall-cmd --direct --passthrough", firewall_cmd, "iptables", 1, start_firewalld,
         (100,)),
        ("engine, firewalld backend (one call per rule)", engine_method("firewalld", "iptables"),
         "iptables", 1, start_firewalld, None),
        ("engine, firewalld backend (pipelined)",
         engine_method("firewalld", "iptables", auto_rollback=True),
         "iptables", 1, start_firewalld, None),
    ]
    if args.no_firewall_cmd:
        methods = [m for m in methods if not m[0].startswith("firewall-cmd")]

    results = {}
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            for label, method, kind, repeat, setup, sizes in methods:
                if sizes is not None and size not in sizes:
                    continue
                seconds = measure(method, size, kind, repeat or args.repeat, setup)
                results[(label, size)] = seconds
                print("%-48s N=%-5d %9.3f s  %8.3f ms/rule" % (label, size, seconds,
                                                               1000 * seconds / size), flush=True)
    finally:
        bus.stop()

    print("\nRatios (same run, same machine):")
    ratios = [
        # title, numerator, denominator, target
        ("one process per rule / engine iptables batch", "iptables: one process per rule",
         "engine, iptables backend (batch)", "target >= 50x at N=1000"),
        ("engine iptables batch / raw iptables-restore", "engine, iptables backend (batch)",
         "iptables-restore --noflush (raw)", "target <= 2x at N=1000"),
        ("one process per rule / engine nftables batch", "iptables: one process per rule",
         "engine, nftables backend (batch)", ""),
        ("firewall-cmd / engine firewalld (per call)", "firewall-cmd --direct --passthrough",
         "engine, firewalld backend (one call per rule)", "target >= 50x"),
        ("firewall-cmd / engine firewalld (pipelined)", "firewall-cmd --direct --passthrough",
         "engine, firewalld backend (pipelined)", "target >= 50x"),
    ]
    for size in sorted({size for _label, size in results}):
        for title, numerator, denominator, target in ratios:
            if (numerator, size) in results and (denominator, size) in results:
                print("  N=%-5d %-48s %8.2fx  %s" % (
                    size, title, results[(numerator, size)] / results[(denominator, size)],
                    target))


if __name__ == "__main__":
    main()
