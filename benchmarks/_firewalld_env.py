# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld for benchmarks/firewalld.py: a fresh network namespace, a private system bus and a
firewalld with its own /run, composed from the test harness's pieces (tests/integration/harness.py,
as benchmarks/firewall_apply.py uses them)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

from harness import Firewalld, NetworkNamespace, PrivateBus  # noqa: E402  pylint: disable=wrong-import-position


class FirewalldEnvironment(object):
    """``with FirewalldEnvironment() as env:`` a fresh namespace, a private bus, firewalld; the
    caller's thread (and what it starts) is in the namespace inside the block."""

    def __init__(self, backend="nftables"):
        self.backend = backend
        self.bus = self.netns = self.firewalld = None

    def __enter__(self):
        self.bus = PrivateBus()
        self.netns = NetworkNamespace()
        self.netns.__enter__()
        try:
            self.firewalld = Firewalld(self.bus, self.backend)
        except Exception:
            self.netns.__exit__()
            self.bus.stop()
            raise
        return self

    @property
    def address(self):
        return self.bus.address

    def __exit__(self, *exc):
        try:
            self.firewalld.stop()
        finally:
            try:
                self.netns.__exit__()
            finally:
                self.bus.stop()
