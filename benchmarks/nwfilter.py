"""clean-traffic bound to N guest interfaces, then unbound, in a private network namespace.

Compares, in one run: virtkit.host.nwfilter_binding (one task for all interfaces), the same
commands libvirt's ebiptables driver issues run as one process each (its create and delete
sequences, errors ignored where libvirt ignores them), and libvirt's own nwfilter driver for a
few interfaces (it takes about a second each).

    python benchmarks/nwfilter.py [--interfaces 50] [--libvirt 5]
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
from harness import LibvirtNwfilterd, NetworkNamespace, run, run_module  # noqa: E402

from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (  # noqa: E402
    FilterSet,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.ebiptables import (  # noqa: E402
    new_rules,
)

LOCK = {"ebtables": ["--concurrent"], "iptables": ["-w"], "ip6tables": ["-w"]}
FILTERS = "/usr/share/libvirt/nwfilter"


def interfaces(count):
    return [("vnet%d" % i, "52:54:00:00:%02x:%02x" % (i // 256, i % 256), "10.1.%d.%d"
             % (i // 250, i % 250 + 2)) for i in range(count)]


def eb(*args):
    return ("ebtables", ("-t", "nat") + args)


def ipt(tool, interface, letters):
    forward_out, forward_in, host_in = ("%s-%s" % (l, interface) for l in letters)
    commands = [(tool, ("-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged",
                        "--physdev-out", interface, "-g", forward_out)),
                (tool, ("-D", "libvirt-out", "-m", "physdev", "--physdev-out", interface, "-g",
                        forward_out)),
                (tool, ("-D", "libvirt-in", "-m", "physdev", "--physdev-in", interface, "-g",
                        forward_in)),
                (tool, ("-D", "libvirt-host-in", "-m", "physdev", "--physdev-in", interface, "-g",
                        host_in))]
    for chain in (forward_out, forward_in, host_in):
        commands += [(tool, ("-F", chain)), (tool, ("-X", chain))]
    return commands


def roots(interface, first, second):
    a, b = "libvirt-%s-%s" % (first, interface), "libvirt-%s-%s" % (second, interface)
    return [eb("-D", "PREROUTING", "-i", interface, "-j", a),
            eb("-D", "POSTROUTING", "-o", interface, "-j", b), eb("-L", a), eb("-L", b),
            eb("-F", a), eb("-X", a), eb("-F", b), eb("-X", b)]


def libvirt_create(filters, interface, mac, address):
    """libvirt's create sequence for one binding (spec of its ebiptables driver)."""
    rules = new_rules(filters, "clean-traffic", interface, {"MAC": [mac], "IP": [address]})
    commands = roots(interface, "J", "P") + [(tool, args) for tool, args, _i in rules]
    for tool in ("iptables", "ip6tables"):
        commands += ipt(tool, interface, ("FO", "FI", "HI"))
        commands += [(tool, ("-E", "%s-%s" % (t, interface), "%s-%s" % (f, interface)))
                     for t, f in (("FP", "FO"), ("FJ", "FI"), ("HJ", "HI"))]
    commands += roots(interface, "I", "O")
    commands += [eb("-L", "libvirt-J-" + interface), eb("-L", "libvirt-P-" + interface),
                 eb("-E", "libvirt-J-" + interface, "libvirt-I-" + interface),
                 eb("-E", "libvirt-P-" + interface, "libvirt-O-" + interface)]
    for tool, args, _ignore in rules:
        if tool == "ebtables" and args[2] == "-N" and not args[3].startswith("libvirt-"):
            temporary = args[3]
            final = ("I" if temporary[0] == "J" else "O") + temporary[1:]
            commands += [eb("-L", temporary), eb("-F", final), eb("-X", final),
                         eb("-E", temporary, final)]
    return commands


def libvirt_delete(filters, interface, mac, address):
    commands = []
    for tool in ("iptables", "ip6tables"):
        commands += ipt(tool, interface, ("FP", "FJ", "HJ"))
    commands += roots(interface, "J", "P")
    for tool in ("iptables", "ip6tables"):
        commands += ipt(tool, interface, ("FO", "FI", "HI"))
        commands.append((tool, ("-D", "libvirt-in-post", "-m", "physdev", "--physdev-in",
                                interface, "-j", "ACCEPT")))
    commands += roots(interface, "I", "O")
    rules = new_rules(filters, "clean-traffic", interface, {"MAC": [mac], "IP": [address]})
    for tool, args, _ignore in rules:
        if tool == "ebtables" and args[2] == "-N" and not args[3].startswith("libvirt-"):
            final = ("I" if args[3][0] == "J" else "O") + args[3][1:]
            commands += [eb("-L", final), eb("-F", final), eb("-X", final)]
    return commands


