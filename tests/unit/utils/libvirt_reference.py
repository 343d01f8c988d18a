"""libvirt's test data copied into the collection (tests/unit/data/libvirt, see its README for
source and licence) and libvirt's command format."""

import os
import shlex

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "libvirt")
NETWORKS = os.path.join(ROOT, "networkxml2firewall")
NWFILTER = os.path.join(ROOT, "nwfilter")
LXC = os.path.join(ROOT, "lxc")


def read_commands(path):
    """libvirt's format: one command per block, continued lines end in a backslash."""
    commands, current = [], []
    with open(path) as handle:
        for line in handle.read().splitlines():
            continued = line.endswith(" \\")
            current.append(line[:-2] if continued else line)
            if not continued:
                if "".join(current).strip():
                    commands.append(shlex.split(" ".join(current)))
                current = []
    return commands
