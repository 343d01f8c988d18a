"""Rules for libvirt's own nwfilter test cases must be libvirt's expected commands
(tests/unit/data/libvirt/nwfilter), with the set-up blocks its test strips stripped the same way."""

import os

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterSet,
    parse_filter,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.ebiptables import new_rules

from ansible_collections.virtkit.host.tests.unit.utils.libvirt_reference import (
    NWFILTER,
    read_commands,
)

# The variables libvirt's test sets.
VARIABLES = {"IPSETNAME": ["tck_test"],
             "A": ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"],
             "B": ["80", "90", "80", "80"],
             "C": ["1080", "1090", "1100", "1110"]}
LOCK = {"ebtables": "--concurrent", "iptables": "-w", "ip6tables": "-w"}


def argv(commands, with_lock=True):
    return [[tool] + ([LOCK[tool]] if with_lock else []) + list(args)
            for tool, args, _ignore in commands]


def strip_setup(commands, interface="vnet0"):
    """Remove, once each and in order, the blocks libvirt's nwfilterxml2firewalltest strips."""
    def eb(*args):
        return ["ebtables", "--concurrent", "-t", "nat"] + list(args)

    blocks = [[eb("-N", "libvirt-J-" + interface), eb("-N", "libvirt-P-" + interface)]]
    for tool in ("iptables", "ip6tables"):
        drop_temp = [[tool, "-w", "-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged",
                      "--physdev-out", interface, "-g", "FP-" + interface],
                     [tool, "-w", "-D", "libvirt-out", "-m", "physdev", "--physdev-out", interface,
                      "-g", "FP-" + interface],
                     [tool, "-w", "-D", "libvirt-in", "-m", "physdev", "--physdev-in", interface,
                      "-g", "FJ-" + interface],
                     [tool, "-w", "-D", "libvirt-host-in", "-m", "physdev", "--physdev-in",
                      interface, "-g", "HJ-" + interface]]
        for chain in ("FP", "FJ", "HJ"):
            drop_temp += [[tool, "-w", "-F", chain + "-" + interface],
                          [tool, "-w", "-X", chain + "-" + interface]]
        blocks.append(drop_temp)
        blocks.append(("base", tool))
    blocks.append([eb("-A", "PREROUTING", "-i", interface, "-j", "libvirt-J-" + interface),
                   eb("-A", "POSTROUTING", "-o", interface, "-j", "libvirt-P-" + interface)])
    result = list(commands)
    position = 0
    for block in blocks:
        if isinstance(block, tuple):  # the base-chain block: from -N libvirt-in to -A libvirt-in-post
            tool = block[1]
            start = next((i for i in range(position, len(result))
                          if result[i] == [tool, "-w", "-N", "libvirt-in"]), None)
            if start is None:
                continue
            end = next(i for i in range(start, len(result))
                       if result[i][:4] == [tool, "-w", "-A", "libvirt-in-post"])
            del result[start:end + 1]
            position = start
            continue
        for start in range(position, len(result) - len(block) + 1):
            if result[start:start + len(block)] == block:
                del result[start:start + len(block)]
                position = start
                break
    return result


def cases():
    found = []
    for name in sorted(os.listdir(NWFILTER)) if os.path.isdir(NWFILTER) else []:
        if name.endswith(".xml"):
            stem = name[:-4]
            for suffix in ("-linux.ebiptables.args", "-linux.args"):
                if os.path.exists(os.path.join(NWFILTER, stem + suffix)):
                    found.append((stem, stem + suffix))
    return found


CASES = cases()


def test_all_reference_cases_are_found():
    assert len(CASES) == 16  # mac-linux.nftables.args is another driver's


@pytest.mark.parametrize("stem, expected", CASES)
def test_libvirt_reference(stem, expected):
    filters = FilterSet()
    with open(os.path.join(NWFILTER, stem + ".xml")) as handle:
        definition = parse_filter(handle.read())
    filters.add(definition)
    got = strip_setup(argv(new_rules(filters, definition.name, "vnet0", VARIABLES)))
    want = read_commands(os.path.join(NWFILTER, expected))
    # Files from before libvirt passed lock options to the tools.
    for tool, lock in LOCK.items():
        if not any(command[0] == tool and lock in command for command in want):
            got = [[word for word in command if not (command[0] == tool and word == lock)]
                   for command in got]
    assert got == want
