# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What virt_network_firewall applied, per network, in this network namespace: the rules it
inserted (as the commands that inserted them, the way libvirt keeps the removal commands of a
running network in its status), the bridge's firewalld zone it set, and the rules a change armed
with a revert removed (``retired``: a revert puts them back, and the next run takes them out
again). A changed definition replaces exactly the recorded rules; rules nobody recorded (made by
libvirt itself or by hand) are never touched.

The record lives in /run like netfilter's rules themselves (and libvirt's network status): both
are gone after a reboot.
"""

import os

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall import (
    _host_files as host_files,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_IPV4,
    LAYER_IPV6,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.rules import (
    IPTABLES_CHAINS,
    NFT_JUMP_CHAINS,
    NFT_TABLE,
)

RECORD_DIR = os.path.join(host_files.STATE_DIR, "networks")
VERSION = 1
_LAYERS = (LAYER_IPV4, LAYER_IPV6)
NFT_RULE_CHAINS = NFT_JUMP_CHAINS + ("guest_nat",)


class RecordedNetwork(object):
    """One network as the record keeps it. ``rules`` and ``retired``: [(layer, args)]."""

    __slots__ = ("name", "bridge", "backend", "rules", "retired", "zone", "indexes")

    def __init__(self, name, bridge, backend, rules=(), retired=(), zone=None, indexes=None):
        self.name = name
        self.bridge = bridge
        self.backend = backend
        self.rules = [(layer, tuple(args)) for layer, args in rules]
        self.retired = [(layer, tuple(args)) for layer, args in retired]
        self.zone = zone
        # {bridge: its interface index when the rules were inserted}: nft lists a rule on a
        # bridge that is gone by that index.
        self.indexes = dict(indexes or {})

    def data(self):
        return dict(bridge=self.bridge, backend=self.backend, zone=self.zone,
                    indexes=self.indexes,
                    rules=[[layer, list(args)] for layer, args in self.rules],
                    retired=[[layer, list(args)] for layer, args in self.retired])

    @classmethod
    def from_data(cls, name, data):
        """Raises ValueError when ``data`` is not an entry this code wrote: every name is
        checked as the module's input is, and every rule must be one of libvirt's inserts into
        its own chains (a record is root's alone, but what it says reaches commands)."""
        if not isinstance(data, dict) or data.get("backend") not in ("iptables", "nftables"):
            raise ValueError("network %r: entry without a backend" % (name,))
        backend = data["backend"]
        try:
            vocabulary.object_name(name, "network name")
            bridge = data.get("bridge")
            if bridge is not None:
                vocabulary.interface(bridge, "bridge of network %r" % (name,))
            if data.get("zone") is not None:
                vocabulary.object_name(data["zone"], "zone of network %r" % (name,))
            indexes = data.get("indexes") or {}
            if not isinstance(indexes, dict):
                raise ValueError("indexes of network %r are not a mapping" % (name,))
            for interface, index in indexes.items():
                vocabulary.interface(interface, "interface of network %r" % (name,))
                if index is not None and not isinstance(index, int):
                    raise ValueError("network %r: index %r is not a number" % (name, index))
        except vocabulary.InvalidValue as exc:
            raise ValueError(str(exc))

        def rules(key):
            found = data.get(key, [])
            if not isinstance(found, list):
                raise ValueError("%s of network %r is not a list" % (key, name))
            for entry in found:
                if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in _LAYERS
                        and isinstance(entry[1], list)
                        and all(isinstance(word, str) for word in entry[1])
                        and _libvirt_insert(backend, entry[1])):
                    raise ValueError("network %r has a malformed rule: %r" % (name, entry))
            return found
        return cls(name, data.get("bridge"), backend, rules("rules"), rules("retired"),
                   data.get("zone"), indexes)

    def __eq__(self, other):
        return isinstance(other, RecordedNetwork) and self.name == other.name and \
            self.data() == other.data()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "RecordedNetwork(%s, bridge=%s, %d rules)" % (self.name, self.bridge,
                                                             len(self.rules))


def _libvirt_insert(backend, args):
    """Whether ``args`` insert a rule into one of libvirt's own chains (what the module makes,
    and so all a record may hold)."""
    if backend == "nftables":
        return (len(args) > 5 and args[:2] == ["insert", "rule"] and args[2] in ("ip", "ip6")
                and args[3] == NFT_TABLE and args[4] in NFT_RULE_CHAINS)
    chains = dict(IPTABLES_CHAINS)
    return (len(args) > 4 and args[0] == "--table" and args[1] in chains
            and args[2] == "--insert" and args[3] in {child for child, _p in chains[args[1]]})


def interface_index(name):
    """The interface's index in this namespace, or None when there is no such interface."""
    if not name:
        return None
    try:
        import socket  # pylint: disable=import-outside-toplevel
        return socket.if_nametoindex(name)
    except (OSError, ValueError):
        return None


class NetworkRecord(object):
    """The record file of this network namespace (``path`` for tests)."""

    def __init__(self, path=None):
        self.path = path or os.path.join(RECORD_DIR, "net-%d.json" % host_files.namespace_inode())
        self.cookie = host_files.namespace_cookie()

    def load(self):
        """{name: RecordedNetwork}; FirewallError naming the file when it cannot be read."""
        try:
            data = host_files.read_json(self.path)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise self._unreadable(exc)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise self._unreadable("not a version %d record" % VERSION)
        if self.cookie is not None and data.get("cookie") not in (None, self.cookie):
            # Written in a namespace that is gone and whose inode this one reuses.
            return {}
        networks = data.get("networks")
        if not isinstance(networks, dict):
            raise self._unreadable("no networks")
        try:
            return {name: RecordedNetwork.from_data(name, entry)
                    for name, entry in networks.items()}
        except ValueError as exc:
            raise self._unreadable(exc)

    def save(self, networks):
        """Write ``networks`` ({name: RecordedNetwork}) atomically; no file when empty."""
        if not networks:
            if os.path.lexists(self.path):
                os.unlink(self.path)
            return
        host_files.make_private_directory(os.path.dirname(self.path))
        host_files.write_json(self.path, dict(
            version=VERSION, cookie=self.cookie,
            networks={name: entry.data() for name, entry in networks.items()}))

    def _unreadable(self, reason):
        return FirewallError(
            "the record of the networks virt_network_firewall applied here, %s, cannot be read "
            "(%s); remove it to start over (the rules it lists are then left alone)"
            % (self.path, reason))
