# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall transactions with rollback, after libvirt's virFirewall.

A :class:`Firewall` holds groups. Each group has actions and rollback rules. ``apply()`` runs
the groups in order; when group *i* fails, the rollback rules of the groups from the earliest
one reached through ``inherit_previous`` up to *i* run in order (newest group first when any of
them records undos with ``auto_rollback``), every rule ignoring errors, and the original error is
raised. A rule's failure is ignored when the rule or its group says so.
A query rule's callback gets the rule's output lines and may add rules: they run at the end of
the current group. With ``auto_rollback``, each successful append/insert/new chain (or nft
``add rule``, through the handle nft echoes) records its own undo in the group's rollback.

Runs of rules without query callbacks that the backend can batch (one table of one layer for
``*-restore --noflush``, anything for ``nft -f``) run as one process. Each batch is atomic, so
when one fails its rules are replayed one by one: the failing rule, the ignored errors and the
state left behind are exactly those of per-rule application.
"""

from ansible_collections.virtkit.host.plugins.module_utils.firewall._backend import Backend
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._firewalld import (
    FirewalldBackend,
    firewalld_running,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import Group, Rule
from ansible_collections.virtkit.host.plugins.module_utils.firewall._nftables import (
    NftablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import (
    DryRunRunner,
    ProcessRunner,
)

BACKENDS = ("auto", "iptables", "nftables", "firewalld")
_DIRECT = {"iptables": (IptablesBackend, "iptables"), "nftables": (NftablesBackend, "nft")}


def resolve_backend(name, runner, bus_address=None, prefer=("nftables", "iptables")):
    """The backend name ``auto`` stands for on this host: firewalld when it owns its bus name,
    else the first of ``prefer`` whose tool is installed."""
    if name not in BACKENDS:
        raise FirewallError("unknown firewall backend %r (expected one of: %s)"
                            % (name, ", ".join(BACKENDS)))
    if name != "auto":
        return name
    if firewalld_running(bus_address):
        return "firewalld"
    for candidate in prefer:
        if runner.which(_DIRECT[candidate][1]) is not None:
            return candidate
    raise FirewallUnavailableError(
        "no firewall found: firewalld is not running and none of %s is installed"
        % ", ".join(_DIRECT[candidate][1] for candidate in prefer))


def _ignorable(error, rule, group, in_rollback):
    """Whether a rule's failure is ignored: always in a rollback; else when the rule or its
    group says so, unless the tool itself is missing."""
    return in_rollback or (not isinstance(error, FirewallUnavailableError)
                           and (rule.ignore_errors or group.ignore_errors))


class Firewall(object):
    """One set of transactions to apply.

    ``backend``: auto, iptables, nftables, firewalld, or a Backend instance. ``dry_run`` runs nothing and returns the
    commands it would run (query callbacks see no output). ``batch=False`` runs every rule as
    its own command. ``trace``, when set, is called with one line for every command run and
    every error ignored; when it is None nothing is formatted.
    """

    def __init__(self, backend="auto", dry_run=False, batch=True, runner=None, bus_address=None,
                 trace=None, prefer=("nftables", "iptables")):
        if isinstance(backend, Backend):
            self._backend = backend  # a ready backend: tests, or callers with their own runner
        else:
            if runner is None:
                runner = DryRunRunner() if dry_run else ProcessRunner()
            name = resolve_backend(backend, runner, bus_address, prefer)
            if name == "firewalld":
                self._backend = FirewalldBackend(runner, bus_address, batch=batch)
            else:
                self._backend = _DIRECT[name][0](runner, batch=batch)
        self.backend_name = self._backend.name
        self.dry_run = self._backend.dry_run
        self._trace = trace
        self._groups = []
        self._current = None  # the group rules are added to
        self._commands = []
        self._applied = False

    @property
    def syntax(self):
        """The rule language this firewall takes: "iptables" or "nft"."""
        return self._backend.syntax

    # Building -------------------------------------------------------------------------------

    def start_transaction(self, ignore_errors=False, auto_rollback=False):
        """Start a group; the rules added next are its actions."""
        self._current = Group(ignore_errors=ignore_errors, auto_rollback=auto_rollback)
        self._groups.append(self._current)
        return self._current

    def start_rollback(self, inherit_previous=False):
        """The rules added next undo the current group if it (or a later group that inherits
        it) fails. ``inherit_previous``: this group's failure also rolls back the group
        before it (and, through it, further back)."""
        if self._current is None:
            raise FirewallError("start_rollback() needs a transaction: call start_transaction() first")
        self._current.adding_rollback = True
        self._current.inherit_previous = inherit_previous

    def add_rule(self, layer, *args, ignore_errors=False, query=None, undo=None):
        """Add one rule to the current group; returns it for remove_rule().

        ``undo``: what undoes the rule once it succeeded, as a list of argument lists of the
        same layer in the order to run them. A group with ``auto_rollback`` records it (instead
        of the undo the backend would derive) when the rule succeeds: deletions carry the
        re-insertion of what they delete, so that their failure, or a later one, puts it back.
        """
        if self._current is None:
            raise FirewallError("add_rule() needs a transaction: call start_transaction() first")
        rule = Rule(layer, args, ignore_errors, query, undo)
        self._backend.check_rule(rule)
        if self._current.adding_rollback:
            self._current.rollback.append(rule)
        else:
            self._current.actions.append(rule)
        return rule

    def remove_rule(self, rule):
        """Take back a rule that was added and has not run yet."""
        for group in self._groups:
            for rules in (group.actions, group.rollback):
                for index, candidate in enumerate(rules):
                    if candidate is rule:
                        del rules[index]
                        return
        raise FirewallError("remove_rule(): %r is not in this firewall" % (rule,))

    # Applying -------------------------------------------------------------------------------

    def apply(self):
        """Apply every group; returns the Commands run, in order. On failure raises the
        FirewallError of the failing rule, with ``commands`` set, after the rollback ran."""
        if self._applied:
            raise FirewallError("this firewall was applied already: build a new one")
        self._applied = True
        self._commands = []
        try:
            for index, group in enumerate(self._groups):
                try:
                    self._current = group
                    group.adding_rollback = False  # query callbacks add actions
                    self._run(group.actions, group, in_rollback=False)
                except FirewallError as exc:
                    first = index
                    while first > 0 and self._groups[first].inherit_previous:
                        first -= 1
                    exc.undo_failed = self._roll_back(self._groups[first:index + 1])
                    exc.commands = self._commands
                    raise
        finally:
            self._current = None
            self._backend.close()
        return self._commands

    def rollback_rules(self):
        """After apply(): the rules that undo everything it did, in the order to run them
        (newest group first; each group's rollback as recorded). A confirmed change journals
        them for its revert."""
        return [rule for group in reversed(self._groups) for rule in group.rollback]

    def run_rollback(self, rules):
        """Run ``rules`` as a rollback runs: every error ignored, failed recorded undos retried
        while that makes progress. Returns the rules that could not be undone."""
        group = Group(auto_rollback=True)
        group.rollback = list(rules)
        try:
            return self._roll_back([group])
        finally:
            self._backend.close()

    def _roll_back(self, groups):
        """Run the rollback of ``groups`` in order. Undos recorded by auto_rollback that failed
        are then tried again while that makes progress: with forward order, an earlier group's
        undo (delete a chain) can need a later group's undo (empty that chain) to run first."""
        failed = []
        if any(group.auto_rollback for group in groups):
            # Recorded undos are exact inverses (a deletion's re-insertion names its position):
            # undone newest first, group by group, they restore each state in turn.
            groups = groups[::-1]
        for group in groups:
            self._run(group.rollback, group, True, failed)
        pending = [(rule, group) for rule, group in failed if rule.is_undo]
        while pending:
            failed = []
            if self._trace is not None:
                self._trace("retrying %d undo rule(s) after the rest of the rollback" % len(pending))
            for rule, group in pending:
                self._run_one(rule, group, True, failed)
            if len(failed) == len(pending):
                break
            pending = failed
        # What could not be undone: the host is not as it was.
        return [rule for rule, _group in pending]

    def _run(self, rules, group, in_rollback, failed=None):
        """Run ``rules`` in order, batching where the backend can. ``rules`` may grow while it
        runs (query callbacks add to the current group). Rules whose failure was ignored are
        added to ``failed`` as ``(rule, group)``."""
        index = 0
        while index < len(rules):
            rule = rules[index]
            key = self._batch_key(rule, group, in_rollback)
            end = index + 1
            if key is not None:
                while end < len(rules) and self._batch_key(rules[end], group, in_rollback) == key:
                    end += 1
            if end - index > 1:
                self._run_batch(rules[index:end], group, in_rollback, failed)
            else:
                self._run_one(rule, group, in_rollback, failed)
            index = end

    def _batch_key(self, rule, group, in_rollback):
        if rule.query is not None and not in_rollback:
            return None
        ignored = in_rollback or rule.ignore_errors or group.ignore_errors
        return self._backend.batch_key(rule, ignored, self._wants_undo(group, in_rollback))

    def _record_undo(self, group, rule, derived):
        """Put the undo of ``rule`` (its own, else ``derived`` from the backend) first in the
        group's rollback: the newest change is undone first."""
        if rule.undo_args is not None:
            derived = [Rule.undo(rule.layer, args) for args in rule.undo_args]
        group.rollback[0:0] = derived

    def _wants_undo(self, group, in_rollback):
        return group.auto_rollback and not in_rollback

    def _run_batch(self, rules, group, in_rollback, failed):
        echo = self._wants_undo(group, in_rollback)
        try:
            result = self._backend.run_batch(rules, echo)
        except FirewallUnavailableError as exc:
            if in_rollback:
                self._ignored(exc)
                return
            raise
        except FirewallError as exc:
            # Nothing of an atomic batch was applied: replaying it rule by rule gives the exact
            # per-rule outcome, failing rule and ignored errors included.
            self._ignored(exc, "batch failed, replaying it rule by rule")
            for rule in rules:
                self._run_one(rule, group, in_rollback, failed)
            return
        if not self._backend.atomic_batches:
            self._pipelined(rules, result, group, in_rollback, echo, failed)
            return
        command, output = result
        self._ran(command)
        if echo and not self.dry_run:
            for rule, derived in zip(rules, self._backend.undo_batch(rules, output)):
                self._record_undo(group, rule, derived)

    def _pipelined(self, rules, results, group, in_rollback, echo, failed):
        """Account for a pipeline as if its rules had run one by one. Its batch key promised
        that rules run past a failure are either ignored failures or undone by the rollback."""
        failure = None
        for rule, (command, outcome) in zip(rules, results):
            if not isinstance(outcome, FirewallError):
                self._ran(command)
                if echo and not self.dry_run:
                    self._record_undo(group, rule, self._backend.undo(rule, outcome))
            elif failure is None and _ignorable(outcome, rule, group, in_rollback):
                self._ignored(outcome)
                if failed is not None:
                    failed.append((rule, group))
            elif failure is None:
                failure = outcome
                self._commands.append(command)
                if self._trace is not None:
                    self._trace("failed: %s" % outcome)
            else:
                self._ignored(outcome, "ran past the failure")
        if failure is not None:
            raise failure

    def _run_one(self, rule, group, in_rollback, failed=None):
        echo = self._wants_undo(group, in_rollback)
        try:
            command, output = self._backend.run_one(rule, echo)
        except FirewallUnavailableError as exc:
            if in_rollback:
                self._ignored(exc)
                return
            raise
        except FirewallError as exc:
            if _ignorable(exc, rule, group, in_rollback):
                self._ignored(exc)
                if failed is not None:
                    failed.append((rule, group))
                return
            if exc.command is not None:
                self._commands.append(exc.command)
            if self._trace is not None:
                self._trace("failed: %s" % exc)
            raise
        self._ran(command)
        if echo and not self.dry_run:
            self._record_undo(group, rule, self._backend.undo(rule, output))
        if rule.query is not None and not in_rollback:
            # Lines end at "\n" only: str.splitlines() would also cut a listed comment at
            # U+2028, a form feed or a vertical tab.
            rule.query(self, rule.layer, output.rstrip("\n").split("\n") if output else [])

    def _ran(self, command):
        self._commands.append(command)
        if self._trace is not None:
            self._trace("ran: %s" % command)

    def _ignored(self, exc, what="ignored"):
        if exc.command is not None:
            self._commands.append(exc.command)
        if self._trace is not None:
            self._trace("%s: %s" % (what, exc))