def one_process_each(commands):
    for tool, args in commands:
        subprocess.run([tool] + LOCK[tool] + list(args), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


def taps(specs):
    for interface, _mac, _address in specs:
        run("ip", "tuntap", "add", interface, "mode", "tap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interfaces", type=int, default=50)
    parser.add_argument("--libvirt", type=int, default=5,
                        help="interfaces to bind with libvirt's own driver (0: skip)")
    options = parser.parse_args()
    specs = interfaces(options.interfaces)
    filters = FilterSet()
    filters.load_directory(FILTERS)
    results = {}

    def report(label, seconds, count):
        results[label] = seconds / count
        print("%-58s %8.3f s  %7.1f ms per interface" % (label, seconds, 1000 * seconds / count),
              flush=True)

    bindings = [{"interface": i, "mac": m, "filter": "clean-traffic", "parameters": {"IP": a}}
                for i, m, a in specs]
    with NetworkNamespace():
        taps(specs)
        start = time.perf_counter()
        created = run_module("nwfilter_binding", {"backend": "iptables", "bindings": bindings})
        report("nwfilter_binding: create, one task (module)", time.perf_counter() - start,
               len(specs))
        assert created["changed"] and not created.get("failed"), created.get("msg")
        print("    %d commands for %d interfaces" % (len(created["commands"]), len(specs)))
        start = time.perf_counter()
        again = run_module("nwfilter_binding", {"backend": "iptables", "bindings": bindings})
        report("nwfilter_binding: idempotent rerun (module)", time.perf_counter() - start,
               len(specs))
        assert not again["changed"]
        start = time.perf_counter()
        removed = run_module("nwfilter_binding", {"backend": "iptables", "state": "absent",
                                                  "bindings": [{"interface": i} for i, _m, _a in specs]})
        report("nwfilter_binding: delete, one task (module)", time.perf_counter() - start,
               len(specs))
        assert removed["changed"]
    with NetworkNamespace():
        taps(specs)
        for step, commands_of in (("create", libvirt_create), ("delete", libvirt_delete)):
            sequences = [commands_of(filters, *spec) for spec in specs]
            count = sum(len(sequence) for sequence in sequences)
            start = time.perf_counter()
            for sequence in sequences:
                one_process_each(sequence)
            report("libvirt's commands, one process each: %s (%d)" % (step, count),
                   time.perf_counter() - start, len(specs))
    if options.libvirt:
        subset = specs[:options.libvirt]
        with NetworkNamespace():
            taps(subset)
            daemon = LibvirtNwfilterd()
            try:
                start = time.perf_counter()
                for interface, mac, address in subset:
                    daemon.bind(interface, mac, "clean-traffic", {"IP": address})
                report("libvirt's nwfilter driver: create (%d interfaces)" % len(subset),
                       time.perf_counter() - start, len(subset))
                start = time.perf_counter()
                for interface, _mac, _address in subset:
                    daemon.unbind(interface)
                report("libvirt's nwfilter driver: delete (%d interfaces)" % len(subset),
                       time.perf_counter() - start, len(subset))
            finally:
                daemon.stop()
    total = {key: value * len(specs) for key, value in results.items()}
    print("\nFor %d interfaces:" % len(specs))
    print("  create with nwfilter_binding: %.3f s (target < 1 s)"
          % total["nwfilter_binding: create, one task (module)"])
    print("  delete with nwfilter_binding: %.3f s (target < 1 s)"
          % total["nwfilter_binding: delete, one task (module)"])
    for label in results:
        if label.startswith("libvirt"):
            kind = "create" if "create" in label else "delete"
            ours = results["nwfilter_binding: %s, one task (module)" % kind]
            print("  %-56s %7.1fx" % (label + " / ours", results[label] / ours))


if __name__ == "__main__":
    main()
