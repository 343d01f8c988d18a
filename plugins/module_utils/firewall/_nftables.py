# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend: ``nft`` with nft arguments; batches go through ``nft -f -``."""

import re

from ansible_collections.virtkit.host.plugins.module_utils.firewall._backend import Backend
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import Rule

FAMILIES = frozenset(("ip", "ip6", "inet", "arp", "bridge", "netdev"))
# Verbs that mean the same in a file as on the command line and print nothing.
_BATCH_VERBS = frozenset(("add", "insert", "create", "delete", "flush", "replace", "rename"))
# What `nft -e` prints for a rule it added: the rule, then "# handle N".
_ECHOED_RULE = re.compile(r"^(?:add|insert) rule (\S+) (\S+) (\S+) .*# handle (\d+)\s*$")


# nft reads "#" as the start of a comment to the end of the line and ";" or a line break as
# the end of a command, except inside a double-quoted string (nft has no escapes in strings);
# inside braces (a chain's "{ type ...; policy ...; }") ";" separates the block's parts.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def command_problem(args):
    """Why nft would not read ``args`` (joined with spaces, as nft joins them) as exactly one
    command of these words: a command separator, a comment sign or a line break outside a
    quoted string, an unterminated string, a control character. None when it would."""
    text = " ".join(args)
    control = _CONTROL.search(text)
    if control:
        return "contains the control character or line break %r" % control.group()
    quoted = False
    depth = 0
    for char in text:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "#":
            return "contains '#' outside a quoted string, which nft reads as a comment"
        elif char == ";" and depth == 0:
            return ("contains ';' outside braces and quotes, which nft reads as the end of a "
                    "command")
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return "closes a brace it did not open"
    if quoted:
        return "has a quoted string that does not end"
    if depth:
        return "opens a brace it does not close"
    return None


def split_words(text):
    """A rule's text split at white space outside double-quoted strings: a quoted string stays
    one word, its spaces kept (joined back with spaces, the words give nft the same text)."""
    result = []
    current = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                result.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        result.append("".join(current))
    return result


def words(args):
    """nft joins its arguments with spaces before parsing them; so do we."""
    return " ".join(args).split()


def adds_rule(args):
    """True for ``add rule`` / ``insert rule``: the rules whose undo needs nft's echoed handle."""
    tokens = words(args)
    return len(tokens) > 1 and tokens[0] in ("add", "insert") and tokens[1] == "rule"


def _object_undo(tokens):
    """``create table|chain`` fails when the object exists, so deleting it undoes exactly it.
    (``add table|chain`` succeeds on an existing object: deleting that would destroy what the
    transaction did not create, so it gets no automatic undo.)"""
    if len(tokens) < 3 or tokens[0] != "create" or tokens[1] not in ("table", "chain"):
        return None
    names = tokens[2:]
    family = "ip"
    if names[0] in FAMILIES:
        family, names = names[0], names[1:]
    count = 1 if tokens[1] == "table" else 2
    if len(names) < count:
        return None
    return ("delete", tokens[1], family) + tuple(names[:count])


def echoed_handles(output):
    """``delete rule`` arguments for each rule nft echoed, in the order it added them."""
    deletes = []
    for line in (output or "").splitlines():
        match = _ECHOED_RULE.match(line)
        if match:
            family, table, chain, handle = match.groups()
            deletes.append(("delete", "rule", family, table, chain, "handle", handle))
    return deletes


class NftablesBackend(Backend):
    name = "nftables"
    syntax = "nft"

    def __init__(self, runner, batch=True):
        super(NftablesBackend, self).__init__(runner)
        self._batch = batch

    def check_rule(self, rule):
        problem = command_problem(rule.args)
        if problem is not None:
            raise FirewallError("nft rule %r %s: refused" % (" ".join(rule.args), problem))

    def batch_key(self, rule, ignored, undoable):
        if not self._batch or rule.args[0].startswith("-"):
            return None
        tokens = words(rule.args)
        if not tokens or tokens[0] not in _BATCH_VERBS:
            return None
        # A newline or comment sign would change how a file line parses.
        if any("\n" in arg or "#" in arg for arg in rule.args):
            return None
        return "nft"

    def run_one(self, rule, echo):
        argv = ["nft"]
        if echo and adds_rule(rule.args):
            argv.append("-ae")
        return self.execute(argv + list(rule.args))

    def run_batch(self, rules, echo):
        argv = ["nft", "-ae", "-f", "-"] if echo else ["nft", "-f", "-"]
        return self.execute(argv, "".join(" ".join(rule.args) + "\n" for rule in rules))

    def undo(self, rule, output):
        return self.undo_batch([rule], output)[0]

    def undo_batch(self, rules, output):
        handles = echoed_handles(output)
        undo = []
        for rule in rules:
            if adds_rule(rule.args):
                if not handles:
                    raise FirewallError(
                        "nft did not echo the handle of the rule it added (%s); cannot record "
                        "its removal" % " ".join(rule.args))
                undo.append([Rule.undo(rule.layer, handles.pop(0))])
            else:
                args = _object_undo(words(rule.args))
                undo.append([] if args is None else [Rule.undo(rule.layer, args)])
        return undo
