# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring the firewall of libvirt virtual networks to the wanted state on one host.

One read of netfilter's state per table, then one engine transaction: libvirt's private
chains where they are missing, the removal of what must go (the rules of removed networks, and
those an earlier run recorded for a network whose definition changed), and the insertion of
every rule of the networks that must be added, with automatic rollback of the whole. The record
of what each network has is written after the change, which is rolled back if it cannot be.
"""

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._firewalld import (
    BUS_NAME,
    OBJECT_PATH,
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
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (
    UNMANAGED_MODES,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.record import (
    RecordedNetwork,
    interface_index,
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
POLICY_INTERFACE = "org.fedoraproject.FirewallD1.policy"
_LIBVIRT_CHAINS = {table: {child for child, _parent in chains} for table, chains in IPTABLES_CHAINS}


class PlannedNetwork(object):
    """One network of the task, or of the record: the rules it must have (libvirt's, for a
    present network), the rules this module made for it that must go, and which are present.

    ``state``: present, absent, or ``unlisted`` (a recorded network the task does not name:
    only rules a revert brought back are taken out)."""

    def __init__(self, name, state, definition=None, recorded=None):
        self.name = name
        self.state = state
        self.definition = definition
        self.recorded = recorded  # RecordedNetwork, or None
        self.rules = []  # (layer, args) as libvirt issues them
        self.keys = []  # (chain key, listed text) per rule
        self.present = []  # bool per rule
        self.stale = []  # (layer, args): made by this module for the network, no longer wanted
        self.stale_keys = []
        self.stale_present = []
        self.action = "unchanged"

    @property
    def bridge(self):
        if self.definition is not None:
            return self.definition.bridge
        return self.recorded.bridge if self.recorded is not None else None

    def removed(self):
        """The stale rules this plan takes out, as (layer, args)."""
        return [rule for rule, present in zip(self.stale, self.stale_present) if present]


class NetworkFirewall(EnginePlanner):
    """``backend``: auto, iptables, nftables or firewalld. On a firewalld host the rules go
    through nftables (iptables when nft is missing) and the bridge into firewalld's libvirt zone
    over DBus, as current libvirt does.

    ``record``: the NetworkRecord of what earlier runs applied (None: no record, each network
    judged by its definition alone). ``keep_retired``: the change will be armed with a revert,
    so the rules it removes stay recorded until a later run finds them gone."""

    def __init__(self, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None, record=None, keep_retired=False):
        super(NetworkFirewall, self).__init__(backend, check_mode, batch, bus_address, trace,
                                              runner)
        self.uses_firewalld = self.backend == "firewalld"
        if self.uses_firewalld:
            self.backend = "nftables" if self.runner.which("nft") else "iptables"
        self.record = record
        self.keep_retired = keep_retired
        self.recorded = {}
        self.zones = set()
        self.policies = set()

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

    def plan(self, networks, purge=False):
        """``networks``: [(name, NetworkDefinition or None, "present"|"absent")] (None: an
        absent network known from the record) -> [PlannedNetwork], the task's networks first,
        then recorded ones it does not list. ``purge``: remove those instead of keeping them."""
        self.recorded = self.record.load() if self.record is not None else {}
        planned = []
        for name, definition, state in networks:
            recorded = self.recorded.get(name)
            if definition is None and recorded is None:
                raise FirewallError(
                    "network %r: no definition given and none recorded here; give its bridge or "
                    "its XML to remove its rules" % (name,))
            planned.append(PlannedNetwork(name, state, definition, recorded))
        listed = {network.name for network in planned}
        for name in sorted(set(self.recorded) - listed):
            recorded = self.recorded[name]
            if purge:
                planned.append(PlannedNetwork(name, "absent", None, recorded))
            elif recorded.retired and recorded.backend == self.backend:
                planned.append(PlannedNetwork(name, "unlisted", None, recorded))
        twice = first_repeated(network.bridge for network in planned
                               if network.state == "present" and network.bridge)
        if twice is not None:
            raise FirewallError("bridge %s is named by two networks in one task" % twice)
        for network in planned:
            if network.state != "unlisted":
                self._check_backend(network.recorded)
        if self.uses_firewalld:
            self._read_zones()
            for network in planned:
                if network.state == "present":
                    self.wanted_zone(network.definition)  # a missing zone fails before changes
        self.state = self._read_nft() if self.backend == "nftables" else self._read_iptables()
        self._plan_rules(planned)
        for network in planned:
            network.action = self._action(network)
        return planned

    def _check_backend(self, recorded):
        if recorded is not None and recorded.backend != self.backend and (
                recorded.rules or recorded.retired):
            raise FirewallError(
                "network %r: its rules were applied through %s and this task uses %s; remove "
                "them first with backend %s and state absent" % (
                    recorded.name, recorded.backend, self.backend, recorded.backend))

    @staticmethod
    def _action(network):
        wanted = sum(network.present)
        stale = any(network.stale_present)
        if network.state == "present":
            if stale:
                return "replaced"
            if wanted == len(network.rules):
                return "unchanged"
            return "added" if wanted == 0 else "reinstalled"
        if network.state == "unlisted":
            return "cleaned" if stale else "unchanged"
        return "removed" if stale else "unchanged"

    def _rules_of(self, definition):
        if definition is None:
            return []
        builder = nftables_rules if self.backend == "nftables" else iptables_rules
        return builder(definition)

    def _plan_rules(self, planned):
        """Each network's wanted and stale rules, their listing, and which are present."""
        owned = []
        for network in planned:
            mine = []
            if network.state == "present":
                network.rules = self._rules_of(network.definition)
            elif network.state == "absent":
                mine += self._rules_of(network.definition)
            recorded = network.recorded
            if recorded is not None:
                if network.state != "unlisted":
                    mine += recorded.rules
                mine += recorded.retired
            owned.append(mine)
        # Rules that other networks still own are never taken out: those the task's present
        # networks want, and those of the recorded networks it leaves alone.
        replaced = {network.name for network in planned if network.state != "unlisted"}
        kept = [recorded.rules for name, recorded in sorted(self.recorded.items())
                if name not in replaced and recorded.backend == self.backend]
        lists = [network.rules for network in planned] + owned + kept
        bridges = {network.bridge for network in planned if network.bridge}
        bridges |= {recorded.bridge for recorded in self.recorded.values() if recorded.bridge}
        keys = self._listed(lists, bridges)
        count = len(planned)
        wanted_keys, owned_keys = keys[:count], keys[count:2 * count]
        protected = {key for network_keys in wanted_keys + keys[2 * count:]
                     for key in network_keys}
        seen = set()  # a rule two networks own (a rename) is taken out once
        for index, network in enumerate(planned):
            network.keys = wanted_keys[index]
            network.present = [self._has(key) for key in network.keys]
            rules = owned[index]
            listed = self._alias(network, rules, owned_keys[index])
            for rule, key in zip(rules, listed):
                if key in seen or key in protected:
                    continue
                seen.add(key)
                network.stale.append(rule)
                network.stale_keys.append(key)
                network.stale_present.append(self._has(key))

    def _alias(self, network, rules, keys):
        """The listing of recorded nft rules whose bridge is gone or was made again: nft then
        lists the interface by the index it had when the rule was inserted."""
        recorded = network.recorded
        if self.backend != "nftables" or recorded is None:
            return keys
        moved = [(name, index) for name, index in sorted(recorded.indexes.items())
                 if interface_index(name) != index]
        if not moved:
            return keys
        recorded_rules = set(recorded.rules) | set(recorded.retired)
        aliased = []
        for rule, (chain_key, text) in zip(rules, keys):
            if rule in recorded_rules:
                for name, index in moved:
                    for word in ("iif", "oif"):
                        text = text.replace('%s "%s"' % (word, name), "%s %d" % (word, index))
            aliased.append((chain_key, text))
        return aliased

    def _has(self, key):
        (layer, table, chain), text = key
        if self.backend == "nftables":
            listed = self.state[layer]
            return listed is not None and listed.has(chain, text)
        return self.state[layer][table].has(chain, text)

    def _listed(self, lists, bridges):
        """[[(layer, args)]] -> [[(chain key, text)]]: each rule's chain and its spelling in the
        tool's own listing (one scratch namespace for all, each distinct rule spelled once: a
        rerun's recorded rules are its wanted rules)."""
        unique = sorted({rule for rules in lists for rule in rules})
        if self.backend == "nftables":
            setup = []
            for layer, family in NFT_FAMILIES:
                setup += [args for _layer, args in nftables_base(layer, family, None)
                          if args[0] == "add"]
            # args: insert rule FAMILY TABLE CHAIN words...
            canonical = canonical_nft(setup, [(args[2], args[3], args[4], args[5:])
                                              for _layer, args in unique], sorted(bridges))
            listed = {(layer, args): ((layer, NFT_TABLE, args[4]), text)
                      for (layer, args), text in zip(unique, canonical)}
        else:
            listed = {}
            for layer in LAYERS:
                # args: --table T --insert CHAIN spec...
                mine = [args for rule_layer, args in unique if rule_layer == layer]
                chains = {table: set(self.state[layer][table].chains) | _LIBVIRT_CHAINS[table]
                          for table in IPTABLES_TABLES}
                canonical = canonical_iptables(layer, [(args[1], args[3], args[4:])
                                                       for args in mine], chains)
                listed.update({(layer, args): ((layer, args[1], args[3]), text)
                               for args, text in zip(mine, canonical)})
        return [[listed[rule] for rule in rules] for rules in lists]

    # Applying -----------------------------------------------------------------------------

    def apply(self, planned):
        """Run the plan (in check mode: only report it), then record what the networks now
        have; a record that cannot be written rolls the change back. Returns the modifying
        Commands."""
        adding = [n for n in planned if n.state == "present" and not all(n.present)]
        deleting = []
        for network in planned:
            if network in adding:
                deleting += [(rule, key) for rule, key, present
                             in reversed(list(zip(network.rules, network.keys, network.present)))
                             if present]
            deleting += [(rule, key) for rule, key, present
                         in reversed(list(zip(network.stale, network.stale_keys,
                                              network.stale_present))) if present]
        fw = self.writer()
        has_base = False
        if adding:
            has_base = self._add_base(fw)
        if deleting:
            # Each deletion carries the re-insertion of what it deletes, at its place: a failure
            # here or in the additions after it puts the networks' rules back as they were.
            fw.start_transaction(auto_rollback=True)
            deletions = self._deletions(deleting)
            if self.batch and self.backend == "iptables":
                # As for the inserts: each chain keeps its order (the undo positions follow
                # it), so grouping by table gives one process per table instead of one per
                # network and table.
                deletions.sort(key=lambda deletion: (deletion[0], deletion[1][1]))
            for layer, args, undo in deletions:
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
        if self.record is not None and not self.check_mode:
            networks = self.recorded_after(planned)
            if networks != self.recorded:
                try:
                    self.record.save(networks)
                except OSError as exc:
                    failed = fw.run_rollback(fw.rollback_rules()) if commands else []
                    raise FirewallError(
                        "could not write the record of the networks' rules, %s (%s); the change "
                        "was rolled back%s" % (self.record.path, exc,
                                               " except %s" % failed if failed else ""))
        return commands

    def recorded_after(self, planned):
        """{name: RecordedNetwork} once the plan ran. A network's rules are recorded when this
        run inserted them, or when the record held them already (under any network's name: a
        renamed network); rules that were there before the module made them are not adopted."""
        networks = dict(self.recorded)
        ours = {rule for recorded in self.recorded.values() if recorded.backend == self.backend
                for rule in recorded.rules}
        for network in planned:
            retired = network.removed() if self.keep_retired else []
            recorded = network.recorded
            indexes = dict(recorded.indexes) if recorded is not None and retired else {}
            if network.bridge:
                indexes[network.bridge] = interface_index(network.bridge)
            if network.state == "present":
                inserted = not all(network.present)
                rules = [rule for rule in network.rules if inserted or rule in ours]
                networks[network.name] = RecordedNetwork(
                    network.name, network.bridge, self.backend, rules, retired,
                    self.wanted_zone(network.definition) if self.uses_firewalld else None,
                    indexes)
            elif network.state == "unlisted":
                networks[network.name] = RecordedNetwork(
                    network.name, recorded.bridge, recorded.backend, recorded.rules, retired,
                    recorded.zone, recorded.indexes)
            elif retired:
                networks[network.name] = RecordedNetwork(
                    network.name, network.bridge, self.backend, (), retired, None, indexes)
            else:
                networks.pop(network.name, None)
        return networks

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
        """[(layer, args, undo)] that remove the ``deleting`` rules ([((layer, args), key)]), in
        that order; ``undo`` puts the rule back where it stood when its deletion ran."""
        # The chains' listings as the deletions leave them, one deletion after the other.
        listing = {}
        deletions = []
        used = set()
        for (layer, args), ((_layer, _table, chain), text) in deleting:
            if self.backend == "nftables":
                entries = listing.setdefault((layer, chain),
                                             list(self.state[layer].chains[chain]))
                position = next((index for index, (listed, handle) in enumerate(entries)
                                 if listed == text and (layer, chain, handle) not in used), None)
                if position is None:
                    raise FirewallError("rule to delete not found in %s: %s" % (chain, text))
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
                if text not in lines:
                    raise FirewallError("rule to delete not found in %s: %s" % (chain, text))
                position = lines.index(text)
                del lines[position]
                deletions.append((layer, args[:2] + ("--delete",) + args[3:],
                                  iptables_reinsert(table, text, position + 1)))
        return deletions

    # firewalld ----------------------------------------------------------------------------

    def sync_zones(self, planned):
        """Put each present network's bridge in its zone (libvirt's choice, or the one its XML
        names), take the bridges of removed networks out, and those this module put in a zone
        that their network no longer uses. Returns [(bridge, before, after)] changed."""
        if not self.uses_firewalld:
            return []
        client = FirewalldClient(self.bus_address)
        changes = []

        def move(bridge, current, wanted):
            changes.append((bridge, current, wanted))
            if self.check_mode:
                return
            if wanted:
                client.zone_call("changeZoneOfInterface", "ss", [wanted, bridge])
            else:
                client.zone_call("removeInterface", "ss", [current, bridge])

        try:
            for network in planned:
                if network.state == "unlisted":
                    continue
                recorded = network.recorded
                bridge = network.bridge
                if (recorded is not None and recorded.zone and recorded.bridge
                        and recorded.bridge != bridge):
                    # The network moved to another bridge: the old one leaves the zone we set.
                    old = client.zone_call("getZoneOfInterface", "s", [recorded.bridge]) or ""
                    if old == recorded.zone:
                        move(recorded.bridge, old, "")
                if not bridge or (network.definition is not None
                                  and network.definition.forward_mode in UNMANAGED_MODES):
                    continue  # libvirt does not manage the bridge: never its zone
                current = client.zone_call("getZoneOfInterface", "s", [bridge]) or ""
                if network.state == "present":
                    wanted = self.wanted_zone(network.definition)
                    if wanted and current != wanted:
                        move(bridge, current, wanted)
                    elif (not wanted and current and recorded is not None
                          and recorded.zone == current):
                        move(bridge, current, "")
                elif current and current == self._zone_set(network):
                    move(bridge, current, "")
        finally:
            client.close()
        return changes

    def _zone_set(self, network):
        """The zone this module put a removed network's bridge in: the recorded one, else the
        one libvirt would have chosen for its definition."""
        if network.recorded is not None and network.recorded.bridge == network.bridge:
            return network.recorded.zone
        if network.definition is not None:
            try:
                return self.wanted_zone(network.definition)
            except FirewallError:
                return None  # a zone firewalld does not have holds no bridge
        return None

    def _read_zones(self):
        """firewalld's zones and policies (libvirt's choice of zone depends on them)."""
        client = FirewalldClient(self.bus_address)
        try:
            self.zones = set(client.zone_call("getZones") or ())
            error, reply = client.call(BUS_NAME, OBJECT_PATH, POLICY_INTERFACE, "getPolicies",
                                       "", [])
            # firewalld before 0.9 has no policies (nor libvirt's routed zone).
            self.policies = set(reply[0]) if error is None and reply else set()
        finally:
            client.close()

    def wanted_zone(self, definition):
        """The zone libvirt puts the network's bridge in: the one its XML names, else none for
        open networks and those on a bridge libvirt does not manage, else libvirt-routed for a
        routed network where firewalld has that zone and libvirt's routed policies, else
        libvirt."""
        zones = self.zones
        if definition.forward_mode in UNMANAGED_MODES:
            return None
        if definition.zone:
            wanted = definition.zone
        elif definition.forward_mode == "open":
            return None
        elif (definition.forward_mode == "route" and "libvirt-routed" in zones
              and "libvirt-routed-out" in self.policies):
            wanted = "libvirt-routed"
        else:
            wanted = "libvirt"
        if wanted not in zones:
            raise FirewallError("network %r: firewalld has no zone %r (libvirt's package installs "
                                "the libvirt zone)" % (definition.name, wanted))
        return wanted
