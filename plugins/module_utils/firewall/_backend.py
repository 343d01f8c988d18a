# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backend does: run one rule, run a batch, and say how to undo what it ran."""

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import Command


class Backend(object):
    """Base class. ``syntax`` names the rule language callers must speak to it."""

    name = None
    syntax = None
    # True: a failed batch applied nothing (restore files, nft -f). False: a batch is a pipeline
    # of separate commands, each with its own result (firewalld DBus calls).
    atomic_batches = True

    def __init__(self, runner):
        self.runner = runner

    @property
    def dry_run(self):
        return self.runner.dry_run

    def batch_key(self, rule, ignored, undoable):  # pylint: disable=unused-argument
        """Rules with the same non-None key, one after another, may run as one batch.
        ``ignored``: the rule's failure is ignored; ``undoable``: its group records undos."""
        return None

    def run_one(self, rule, echo):
        """Run one rule; ``echo`` asks for the output that ``undo`` needs. Returns
        ``(Command, output)`` or raises FirewallError carrying the Command."""
        raise NotImplementedError

    def run_batch(self, rules, echo):
        """Run rules sharing one batch key. Atomic backends return ``(Command, output)`` or
        raise having applied nothing; others return ``[(Command, output or FirewallError)]``,
        one per rule, in order."""
        raise NotImplementedError

    def undo(self, rule, output):  # pylint: disable=unused-argument
        """Rules that undo ``rule`` after it succeeded with ``output``, in the order to run them."""
        return []

    def undo_batch(self, rules, output):
        """Likewise for a batch: one list per rule, in the rules' order. By default each rule's
        undo depends on its arguments only."""
        return [self.undo(rule, None) for rule in rules]

    def check_rule(self, rule):
        """Refuse, with a FirewallError, a rule that the tool would not read as one command of
        the rule's words (called when the rule is added, before anything runs)."""

    def close(self):
        """Release what the backend holds open (a DBus connection)."""

    def execute(self, argv, stdin_text=None):
        """Run a process; a non-zero exit becomes a FirewallError naming the command."""
        command = Command(argv, stdin_text)
        try:
            status, out, err = self.runner.run(argv, stdin_text)
        except FirewallUnavailableError as exc:
            exc.command = command
            raise
        except OSError as exc:
            raise FirewallUnavailableError("%s: cannot run: %s" % (argv[0], exc), command=command)
        if status != 0:
            raise FirewallError(
                "%s failed (exit status %d): %s" % (command, status, _tool_message(err or out)),
                command=command, status=status, stderr=err)
        return command, out


def _tool_message(text):
    """The tool's error without the usage hint iptables appends to it."""
    return "\n".join(line for line in text.strip().splitlines()
                     if not line.startswith("Try `")).strip()
