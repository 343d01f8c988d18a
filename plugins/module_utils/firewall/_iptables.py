# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables family: iptables, ip6tables and ebtables run directly, and the
``*-restore --noflush`` batch path."""

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _restore
from ansible_collections.virtkit.host.plugins.module_utils.firewall._backend import Backend
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_ETHERNET,
    LAYER_IPV4,
    LAYER_IPV6,
    Rule,
)

# layer -> (tool, lock option, restore tool)
TOOLS = {
    LAYER_IPV4: ("iptables", "-w", "iptables-restore"),
    LAYER_IPV6: ("ip6tables", "-w", "ip6tables-restore"),
    LAYER_ETHERNET: ("ebtables", "--concurrent", "ebtables-restore"),
}

_APPEND = ("-A", "--append")
_INSERT = ("-I", "--insert")
_NEW_CHAIN = ("-N", "--new-chain")
# Commands that change state and mean the same in a restore file as on the command line.
# Queries (-L, -S, --check; ebtables' -C changes counters) always run on their own.
_BATCHABLE = frozenset(_APPEND + _INSERT + _NEW_CHAIN + (
    "-D", "--delete", "-R", "--replace", "-X", "--delete-chain", "-F", "--flush",
    "-P", "--policy", "-E", "--rename-chain", "-Z", "--zero"))
_COMMANDS = _BATCHABLE | frozenset((
    "-L", "--list", "-S", "--list-rules", "-C", "--check", "--change-counters"))


def split_table(args):
    """``(table, other_args)``: the table a rule names (filter when none) and the rest."""
    table = "filter"
    rest = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in ("-t", "--table") and index + 1 < len(args):
            table = args[index + 1]
            skip = True
        elif arg.startswith("--table="):
            table = arg[len("--table="):]
        else:
            rest.append(arg)
    return table, rest


def find_command(args):
    """Index of the rule's command option (``-A``, ``--insert`` ...), or None."""
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in ("-t", "--table"):
            skip = True
        elif arg in _COMMANDS:
            return index
    return None


def undo_args(args):
    """Arguments that undo an append/insert (``--delete``) or a new chain (``--delete-chain``);
    None for anything else. The rest of the rule keeps its order and spelling."""
    index = find_command(args)
    if index is None or index + 1 >= len(args):
        return None
    command = args[index]
    if command in _NEW_CHAIN:
        # Only the table options carry over: ebtables' "-N CHAIN -P RETURN" is removed by "-X CHAIN".
        after = args[index + 2:]
        table_options = tuple(arg for position, arg in enumerate(after)
                              if arg in ("-t", "--table") or arg.startswith("--table=")
                              or (position > 0 and after[position - 1] in ("-t", "--table")))
        return args[:index] + ("-X" if command == "-N" else "--delete-chain",
                               args[index + 1]) + table_options
    if command in _APPEND or command in _INSERT:
        rest = args[index + 2:]
        if command in _INSERT and rest and rest[0].isdigit():
            rest = rest[1:]
        delete = "-D" if command in ("-A", "-I") else "--delete"
        return args[:index] + (delete, args[index + 1]) + rest
    return None


def restore_line(args):
    """``(table, line)`` for a restore file, or None when the rule must run as a process of its
    own: see :func:`_restore.rule_line`, the one spelling of the restore format."""
    return _restore.rule_line(args, _BATCHABLE)


class IptablesSyntaxBackend(Backend):
    """A backend that takes iptables-syntax rules, so an append or a new chain undoes itself."""

    syntax = "iptables"

    def undo(self, rule, output):
        args = undo_args(rule.args)
        return [] if args is None else [Rule.undo(rule.layer, args)]


class IptablesBackend(IptablesSyntaxBackend):
    """iptables / ip6tables / ebtables processes with their lock options."""

    name = "iptables"

    def __init__(self, runner, batch=True):
        super(IptablesBackend, self).__init__(runner)
        self._batch = batch
        self._restore_ok = {}

    def _can_restore(self, layer):
        try:
            return self._restore_ok[layer]
        except KeyError:
            pass
        tool, _lock, restore = TOOLS[layer]
        usable = self._batch and self.runner.which(restore) is not None
        if usable and layer == LAYER_ETHERNET:
            # ebtables-legacy-restore replaces whole tables and has no --noflush.
            status, out, _err = self.runner.probe([tool, "--version"])
            usable = status == 0 and "nf_tables" in out
        self._restore_ok[layer] = usable
        return usable

    def batch_key(self, rule, ignored, undoable):
        if not self._batch:
            return None
        line = rule.prepared
        if line is None:
            line = rule.prepared = restore_line(rule.args) or False
        if not line or not self._can_restore(rule.layer):
            return None
        return (rule.layer, line[0])

    def run_one(self, rule, echo):
        tool, lock, _restore = TOOLS[rule.layer]
        return self.execute([tool, lock] + list(rule.args))

    def run_batch(self, rules, echo):
        layer = rules[0].layer
        _tool, lock, restore = TOOLS[layer]
        # batch_key() prepared every rule of the batch, all for one table.
        lines = "\n".join(rule.prepared[1] for rule in rules)
        text = "*%s\n%s\nCOMMIT\n" % (rules[0].prepared[0], lines)
        argv = [restore, "--noflush"] if layer == LAYER_ETHERNET else [restore, lock, "--noflush"]
        return self.execute(argv, text)
