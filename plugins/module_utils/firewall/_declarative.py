# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declared chains and rules (iptables syntax) brought to their wanted state in one
transaction: one state read per table, a comparison in the tools' own spelling, and only what
differs applied, with automatic rollback."""

import shlex

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import LAYERS
from ansible_collections.virtkit.host.plugins.module_utils.firewall._nftables import (
    command_problem,
    split_words,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import (
    EnginePlanner,
    iptables_reinsert,
    nft_reinsert,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import (
    BUILTIN_CHAINS,
    canonical_iptables,
    canonical_nft,
    parse_ebtables_list,
    parse_list_rules,
    parse_nft_table,
)

TABLES = {"ipv4": ("filter", "nat", "mangle", "raw", "security"),
          "ipv6": ("filter", "nat", "mangle", "raw", "security"),
          "ethernet": ("filter", "nat", "broute")}


NFT_FAMILY_OF_LAYER = {"ipv4": "ip", "ipv6": "ip6", "ethernet": "bridge"}
NFT_FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
_NFT_VERBS = ("add", "insert", "delete", "create", "replace", "rule", "table", "chain", "flush",
              "list", "rename", "reset", "destroy", "include", "define", "redefine", "undefine")
# Options that make a rule another command, or move it to another table, in a tool's argv or
# in a *-restore line: a declared rule gives only its match and target.
_IPTABLES_COMMANDS = frozenset((
    "-A", "--append", "-I", "--insert", "-D", "--delete", "-R", "--replace", "-N", "--new-chain",
    "-X", "--delete-chain", "-F", "--flush", "-P", "--policy", "-E", "--rename-chain", "-Z",
    "--zero", "-L", "--list", "-S", "--list-rules", "-C", "--check", "--change-counters",
    "--init-table", "--atomic-commit", "--atomic-init", "--atomic-save", "--atomic-file",
    "-t", "--table"))


class DeclaredRule(object):
    """A rule: match and target, without command, table or chain. ``syntax`` is "iptables"
    (tables filter, nat ...) or "nft" (any table of ``family``)."""

    def __init__(self, layer, table, chain, spec, position=None, state="present", where="rule",
                 syntax="iptables", family=None):
        if layer not in LAYERS:
            raise FirewallError("%s: layer %r is not one of %s" % (where, layer, ", ".join(LAYERS)))
        self.family = _check_table(layer, table, syntax, family, where)
        spec = _spec_words(spec, syntax, where)
        if syntax == "nft":
            if spec[0] in _NFT_VERBS:
                raise FirewallError("%s: rule %r must not start with an nft command: give only "
                                    "the statements (table, chain and position are options)"
                                    % (where, " ".join(spec)))
        else:
            command = next((word for word in spec if word in _IPTABLES_COMMANDS
                            or word.startswith("--table=")), None)
            if command is not None:
                raise FirewallError("%s: rule %r must not name a command or table (%s): give "
                                    "only the match and target (the chain, table and position "
                                    "are options)" % (where, " ".join(spec), command))
        _check_chain_name(chain, syntax, where + ".chain")
        if position is not None and position < 1:
            raise FirewallError("%s: position %r must be 1 or more" % (where, position))
        self.layer, self.table, self.chain, self.spec = layer, table, chain, spec
        self.position, self.state, self.where = position, state, where
        self.canonical = None


class DeclaredChain(object):
    def __init__(self, layer, table, name, state="present", where="chain", syntax="iptables",
                 family=None, spec=None):
        if layer not in LAYERS:
            raise FirewallError("%s: layer %r is not one of %s" % (where, layer, ", ".join(LAYERS)))
        self.family = _check_table(layer, table, syntax, family, where)
        _check_chain_name(name, syntax, where + ".name")
        if syntax == "iptables" and name in BUILTIN_CHAINS:
            raise FirewallError("%s.name: %r is a built-in chain, not a user chain" % (where, name))
        if spec is not None:
            if syntax != "nft":
                raise FirewallError("%s: a chain spec (type, hook, priority) is for nft chains "
                                    "only" % where)
            problem = command_problem([spec])
            if problem is None and not (spec.strip().startswith("{")
                                        and spec.strip().endswith("}")):
                problem = "is not a block in braces: { type ... hook ... priority ...; }"
            if problem is not None:
                raise FirewallError("%s.spec: %r %s" % (where, spec, problem))
        self.layer, self.table, self.name, self.state, self.spec = layer, table, name, state, spec


def _spec_words(spec, syntax, where):
    """A rule's words: a list as given, or a string split as the tool's parser splits it
    (shell-like quoting for iptables; nft keeps its double-quoted strings whole), each word
    checked, and for nft the whole checked to be one command."""
    if isinstance(spec, str):
        try:
            vocabulary.text(spec, "%s.rule" % where, max_length=8192, allow_empty=True)
        except vocabulary.InvalidValue as exc:
            raise FirewallError(str(exc))
        if syntax == "nft":
            spec = split_words(spec)
        else:
            try:
                spec = shlex.split(spec)
            except ValueError as exc:
                raise FirewallError("%s.rule: %r does not parse: %s" % (where, spec, exc))
    if not isinstance(spec, (list, tuple)):
        raise FirewallError("%s.rule: %r is a %s, not a string or a list of words"
                            % (where, spec, type(spec).__name__))
    words = []
    for index, word in enumerate(spec):
        if isinstance(word, (int, float)) and not isinstance(word, bool):
            word = str(word)  # YAML reads a port as a number
        try:
            words.append(vocabulary.text(word, "%s.rule[%d]" % (where, index), max_length=1024,
                                         allow_empty=syntax != "nft"))
        except vocabulary.InvalidValue as exc:
            raise FirewallError(str(exc))
    if not words:
        raise FirewallError("%s: the rule is empty" % where)
    for before, word in zip(words, words[1:]):
        # iptables cuts a longer comment to 255 bytes: the rule would never compare equal.
        if syntax != "nft" and before == "--comment" and len(word.encode("utf-8")) > 255:
            raise FirewallError("%s.rule: comment %r is longer than the 255 bytes iptables keeps"
                                % (where, word[:40] + "..."))
    if syntax == "nft":
        problem = command_problem(words)
        if problem is not None:
            raise FirewallError("%s.rule: %r %s" % (where, " ".join(words), problem))
    return tuple(words)


def _check_chain_name(name, syntax, field):
    try:
        (vocabulary.nft_identifier if syntax == "nft" else vocabulary.chain)(name, field)
    except vocabulary.InvalidValue as exc:
        raise FirewallError(str(exc))


def _check_table(layer, table, syntax, family, where):
    """The nft family of a table (None for iptables), after checking the names."""
    if syntax == "nft":
        family = family or NFT_FAMILY_OF_LAYER[layer]
        if family not in NFT_FAMILIES:
            raise FirewallError("%s: nft family %r is not one of %s"
                                % (where, family, ", ".join(NFT_FAMILIES)))
        _check_chain_name(table, syntax, where + ".table")
        return family
    if family is not None:
        raise FirewallError("%s: family is for the nftables backend only" % where)
    if table not in TABLES[layer]:
        raise FirewallError("%s: table %r is not a %s table (%s)"
                            % (where, table, layer, ", ".join(TABLES[layer])))
    return None


class RuleSet(EnginePlanner):
    """Plans and applies declared chains and rules on this host. ``syntax`` follows the
    backend: nft for nftables, iptables for the others."""

    def __init__(self, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None):
        # The rules are iptables syntax unless nftables is asked for by name.
        super(RuleSet, self).__init__(backend, check_mode, batch, bus_address, trace, runner,
                                      prefer=("iptables", "nftables"))
        self.syntax = "nft" if self.backend == "nftables" else "iptables"
        self.state = {}

    def _read(self, tables):
        fw = self.reader()
        for layer, table in sorted(tables):
            if layer == "ethernet":
                def keep(_fw, _layer, lines, table=table):
                    self.state[("ethernet", table)] = parse_ebtables_list(lines)
                fw.add_rule(layer, "-t", table, "-L", query=keep)
            else:
                def keep(_fw, rule_layer, lines, table=table):
                    self.state[(rule_layer, table)] = parse_list_rules(lines)
                fw.add_rule(layer, "--table", table, "--list-rules", query=keep)
        self.read(fw)

    def _read_nft(self, tables):
        fw = self.reader()
        for family, table in sorted(tables):
            self.state[(family, table)] = None  # stays None when the table does not exist

            def keep(_fw, _layer, lines, key=(family, table)):
                self.state[key] = parse_nft_table("\n".join(lines))
            fw.add_rule("ipv4", "-a", "list", "table", family, table, query=keep,
                        ignore_errors=True)
        self.read(fw)

    def plan(self, chains, rules):
        """Returns (changes, touched): the engine rules to run, as (additions, removals) lists
        of (layer, args), and the chains whose listing changes,
        {(layer or family, table, chain): (before, after)}."""
        if self.syntax == "nft":
            return self._plan_nft(chains, rules)
        self._read({(c.layer, c.table) for c in chains} | {(r.layer, r.table) for r in rules})
        for layer in LAYERS:
            wanted = [r for r in rules if r.layer == layer]
            if not wanted:
                continue
            known = {}
            for (state_layer, table), state in self.state.items():
                if state_layer == layer:
                    known[table] = set(state.chains)
            for chain in chains:
                if chain.layer == layer:
                    known.setdefault(chain.table, set()).add(chain.name)
            canonical = canonical_iptables(layer, [(r.table, r.chain, r.spec) for r in wanted],
                                           known)
            for rule, text in zip(wanted, canonical):
                rule.canonical = text
        listing = {key: {chain: list(lines) for chain, lines in state.rules.items()}
                   for key, state in self.state.items()}
        existing = {key: set(state.chains) for key, state in self.state.items()}
        plan = _Plan(listing)
        for chain in chains:
            key = (chain.layer, chain.table)
            if chain.state == "present" and chain.name not in existing[key]:
                plan.touch(key, chain.name)
                existing[key].add(chain.name)
                plan.create.append((chain.layer, ("-t", chain.table, "-N", chain.name)))
        # Additions run before deletions: planned in that order, each deletion sees the chain
        # as it will be when it runs, and records where to put back what it deletes.
        for rule in _additions_first(rules):
            key = (rule.layer, rule.table)
            lines = listing[key].get(rule.chain, [])
            if rule.state == "present":
                if rule.canonical in lines:
                    continue
                if rule.chain not in BUILTIN_CHAINS and rule.chain not in existing[key]:
                    existing[key].add(rule.chain)
                    plan.create.append((rule.layer, ("-t", rule.table, "-N", rule.chain)))
                lines = plan.touch(key, rule.chain)
                if rule.position is None:
                    lines.append(rule.canonical)
                    plan.add.append((rule.layer, ("-t", rule.table, "-A", rule.chain) + rule.spec))
                else:
                    lines.insert(rule.position - 1, rule.canonical)
                    plan.add.append((rule.layer, ("-t", rule.table, "-I", rule.chain,
                                                  str(rule.position)) + rule.spec))
            else:
                while rule.canonical in lines:
                    lines = plan.touch(key, rule.chain)
                    position = lines.index(rule.canonical)
                    del lines[position]
                    plan.delete.append((rule.layer, ("-t", rule.table, "-D", rule.chain)
                                        + rule.spec,
                                        [iptables_reinsert(rule.table, rule.canonical,
                                                           position + 1)]))
        for chain in chains:
            key = (chain.layer, chain.table)
            if chain.state == "absent" and chain.name in existing[key]:
                plan.touch(key, chain.name)
                lines = listing[key].pop(chain.name, None) or []
                plan.drop.append((chain.layer, ("-t", chain.table, "-F", chain.name),
                                  [iptables_reinsert(chain.table, line) for line in lines]))
                policy = self.state[key].policies.get(chain.name)  # ebtables chains have one
                plan.drop.append((chain.layer, ("-t", chain.table, "-X", chain.name),
                                  [("-t", chain.table, "-N", chain.name)
                                   + (("-P", policy) if policy else ())]))
        return plan.result()

    def _plan_nft(self, chains, rules):
        self._read_nft({(c.family, c.table) for c in chains} | {(r.family, r.table) for r in rules})
        # The scratch namespace needs the tables and chains as the host has them (or will).
        setup = []
        declared = {}
        for (family, table), state in self.state.items():
            setup.append(("add", "table", family, table))
            for name in (state.chains if state is not None else ()):
                declared[(family, table, name)] = state.declarations.get(name)
        for chain in chains:
            declared.setdefault((chain.family, chain.table, chain.name), chain.spec)
        for rule in rules:
            declared.setdefault((rule.family, rule.table, rule.chain), None)
        for (family, table, name), spec in sorted(declared.items()):
            setup.append(("add", "chain", family, table, name) + ((spec,) if spec else ()))
        interfaces = sorted({word for rule in rules for before, word in zip(rule.spec, rule.spec[1:])
                             if before in ("iif", "oif")})
        canonical = canonical_nft(setup, [(r.family, r.table, r.chain, r.spec) for r in rules],
                                  interfaces)
        for rule, text in zip(rules, canonical):
            rule.canonical = text
        listing = {}
        handles = {}
        for key, state in self.state.items():
            listing[key] = {name: [text for text, _handle in entries]
                            for name, entries in (state.chains.items() if state else ())}
            handles[key] = {name: list(entries)
                            for name, entries in (state.chains.items() if state else ())}
        plan = _Plan(listing)
        tables = {key for key, state in self.state.items() if state is not None}

        def ensure_chain(family, table, name, spec):
            key = (family, table)
            if key not in tables:
                tables.add(key)
                plan.create.append((LAYER_OF_FAMILY.get(family, "ipv4"),
                                    ("create", "table", family, table)))
            if name not in listing[key]:
                plan.touch(key, name)
                plan.create.append((LAYER_OF_FAMILY.get(family, "ipv4"),
                                    ("create", "chain", family, table, name)
                                    + ((spec,) if spec else ())))

        for chain in chains:
            if chain.state == "present":
                ensure_chain(chain.family, chain.table, chain.name, chain.spec)
        for rule in _additions_first(rules):
            key = (rule.family, rule.table)
            prefix = (rule.family, rule.table, rule.chain)
            if rule.state == "present":
                if rule.canonical in listing[key].get(rule.chain, []):
                    continue
                ensure_chain(rule.family, rule.table, rule.chain, None)
                lines = plan.touch(key, rule.chain)
                if rule.position is None:
                    lines.append(rule.canonical)
                    plan.add.append((rule.layer, ("add", "rule") + prefix + rule.spec))
                elif rule.position == 1:
                    lines.insert(0, rule.canonical)
                    plan.add.append((rule.layer, ("insert", "rule") + prefix + rule.spec))
                else:
                    lines.insert(rule.position - 1, rule.canonical)
                    plan.add.append((rule.layer, ("insert", "rule") + prefix +
                                     ("index", str(rule.position - 1)) + rule.spec))
            else:
                for text, handle in list(handles[key].get(rule.chain, [])):
                    if text == rule.canonical:
                        handles[key][rule.chain].remove((text, handle))
                        lines = plan.touch(key, rule.chain)
                        # The chain as it is when the deletion runs (this task's additions
                        # included): the first rule of this text is the one deleted.
                        position = lines.index(text)
                        del lines[position]
                        plan.delete.append((rule.layer, ("delete", "rule") + prefix
                                            + ("handle", handle),
                                            [nft_reinsert(prefix, text, position)]))
        for chain in chains:
            key = (chain.family, chain.table)
            if chain.state == "absent" and chain.name in listing.get(key, {}):
                plan.touch(key, chain.name)
                lines = listing[key].pop(chain.name, None) or []
                layer = LAYER_OF_FAMILY.get(chain.family, "ipv4")
                prefix = (chain.family, chain.table, chain.name)
                plan.drop.append((layer, ("flush", "chain") + prefix,
                                  [("add", "rule") + prefix + (line,) for line in lines]))
                declaration = self.state[key].declarations.get(chain.name)
                plan.drop.append((layer, ("delete", "chain") + prefix,
                                  [("add", "chain") + prefix
                                   + ((declaration,) if declaration else ())]))
        return plan.result()

    def apply(self, changes):
        additions, removals = changes
        if not additions and not removals:
            return []
        fw = self.writer()
        if additions:
            fw.start_transaction(auto_rollback=True)
            for layer, args in additions:
                fw.add_rule(layer, *args)
        if removals:
            # Each deletion carries the re-insertion of what it deletes; a failure puts back
            # what was deleted and rolls back the additions before them.
            fw.start_transaction(auto_rollback=True)
            for layer, args, undo in removals:
                fw.add_rule(layer, *args, undo=undo)
            fw.start_rollback(inherit_previous=bool(additions))
        return fw.apply()


LAYER_OF_FAMILY = {"ip": "ipv4", "ip6": "ipv6", "bridge": "ethernet"}


def _additions_first(rules):
    """The declared rules in the order their commands run: additions, then deletions."""
    return ([rule for rule in rules if rule.state == "present"]
            + [rule for rule in rules if rule.state != "present"])


class _Plan(object):
    """Commands planned so far and the listings they lead to, chain by chain."""

    def __init__(self, listing):
        self.listing = listing
        self.before = {}
        self.create, self.add, self.delete, self.drop = [], [], [], []

    def touch(self, key, chain):
        """The listing of a chain about to change (remembering how it was)."""
        if key + (chain,) not in self.before:
            self.before[key + (chain,)] = list(self.listing[key].get(chain, []))
        return self.listing[key].setdefault(chain, [])

    def result(self):
        touched = {key: (lines, self.listing[key[:2]].get(key[2]))
                   for key, lines in self.before.items()}
        return (self.create + self.add, self.delete + self.drop), touched
