"""libvirt's test data in shared/reference/libvirt (beside the checkout) and its command format."""

import os
import shlex


def checkout():
    path = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(path, "galaxy.yml")):
        path = os.path.dirname(path)
    return path


ROOT = os.path.join(checkout(), "..", "shared", "reference", "libvirt")
NETWORKS = os.path.join(ROOT, "networkxml2firewall")


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
