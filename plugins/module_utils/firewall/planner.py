# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules' planners share: the backend they work through, a reader whose queries
run even in check mode (planning needs the real state), and a writer that runs nothing in
check mode."""

from ansible_collections.virtkit.host.plugins.module_utils.firewall.runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils.firewall.transaction import (
    Firewall,
    resolve_backend,
)


def first_repeated(values):
    """The first value that comes a second time (a bridge or interface named twice in one
    task), or None."""
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


class EnginePlanner(object):
    def __init__(self, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None, prefer=("nftables", "iptables")):
        self.runner = runner or ProcessRunner()
        self.bus_address = bus_address
        self.backend = resolve_backend(backend, self.runner, bus_address, prefer)
        self.check_mode = check_mode
        self.batch = batch
        self.trace = trace
        self.queries = []  # the read-only commands run, for the module's result

    def reader(self):
        """A firewall with one transaction open, for query rules; run it with ``read``."""
        fw = Firewall(self.backend, runner=self.runner, bus_address=self.bus_address,
                      batch=False, trace=self.trace)
        fw.start_transaction()
        return fw

    def read(self, fw):
        self.queries += fw.apply()

    def writer(self):
        return Firewall(self.backend, dry_run=self.check_mode,
                        runner=None if self.check_mode else self.runner,
                        bus_address=self.bus_address, batch=self.batch, trace=self.trace)
