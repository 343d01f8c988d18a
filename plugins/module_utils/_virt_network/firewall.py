# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring the firewall of libvirt virtual networks to the wanted state on one host.

One read of netfilter's state per table, then one engine transaction: libvirt's private
chains where they are missing, the removal of what must go, and the insertion of every rule of
the networks that must be added, with automatic rollback of the whole.
"""

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._firewalld import (
    FirewalldClient,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_IPV4,
    LAYER_IPV6,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import (
    EnginePlanner,
    first_repeated,
    iptables_reinsert,
    nft_reinsert,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import (
    canonical_iptables,
    canonical_nft,
    parse_list_rules,
    parse_nft_table,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.rules import (
    IPTABLES_CHAINS,
    IPTABLES_TABLES,
    NFT_TABLE,
    iptables_base,
    iptables_rules,
    nftables_base,
    nftables_rules,
)

LAYERS = (LAYER_IPV4, LAYER_IPV6)
NFT_FAMILIES = ((LAYER_IPV4, "ip"), (LAYER_IPV6, "ip6"))
_LIBVIRT_CHAINS = {table: {child for child, _parent in chains} for table, chains in IPTABLES_CHAINS}


class PlannedNetwork(object):
    """One network: its rules (libvirt's), their listed spelling, which of them are present."""

    def __init__(self, definition, state):
        self.definition = definition
        self.state = state
        self.rules = []  # (layer, args) as libvirt issues them
        self.keys = []  # (chain key, canonical text) per rule
        self.present = []  # bool per rule
        self.action = "unchanged"

    @property
    def name(self):
        return self.definition.name


class NetworkFirewall(EnginePlanner):
    """``backend``: auto, iptables, nftables or firewalld. On a firewalld host the rules go
    through nftables (iptables when nft is missing) and the bridge into firewalld's libvirt zone
    over DBus, as current libvirt does."""

    def __init__(self, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None):
        super(NetworkFirewall, self).__init__(backend, check_mode, batch, bus_address, trace,
                                              runner)
        self.uses_firewalld = self.backend == "firewalld"
        if self.uses_firewalld:
            self.backend = "nftables" if self.runner.which("nft") else "iptables"

    # Reading ------------------------------------------------------------------------------

    def _read_iptables(self):
        """{layer: {table: ChainState}} from libvirt's own queries (--list-rules per table)."""
        state = {layer: {} for layer in LAYERS}
        fw = self.reader()
        for layer in LAYERS:
            for table in IPTABLES_TABLES:
                def keep(_fw, rule_layer, lines, table=table):
                    state[rule_layer][table] = parse_list_rules(lines)
                fw.add_rule(layer, "--table", table, "--list-rules", query=keep)
        self.read(fw)
        return state

    def _read_nft(self):
        """{layer: NftTable or None (no table)}."""
        state = {layer: None for layer in LAYERS}
        fw = self.reader()
        for layer, family in NFT_FAMILIES:
            def keep(_fw, rule_layer, lines):
                state[rule_layer] = parse_nft_table("\n".join(lines))
            fw.add_rule(layer, "-a", "list", "table", family, NFT_TABLE, query=keep,
                        ignore_errors=True)
        self.read(fw)
        return state

    # Planning -----------------------------------------------------------------------------

    def plan(self, networks):
        """``networks``: [(NetworkDefinition, "present"|"absent")] -> [PlannedNetwork]."""
        planned = [PlannedNetwork(definition, wanted) for definition, wanted in networks]
        twice = first_repeated(network.definition.bridge for network in planned)
        if twice is not None:
            raise FirewallError("bridge %s is named by two networks in one task" % twice)
        if self.backend == "nftables":
            self.state = self._read_nft()
            self._plan_nft(planned)
        else:
            self.state = self._read_iptables()
            self._plan_iptables(planned)
        for network in planned:
            present = sum(network.present)
            if network.state == "present":
                network.action = ("unchanged" if present == len(network.rules)
                                  else "added" if present == 0 else "reinstalled")
            else:
                network.action = "removed" if present else "unchanged"
        return planned

    def _plan_iptables(self, planned):
        for network in planned:
            network.rules = iptables_rules(network.definition)
        for layer in LAYERS:
            entries = []
            for network in planned:
                for index, (rule_layer, args) in enumerate(network.rules):
                    if rule_layer == layer:
                        # args: --table T --insert CHAIN spec...
                        entries.append((network, index, (args[1], args[3], args[4:])))
            chains = {table: set(self.state[layer][table].chains) | _LIBVIRT_CHAINS[table]
                      for table in IPTABLES_TABLES}
            canonical = canonical_iptables(layer, [entry[2] for entry in entries], chains)
            for (network, index, (table, chain, _spec)), text in zip(entries, canonical):
                network.keys.append(((layer, table, chain), text, index))
        for network in planned:
            network.keys.sort(key=lambda key: key[2])
            network.keys = [(chain_key, text) for chain_key, text, _index in network.keys]
            network.present = [self.state[layer][table].has(chain, text)
                               for (layer, table, chain), text in network.keys]

    def _plan_nft(self, planned):
        interfaces = set()
        entries = []
        for network in planned:
            network.rules = nftables_rules(network.definition)
            interfaces.add(network.definition.bridge)
            for layer, args in network.rules:
                # args: insert rule FAMILY TABLE CHAIN words...
                entries.append((network, layer, (args[2], args[3], args[4], args[5:])))
        setup = []
        for layer, family in NFT_FAMILIES:
            setup += [args for _layer, args in nftables_base(layer, family, None)
                      if args[0] == "add"]
        canonical = canonical_nft(setup, [entry[2] for entry in entries], sorted(interfaces))
        for (network, layer, (_family, _table, chain, _words)), text in zip(entries, canonical):
            network.keys.append(((layer, NFT_TABLE, chain), text))
        for network in planned:
            network.present = []
            for (layer, _table, chain), text in network.keys:
                table = self.state[layer]
                network.present.append(table is not None and table.has(chain, text))

    # Applying -----------------------------------------------------------------------------

    def apply(self, planned):
        """Run the plan (in check mode: only report it). Returns the modifying Commands."""
        adding = [n for n in planned if n.action in ("added", "reinstalled")]
        deleting = [n for n in planned if n.action in ("reinstalled", "removed")]
        fw = self.writer()
        has_base = False
        if adding:
            has_base = self._add_base(fw)
        if deleting:
            # Each deletion carries the re-insertion of what it deletes, at its place: a failure
            # here or in the additions after it puts the networks' rules back as they were.
            fw.start_transaction(auto_rollback=True)
            for layer, args, undo in self._deletions(deleting):
                fw.add_rule(layer, *args, undo=[undo])
            fw.start_rollback(inherit_previous=has_base)
        if adding:
            fw.start_transaction(auto_rollback=True)
            rules = [rule for network in adding for rule in network.rules]
            if self.batch and self.backend == "iptables":
                # Inserts into different tables are independent and each chain keeps its
                # order, so grouping by table gives the same ruleset in a few processes.
                rules.sort(key=lambda rule: (rule[0], rule[1][1]))
            for layer, args in rules:
                fw.add_rule(layer, *args)
            fw.start_rollback(inherit_previous=has_base or bool(deleting))
        commands = fw.apply() if (adding or deleting) else []
        return commands

    def _add_base(self, fw):
        """libvirt's private chains (or nft table), where missing. Returns True if any."""
        if self.backend == "nftables":
            group = fw.start_transaction()
            created = []
            for layer, family in NFT_FAMILIES:
                table = self.state[layer]
                existing = None if table is None else (
                    set(table.chains),
                    {words.split()[-1] for words, _handle in table.chains.get("forward", ())
                     if words.split()[-2:-1] == ["jump"]})
                rules = nftables_base(layer, family, existing)
                for rule_layer, args in rules:
                    fw.add_rule(rule_layer, *args)
                if table is None:
                    created.append((layer, family))
            fw.start_rollback()
            for layer, family in created:
                fw.add_rule(layer, "delete", "table", family, NFT_TABLE)
            return bool(group.actions)
        group = fw.start_transaction(auto_rollback=True)
        for layer in LAYERS:
            existing = {table: (chains.chains, chains.links)
                        for table, chains in self.state[layer].items()}
            for rule_layer, args in iptables_base(layer, existing):
                fw.add_rule(rule_layer, *args)
        return bool(group.actions)

    def _deletions(self, deleting):
        """[(layer, args, undo)] that remove the present rules of the ``deleting`` networks, in
        the order they run (each network's in the reverse of libvirt's order of insertion);
        ``undo`` puts the rule back where it stood when its deletion ran."""
        # The chains' listings as the deletions leave them, one deletion after the other.
        listing = {}
        deletions = []
        used = set()
        for network in deleting:
            present = [(rule, key) for rule, is_present, key
                       in zip(network.rules, network.present, network.keys) if is_present]
            for (layer, args), ((_layer, _table, chain), text) in reversed(present):
                if self.backend == "nftables":
                    entries = listing.setdefault((layer, chain),
                                                 list(self.state[layer].chains[chain]))
                    position = next(index for index, (listed, handle) in enumerate(entries)
                                    if listed == text and (layer, chain, handle) not in used)
                    handle = entries.pop(position)[1]
                    used.add((layer, chain, handle))
                    prefix = (args[2], NFT_TABLE, chain)
                    deletions.append((layer, ("delete", "rule") + prefix + ("handle", handle),
                                      nft_reinsert(prefix, text, position)))
                else:
                    table = args[1]
                    lines = listing.setdefault(
                        (layer, table, chain),
                        list(self.state[layer][table].rules.get(chain, ())))
                    position = lines.index(text)
                    del lines[position]
                    deletions.append((layer, args[:2] + ("--delete",) + args[3:],
                                      iptables_reinsert(table, text, position + 1)))
        return deletions

    # firewalld ----------------------------------------------------------------------------

    def sync_zones(self, planned):
        """Put each present network's bridge in its zone (libvirt's, or the one its XML names)
        and take removed networks' bridges out. Returns [(bridge, before, after)] changed."""
        if not self.uses_firewalld:
            return []
        client = FirewalldClient(self.bus_address)
        changes = []
        try:
            zones = set(client.zone_call("getZones") or ())
            for network in planned:
                bridge = network.definition.bridge
                current = client.zone_call("getZoneOfInterface", "s", [bridge]) or ""
                if network.state == "present":
                    wanted = self._zone(network.definition, zones)
                    if current != wanted:
                        changes.append((bridge, current, wanted))
                        if not self.check_mode:
                            client.zone_call("changeZoneOfInterface", "ss", [wanted, bridge])
                elif current:
                    changes.append((bridge, current, ""))
                    if not self.check_mode:
                        client.zone_call("removeInterface", "ss", [current, bridge])
        finally:
            client.close()
        return changes

    @staticmethod
    def _zone(definition, zones):
        if definition.zone:
            wanted = definition.zone
        elif definition.forward_mode == "route" and "libvirt-routed" in zones:
            wanted = "libvirt-routed"
        else:
            wanted = "libvirt"
        if wanted not in zones:
            raise FirewallError("network %r: firewalld has no zone %r (libvirt's package installs "
                                "the libvirt zone)" % (definition.name, wanted))
        return wanted
