# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules' planners share: the backend they work through, a reader whose queries
run even in check mode (planning needs the real state), and a writer that runs nothing in
check mode."""

import contextlib
import errno
import fcntl
import os
import time

from ansible_collections.virtkit.host.plugins.module_utils.firewall._restore import split_line
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import (
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


# One lock for every task of the collection that reads netfilter's state and then changes it:
# two runs that plan from the same state and both apply would duplicate or lose rules.
LOCK_PATH = "/run/virtkit.host.firewall.lock"  # /run: root's alone (/run/lock is world-writable)
LOCK_TIMEOUT = 300.0


@contextlib.contextmanager
def host_lock(path=LOCK_PATH, timeout=LOCK_TIMEOUT, trace=None):
    """Hold the host's firewall lock (an flock on ``path``) for the block; waits up to
    ``timeout`` seconds for another run to finish."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise FirewallUnavailableError(
                    "another run has held the firewall lock %s for over %d s" % (path, timeout))
            if trace is not None and not waited:
                trace("waiting for the firewall lock %s" % path)
            waited = True
            time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def iptables_reinsert(table, listed, position=None):
    """Arguments that put back a rule that ``--list-rules`` (or ebtables' listing) showed as
    ``listed`` ("-A CHAIN words..."): at ``position`` (1-based) or, without one, at the end."""
    words = split_line(listed)
    chain, rest = words[1], tuple(words[2:])
    if position is None:
        return ("-t", table, "-A", chain) + rest
    return ("-t", table, "-I", chain, str(position)) + rest


def nft_reinsert(prefix, text, position):
    """Arguments that put back, at ``position`` (0-based) of the chain ``prefix`` (family,
    table, chain), a rule nft listed as ``text``."""
    if position == 0:
        return ("insert", "rule") + tuple(prefix) + (text,)
    return ("add", "rule") + tuple(prefix) + ("index", str(position - 1), text)


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
        self.writers = []  # the firewalls writer() made: their recorded undo reverts the task

    def locked(self):
        """The host's firewall lock, held from reading the state to applying the change."""
        return host_lock(trace=self.trace)

    def reader(self):
        """A firewall with one transaction open, for query rules; run it with ``read``."""
        fw = Firewall(self.backend, runner=self.runner, bus_address=self.bus_address,
                      batch=False, trace=self.trace)
        fw.start_transaction()
        return fw

    def read(self, fw):
        self.queries += fw.apply()

    def writer(self):
        fw = Firewall(self.backend, dry_run=self.check_mode,
                      runner=None if self.check_mode else self.runner,
                      bus_address=self.bus_address, batch=self.batch, trace=self.trace)
        self.writers.append(fw)
        return fw
