# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain data of the engine: layers, rules, groups and the record of a command that ran."""

import shlex

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError

LAYER_ETHERNET = "ethernet"
LAYER_IPV4 = "ipv4"
LAYER_IPV6 = "ipv6"
LAYERS = (LAYER_ETHERNET, LAYER_IPV4, LAYER_IPV6)


class Rule(object):
    """One firewall command: its layer and its arguments, without the tool's name."""

    __slots__ = ("layer", "args", "ignore_errors", "query", "is_undo", "prepared", "undo_args")

    def __init__(self, layer, args, ignore_errors=False, query=None, undo=None):
        if layer not in LAYERS:
            raise FirewallError("unknown firewall layer %r (expected one of: %s)"
                                % (layer, ", ".join(LAYERS)))
        if not args:
            raise FirewallError("empty rule for layer %s: a rule needs at least one argument"
                                % layer)
        for arg in args:
            if not isinstance(arg, str):
                raise FirewallError("rule argument %r for layer %s is a %s, not a string"
                                    % (arg, layer, type(arg).__name__))
            if "\0" in arg:
                raise FirewallError("rule argument %r for layer %s contains a NUL byte"
                                    % (arg, layer))
        if query is not None and not callable(query):
            raise FirewallError("query for rule %r is not callable" % " ".join(args))
        self.layer = layer
        self.args = tuple(args)
        self.ignore_errors = ignore_errors
        self.query = query
        self.is_undo = False  # recorded by auto_rollback, not written by the caller
        self.prepared = None  # the backend's batch form of the rule, computed once
        # What undoes this rule, given by the caller before it runs (a deletion's re-insertion at
        # its position): argument tuples of the same layer, in the order to run them. None: the
        # backend derives the undo (appends, inserts, new chains) when the group asks for it.
        self.undo_args = None if undo is None else [tuple(words) for words in undo]
        for words in self.undo_args or ():
            if not words or not all(isinstance(word, str) and "\0" not in word for word in words):
                raise FirewallError("undo %r of rule %s is not a list of non-empty argument "
                                    "lists of strings" % (undo, " ".join(args)))

    @classmethod
    def undo(cls, layer, args):
        """A rule recorded by auto_rollback to undo one that succeeded."""
        rule = cls(layer, args, ignore_errors=True)
        rule.is_undo = True
        return rule

    def __repr__(self):
        return "Rule(%s: %s)" % (self.layer, " ".join(self.args))


class Group(object):
    """A transaction: rules applied in order, and the rollback that undoes them on failure."""

    __slots__ = ("actions", "rollback", "ignore_errors", "auto_rollback", "inherit_previous",
                 "adding_rollback")

    def __init__(self, ignore_errors=False, auto_rollback=False):
        self.actions = []
        self.rollback = []
        self.ignore_errors = ignore_errors
        self.auto_rollback = auto_rollback
        self.inherit_previous = False
        self.adding_rollback = False


class Command(object):
    """What the engine ran: an argv (tool name without its path), optional standard input,
    and the transport ("exec" for a process, "firewalld" for a DBus passthrough call)."""

    __slots__ = ("argv", "input", "transport")

    def __init__(self, argv, input=None, transport="exec"):  # pylint: disable=redefined-builtin
        self.argv = list(argv)
        self.input = input
        self.transport = transport

    def __eq__(self, other):
        return (isinstance(other, Command) and self.argv == other.argv
                and self.input == other.input and self.transport == other.transport)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "Command(%r)" % str(self)

    def __str__(self):
        text = " ".join(shlex.quote(arg) for arg in self.argv)
        if self.transport == "firewalld":
            text = "firewalld passthrough: " + text
        if self.input is not None:
            text += " <<EOF\n" + self.input + "EOF"
        return text

    def to_dict(self):
        """The command as plain data, for module results."""
        data = {"argv": list(self.argv)}
        if self.input is not None:
            data["input"] = self.input
        if self.transport != "exec":
            data["via"] = self.transport
        return data
