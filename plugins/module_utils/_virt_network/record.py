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

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall import (
    _host_files as host_files,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_IPV4,
    LAYER_IPV6,
)

RECORD_DIR = os.path.join(host_files.STATE_DIR, "networks")
VERSION = 1
_LAYERS = (LAYER_IPV4, LAYER_IPV6)


class RecordedNetwork(object):
    """One network as the record keeps it. ``rules`` and ``retired``: [(layer, args)]."""

    __slots__ = ("name", "bridge", "backend", "rules", "retired", "zone", "ifindex")

    def __init__(self, name, bridge, backend, rules=(), retired=(), zone=None, ifindex=None):
        self.name = name
        self.bridge = bridge
        self.backend = backend
        self.rules = [(layer, tuple(args)) for layer, args in rules]
        self.retired = [(layer, tuple(args)) for layer, args in retired]
        self.zone = zone
        self.ifindex = ifindex

    def data(self):
        return dict(bridge=self.bridge, backend=self.backend, zone=self.zone,
                    ifindex=self.ifindex,
                    rules=[[layer, list(args)] for layer, args in self.rules],
                    retired=[[layer, list(args)] for layer, args in self.retired])

    @classmethod
    def from_data(cls, name, data):
        """Raises ValueError when ``data`` is not an entry this code wrote."""
        def rules(key):
            found = data.get(key, [])
            if not isinstance(found, list):
                raise ValueError("%s of network %r is not a list" % (key, name))
            for entry in found:
                if (not isinstance(entry, list) or len(entry) != 2 or entry[0] not in _LAYERS
                        or not isinstance(entry[1], list)
                        or not all(isinstance(word, str) for word in entry[1])):
                    raise ValueError("network %r has a malformed rule: %r" % (name, entry))
            return found
        if not isinstance(data, dict) or not isinstance(data.get("backend"), str):
            raise ValueError("network %r: entry without a backend" % (name,))
        ifindex = data.get("ifindex")
        return cls(name, data.get("bridge"), data["backend"], rules("rules"), rules("retired"),
                   data.get("zone"), ifindex if isinstance(ifindex, int) else None)

    def __eq__(self, other):
        return isinstance(other, RecordedNetwork) and self.name == other.name and \
            self.data() == other.data()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "RecordedNetwork(%s, bridge=%s, %d rules)" % (self.name, self.bridge,
                                                             len(self.rules))


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
