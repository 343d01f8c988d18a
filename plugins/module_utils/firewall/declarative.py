# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declared chains and rules (iptables syntax) brought to their wanted state in one
transaction: one state read per table, a comparison in the tools' own spelling, and only what
differs applied, with automatic rollback."""

import shlex

from ansible_collections.virtkit.host.plugins.module_utils.firewall.errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall.model import LAYERS
from ansible_collections.virtkit.host.plugins.module_utils.firewall.runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils.firewall.state import (
    BUILTIN_CHAINS,
    canonical_iptables,
    parse_ebtables_list,
    parse_list_rules,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall.transaction import (
    Firewall,
    resolve_backend,
)

TABLES = {"ipv4": ("filter", "nat", "mangle", "raw", "security"),
          "ipv6": ("filter", "nat", "mangle", "raw", "security"),
          "ethernet": ("filter", "nat", "broute")}


class DeclaredRule(object):
    def __init__(self, layer, table, chain, spec, position=None, state="present", where="rule"):
        if layer not in LAYERS:
            raise FirewallError("%s: layer %r is not one of %s" % (where, layer, ", ".join(LAYERS)))
        if table not in TABLES[layer]:
            raise FirewallError("%s: table %r is not a %s table (%s)"
                                % (where, table, layer, ", ".join(TABLES[layer])))
        if isinstance(spec, str):
            try:
                spec = shlex.split(spec)
            except ValueError as exc:
                raise FirewallError("%s: rule %r does not parse: %s" % (where, spec, exc))
        spec = tuple(str(word) for word in spec)
        if not spec:
            raise FirewallError("%s: the rule is empty" % where)
        if any(word in ("-A", "--append", "-I", "--insert", "-D", "--delete", "-t", "--table")
               for word in spec):
            raise FirewallError("%s: rule %r must not name a command or table: give only the "
                                "match and target (the chain, table and position are options)"
                                % (where, " ".join(spec)))
        if not chain or any(char.isspace() for char in chain):
            raise FirewallError("%s: chain %r is not a chain name" % (where, chain))
        if position is not None and position < 1:
            raise FirewallError("%s: position %r must be 1 or more" % (where, position))
        self.layer, self.table, self.chain, self.spec = layer, table, chain, spec
        self.position, self.state, self.where = position, state, where
        self.canonical = None


class DeclaredChain(object):
    def __init__(self, layer, table, name, state="present", where="chain"):
        if layer not in LAYERS or table not in TABLES.get(layer, ()):
            raise FirewallError("%s: %s table %r does not exist" % (where, layer, table))
        if not name or name in BUILTIN_CHAINS or any(char.isspace() for char in name):
            raise FirewallError("%s: %r is not a user chain name" % (where, name))
        self.layer, self.table, self.name, self.state = layer, table, name, state


class RuleSet(object):
    """Plans and applies declared chains and rules on this host."""

    def __init__(self, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None):
        self.runner = runner or ProcessRunner()
        self.backend = resolve_backend(backend, self.runner, bus_address,
                                       prefer=("iptables", "nftables"))
        if self.backend == "nftables":
            raise FirewallError("backend nftables takes nft syntax; this module's rules are in "
                                "iptables syntax: use backend iptables (iptables-nft writes to "
                                "nftables) or firewalld")
        self.bus_address = bus_address
        self.check_mode = check_mode
        self.batch = batch
        self.trace = trace
        self.queries = []
        self.state = {}

    def _read(self, tables):
        fw = Firewall(self.backend, runner=self.runner, bus_address=self.bus_address,
                      batch=False, trace=self.trace)
        fw.start_transaction()
        for layer, table in sorted(tables):
            if layer == "ethernet":
                def keep(_fw, _layer, lines, table=table):
                    self.state[("ethernet", table)] = parse_ebtables_list(lines)
                fw.add_rule(layer, "-t", table, "-L", query=keep)
            else:
                def keep(_fw, rule_layer, lines, table=table):
                    self.state[(rule_layer, table)] = parse_list_rules(lines)
                fw.add_rule(layer, "--table", table, "--list-rules", query=keep)
        self.queries += fw.apply()

    def plan(self, chains, rules):
        """Returns (changes, touched): the engine rules to run as [(group, layer, args)] and the
        chains whose listing changes, {(layer, table, chain): (before, after)}."""
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
        before = {}

        def touch(layer, table, chain):
            key = (layer, table, chain)
            if key not in before:
                before[key] = list(listing[(layer, table)].get(chain, []))
            return listing[(layer, table)].setdefault(chain, [])

        create, add, delete, drop = [], [], [], []
        for chain in chains:
            present = chain.name in existing[(chain.layer, chain.table)]
            if chain.state == "present" and not present:
                touch(chain.layer, chain.table, chain.name)
                existing[(chain.layer, chain.table)].add(chain.name)
                create.append((chain.layer, ("-t", chain.table, "-N", chain.name)))
        for rule in rules:
            lines = listing[(rule.layer, rule.table)].get(rule.chain, [])
            if rule.state == "present":
                if rule.canonical in lines:
                    continue
                if (rule.chain not in BUILTIN_CHAINS
                        and rule.chain not in existing[(rule.layer, rule.table)]):
                    existing[(rule.layer, rule.table)].add(rule.chain)
                    create.append((rule.layer, ("-t", rule.table, "-N", rule.chain)))
                lines = touch(rule.layer, rule.table, rule.chain)
                if rule.position is None:
                    lines.append(rule.canonical)
                    add.append((rule.layer, ("-t", rule.table, "-A", rule.chain) + rule.spec))
                else:
                    lines.insert(rule.position - 1, rule.canonical)
                    add.append((rule.layer, ("-t", rule.table, "-I", rule.chain,
                                             str(rule.position)) + rule.spec))
            else:
                while rule.canonical in lines:
                    lines = touch(rule.layer, rule.table, rule.chain)
                    lines.remove(rule.canonical)
                    delete.append((rule.layer, ("-t", rule.table, "-D", rule.chain) + rule.spec))
        for chain in chains:
            if chain.state == "absent" and chain.name in existing[(chain.layer, chain.table)]:
                touch(chain.layer, chain.table, chain.name)
                listing[(chain.layer, chain.table)].pop(chain.name, None)
                drop.append((chain.layer, ("-t", chain.table, "-F", chain.name)))
                drop.append((chain.layer, ("-t", chain.table, "-X", chain.name)))
        touched = {key: (lines, listing[key[:2]].get(key[2])) for key, lines in before.items()}
        return (create + add, delete + drop), touched

    def apply(self, changes):
        additions, removals = changes
        if not additions and not removals:
            return []
        fw = Firewall(self.backend, dry_run=self.check_mode,
                      runner=None if self.check_mode else self.runner,
                      bus_address=self.bus_address, batch=self.batch, trace=self.trace)
        if additions:
            fw.start_transaction(auto_rollback=True)
            for layer, args in additions:
                fw.add_rule(layer, *args)
        if removals:
            # Deletions cannot be undone by the engine; they come last, and their failure
            # rolls back the additions before them.
            fw.start_transaction()
            for layer, args in removals:
                fw.add_rule(layer, *args)
            fw.start_rollback(inherit_previous=bool(additions))
        return fw.apply()
