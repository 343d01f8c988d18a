# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nwfilter bindings brought to their wanted state on one host, in one engine transaction.

For each interface to (re)filter, the rules libvirt's ebiptables driver makes are built under
the temporary chain names beside the interface's current chains; then, in one batch per table,
the old chains go and the new ones are renamed to the final names (a rename keeps the jumps to
a chain), so the interface is never unfiltered: if anything fails, the rollback gives back the
rules from before the task. The clean-ups libvirt runs blindly (deleting chains that may not exist, ignoring the errors) are
issued only for what the state read shows to exist.
"""


from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils.firewall._restore import split_line
from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import (
    EnginePlanner,
    first_repeated,
    iptables_reinsert,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import (
    parse_ebtables_list,
    parse_list_rules,
    run_isolated,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterDefinitionError,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.ebiptables import new_rules
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.parameters import (
    check_uses,
    parameter_values,
)

LAYER = {"ebtables": "ethernet", "iptables": "ipv4", "ip6tables": "ipv6"}
GLOBAL_CHAINS = ("libvirt-in", "libvirt-out", "libvirt-in-post", "libvirt-host-in")
GLOBAL_JUMPS = (("FORWARD", "libvirt-in"), ("FORWARD", "libvirt-out"),
                ("FORWARD", "libvirt-in-post"), ("INPUT", "libvirt-host-in"))


class Binding(object):
    """One wanted binding. Every value is checked where it enters, each error naming its field
    (``bindings[N].interface``, ``bindings[N].parameters.IP`` ...): the interface, MAC and
    filter names by the shared vocabulary, each parameter's name and the character set of its
    values (libvirt's ``[A-Za-z0-9_.:]``). :meth:`check_types` checks the values against the
    places the filter uses them."""

    def __init__(self, interface, mac, filter_name, parameters, state="present", where="binding"):
        vocabulary.interface(interface, where + ".interface")
        if mac is not None or state == "present":
            vocabulary.mac_address(mac, where + ".mac")
        if filter_name is not None or state == "present":
            if filter_name is None:
                raise FilterDefinitionError("%s: filter is required" % where)
            vocabulary.object_name(filter_name, where + ".filter")
        self.interface = interface
        self.mac = mac.lower() if mac else None
        self.filter = filter_name
        self.state = state
        self.where = where
        if not isinstance(parameters or {}, dict):
            raise vocabulary.InvalidValue(where + ".parameters", parameters, "is not a mapping")
        variables = {}
        self.origins = {}  # variable -> (field, values) of what the binding gives
        for name, value in sorted((parameters or {}).items()):
            field = "%s.parameters.%s" % (where, name)
            variables[name] = parameter_values(name, value, field)
            self.origins[name] = (field, variables[name])
        if self.mac is not None and "MAC" not in variables:
            variables["MAC"] = [self.mac]
            self.origins["MAC"] = (where + ".mac", variables["MAC"])
        self.variables = variables

    def check_types(self, filters):
        """Each value against every place the bound filter tree uses its variable."""
        check_uses(filters, self.filter, self.origins)


def _renames(interface):
    """Temporary chain name -> final name, for one interface."""
    names = {"libvirt-J-%s" % interface: "libvirt-I-%s" % interface,
             "libvirt-P-%s" % interface: "libvirt-O-%s" % interface}
    for temporary, final in (("FJ", "FI"), ("FP", "FO"), ("HJ", "HI")):
        names["%s-%s" % (temporary, interface)] = "%s-%s" % (final, interface)
    return names


def _final_name(word, interface, renames):
    if word in renames:
        return renames[word]
    for temporary, final in (("J-", "I-"), ("P-", "O-")):
        if word.startswith(temporary + interface + "-"):
            return final + word[len(temporary):]
    return word


def _owned(chain, interface):
    """Chains of one interface (final or temporary names)."""
    for prefix in ("libvirt-I-", "libvirt-O-", "libvirt-J-", "libvirt-P-"):
        if chain == prefix + interface:
            return True
    for letter in "IOJP":
        if chain.startswith("%s-%s-" % (letter, interface)):
            return True
    return chain in ["%s-%s" % (p, interface) for p in ("FI", "FO", "HI", "FJ", "FP", "HJ")]


def _mentions(line, interface):
    words = line.split()
    return interface in words


class PlannedBinding(object):
    def __init__(self, binding):
        self.binding = binding
        self.commands = []  # [(tool, args)] building the new filter under temporary names
        self.final = {}  # tool -> {chain: [rules]} expected once in force
        self.current = {}  # tool -> {chain: [rules]} of this interface now
        self.action = "unchanged"


class NwfilterBindings(EnginePlanner):
    """``filters``: a FilterSet. ``backend``: auto, iptables or firewalld (rules go through
    firewalld's passthrough when it runs, as libvirt's firewall layer does)."""

    def __init__(self, filters, backend="auto", check_mode=False, batch=True, bus_address=None,
                 trace=None, runner=None):
        super(NwfilterBindings, self).__init__(backend, check_mode, batch, bus_address, trace,
                                               runner, prefer=("iptables", "nftables"))
        if self.backend == "nftables":
            raise FirewallError("nwfilter bindings use ebtables, iptables and ip6tables: use "
                                "backend iptables or firewalld")
        self.filters = filters
        self.state = {}

    def _read(self):
        fw = self.reader()

        def keep(tool, parse):
            def callback(_fw, _layer, lines):
                self.state[tool] = parse(lines)
            return callback
        fw.add_rule("ethernet", "-t", "nat", "-L", query=keep("ebtables", parse_ebtables_list))
        fw.add_rule("ipv4", "--list-rules", query=keep("iptables", parse_list_rules))
        fw.add_rule("ipv6", "--list-rules", query=keep("ip6tables", parse_list_rules))
        self.read(fw)

    @staticmethod
    def _interface_view(state, interface):
        """{chain: [rules]} of what belongs to one interface: its chains, and its rules in the
        shared chains (jumps from PREROUTING/POSTROUTING, physdev rules of libvirt's chains)."""
        view = {}
        for chain, lines in state.rules.items():
            if _owned(chain, interface):
                view[chain] = list(lines)
            else:
                mine = [line for line in lines if _mentions(line, interface)]
                if mine:
                    view[chain] = mine
        for chain in state.chains:
            if _owned(chain, interface):
                view.setdefault(chain, [])
        return view

    def plan(self, bindings):
        planned = [PlannedBinding(binding) for binding in bindings]
        twice = first_repeated(item.binding.interface for item in planned)
        if twice is not None:
            raise FilterDefinitionError("interface %s is bound twice in one task" % twice)
        present = [item for item in planned if item.binding.state == "present"]
        for item in present:
            item.binding.check_types(self.filters)  # before anything runs
        self._read()
        for item in present:
            binding = item.binding
            commands = new_rules(self.filters, binding.filter, binding.interface,
                                 binding.variables)
            item.commands = [(tool, args) for tool, args, ignore in commands if not ignore]
        expected = self._canonical(present)
        for item in planned:
            interface = item.binding.interface
            item.current = {tool: self._interface_view(self.state[tool], interface)
                            for tool in LAYER}
            if item.binding.state == "present":
                item.final = expected[interface]
                if item.final != item.current:
                    item.action = "replaced" if any(item.current.values()) else "added"
            elif any(item.current.values()):
                item.action = "removed"
        return planned

    def _canonical(self, planned):
        """The listing each binding's rules get once in force, from a scratch namespace."""
        if not planned:
            return {}
        texts = {"ebtables": [], "iptables": [], "ip6tables": []}
        declared = set()
        for item in planned:
            interface = item.binding.interface
            renames = _renames(interface)
            for tool, args in item.commands:
                words = [_final_name(word, interface, renames) for word in args]
                if tool == "ebtables":
                    words = words[2:]  # "-t nat": the restore file says *nat
                elif words[0] == "-N" and words[1] in GLOBAL_CHAINS:
                    continue
                elif words[0] == "-I" and words[1] in ("FORWARD", "INPUT"):
                    continue
                texts[tool].append(" ".join(_quote(word) for word in words))
            declared.update(tool for tool, _args in item.commands if tool != "ebtables")
        commands = [(["ebtables-restore", "--noflush"],
                     "*nat\n%s\nCOMMIT\n" % "\n".join(texts["ebtables"]))]
        for tool in ("iptables", "ip6tables"):
            header = "".join(":%s - [0:0]\n" % chain for chain in GLOBAL_CHAINS)
            commands.append(([tool + "-restore", "-w", "--noflush"],
                             "*filter\n%s%s\nCOMMIT\n" % (header, "\n".join(texts[tool]))))
        commands += [(["ebtables", "-t", "nat", "-L"], None), (["iptables", "-S"], None),
                     (["ip6tables", "-S"], None)]
        results = run_isolated(commands)
        for (argv, text), (status, _out, err) in zip(commands[:3], results[:3]):
            if status != 0:
                raise FirewallError("%s refused the filter's rules: %s" % (argv[0], err.strip()),
                                    status=status, stderr=err)
        listed = {"ebtables": parse_ebtables_list(results[3][1].splitlines()),
                  "iptables": parse_list_rules(results[4][1].splitlines()),
                  "ip6tables": parse_list_rules(results[5][1].splitlines())}
        return {item.binding.interface: {tool: self._interface_view(listed[tool],
                                                                    item.binding.interface)
                                         for tool in LAYER}
                for item in planned}

    def apply(self, planned):
        """Two transactions: build new filters beside the old (every addition records its
        undo), then swap them in and remove what goes. If anything fails, the rollback puts
        back what the swap removed or renamed (commands that are right whatever part of the
        swap ran), then the build's undo runs: the rules are those from before the task."""
        changing = [item for item in planned if item.action in ("added", "replaced")]
        removing = [item for item in planned if item.action in ("removed", "replaced")]
        if not changing and not removing:
            return []
        fw = self.writer()
        build = []
        for item in changing:
            build += self._leftovers(item)  # temporary chains of an interrupted run
        build += self._globals(changing)
        for item in changing:
            build += [(tool, args) for tool, args in item.commands
                      if not (tool != "ebtables" and args[0] in ("-N", "-I")
                              and args[1] in GLOBAL_CHAINS + ("FORWARD", "INPUT"))
                      and not self._in_post_present(tool, args, item)]
        if build:
            fw.start_transaction(auto_rollback=True)
            for tool, args, *undo in _grouped(build):
                # A deletion (a misplaced global jump) carries the re-insertion at its place.
                fw.add_rule(LAYER[tool], *args, undo=undo[0] if undo else None)
        teardown = []
        for item in removing:
            teardown += self._teardown(item)
        renames = []
        for item in changing:
            renames += self._renames(item)
        swap = teardown + renames
        if swap:
            fw.start_transaction()
            for tool, args in _grouped(swap):
                fw.add_rule(LAYER[tool], *args)
            fw.start_rollback(inherit_previous=bool(build))
            for tool, args in _grouped(self._undo_swap(removing, renames)):
                fw.add_rule(LAYER[tool], *args)
        return fw.apply()

    def _undo_swap(self, removing, renames):
        """Commands giving back the state before the swap whatever prefix of it ran (each is
        harmless where its part did not run): the renames reversed (a rename back fails while
        the temporary chain still exists), the removed chains made again with their rules,
        the removed jumps put back where they were."""
        undo = []
        for tool, args in renames:
            undo.append((tool, args[:-2] + (args[-1], args[-2])))
        chains, fills, jumps = [], [], []
        for item in removing:
            for tool, args in self._teardown(item):
                prefix = args[:2] if tool == "ebtables" else ()
                command, rest = args[len(prefix)], args[len(prefix) + 1:]
                state = self.state[tool]
                if command == "-F":
                    chain = rest[0]
                    # libvirt's chains have the policy -N gives (ebtables -L says RETURN for
                    # it, ebtables-save ACCEPT): -N alone makes them again.
                    chains.append((tool, prefix + ("-N", chain)))
                    fills.append((tool, prefix + ("-F", chain)))
                    fills += [(tool, prefix + tuple(split_line(line)))
                              for line in item.current[tool].get(chain, [])]
                elif command == "-D":
                    line = " ".join(("-A",) + rest)
                    position = state.rules.get(rest[0], []).index(line) + 1
                    jumps.append((tool, args))
                    jumps.append((tool, prefix + ("-I", rest[0], str(position)) + rest[1:]))
        return undo + chains + fills + jumps

    def _in_post_present(self, tool, args, item):
        """libvirt deletes then appends its libvirt-in-post rule; when it is there, keep it."""
        return (tool != "ebtables" and args[:2] == ("-A", "libvirt-in-post")
                and any(_mentions(line, item.binding.interface)
                        for line in self.state[tool].rules.get("libvirt-in-post", ())))

    def _globals(self, changing):
        """libvirt's shared chains and the jumps to them, where they are missing or moved."""
        commands = []
        for tool in ("iptables", "ip6tables"):
            if not any(t == tool for item in changing for t, _a in item.commands):
                continue
            state = self.state[tool]
            for chain in GLOBAL_CHAINS:
                if chain not in state.chains:
                    commands.append((tool, ("-N", chain)))
            for parent in ("FORWARD", "INPUT"):
                wanted = ["-A %s -j %s" % (p, c) for p, c in GLOBAL_JUMPS if p == parent]
                current = state.rules.get(parent, [])
                if current[:len(wanted)] == wanted:
                    continue
                remaining = list(current)
                for line in wanted:
                    if line in remaining:
                        position = remaining.index(line)
                        del remaining[position]
                        commands.append((tool, tuple(["-D"] + line.split()[1:]),
                                         [iptables_reinsert("filter", line, position + 1)]))
                for position, line in enumerate(wanted, 1):
                    words = line.split()
                    commands.append((tool, ("-I", parent, str(position)) + tuple(words[2:])))
        return commands

    def _leftovers(self, item):
        """Temporary chains and jumps an interrupted run left behind (only those that exist)."""
        return self._removal(item, temporary=True)

    def _teardown(self, item):
        return self._removal(item, temporary=False)

    def _removal(self, item, temporary):
        """Commands removing one interface's chains of one generation, as found in the state."""
        interface = item.binding.interface
        commands = []
        eb = item.current.get("ebtables", {})
        letters = ("J", "P") if temporary else ("I", "O")
        roots = ["libvirt-%s-%s" % (letter, interface) for letter in letters]
        for parent, flag, root in (("PREROUTING", "-i", roots[0]), ("POSTROUTING", "-o", roots[1])):
            line = "-A %s %s %s -j %s" % (parent, flag, interface, root)
            if line in eb.get(parent, []):
                commands.append(("ebtables", ("-t", "nat", "-D", parent, flag, interface, "-j", root)))
        subchains = [chain for chain in eb if chain.startswith(tuple(
            "%s-%s-" % (letter, interface) for letter in letters))]
        for chain in roots + sorted(subchains):
            if chain in eb:
                commands.append(("ebtables", ("-t", "nat", "-F", chain)))
        for chain in roots + sorted(subchains):
            if chain in eb:
                commands.append(("ebtables", ("-t", "nat", "-X", chain)))
        names = ("FJ", "FP", "HJ") if temporary else ("FI", "FO", "HI")
        for tool in ("iptables", "ip6tables"):
            view = item.current.get(tool, {})
            for parent in ("libvirt-out", "libvirt-in", "libvirt-host-in", "libvirt-in-post"):
                for line in view.get(parent, []):
                    target = line.split()[-1]
                    if target in ["%s-%s" % (n, interface) for n in names] or (
                            parent == "libvirt-in-post" and not temporary
                            and item.binding.state == "absent"):
                        commands.append((tool, tuple(["-D"] + line.split()[1:])))
            for name in names:
                chain = "%s-%s" % (name, interface)
                if chain in view:
                    commands.append((tool, ("-F", chain)))
                    commands.append((tool, ("-X", chain)))
        return commands

    def _renames(self, item):
        interface = item.binding.interface
        commands = []
        created = {args[1] for tool, args in item.commands if args and args[0] == "-N"}
        created |= {args[3] for tool, args in item.commands
                    if tool == "ebtables" and args[2] == "-N"}
        for temporary, final in sorted(_renames(interface).items()):
            tool = "ebtables" if temporary.startswith("libvirt-") else None
            if tool == "ebtables" and temporary in created:
                commands.append(("ebtables", ("-t", "nat", "-E", temporary, final)))
        for chain in sorted(created):
            if chain.startswith(("J-%s-" % interface, "P-%s-" % interface)):
                commands.append(("ebtables", ("-t", "nat", "-E", chain,
                                              _final_name(chain, interface, {}))))
        for tool in ("iptables", "ip6tables"):
            made = {args[1] for t, args in item.commands if t == tool and args[0] == "-N"}
            for temporary, final in sorted(_renames(interface).items()):
                if temporary in made:
                    commands.append((tool, ("-E", temporary, final)))
        return commands


def _grouped(commands):
    """Commands of different tools are independent: keep each tool's order, one run per tool,
    so each becomes one batch."""
    order = ("ebtables", "iptables", "ip6tables")
    return sorted(commands, key=lambda command: order.index(command[0]))


def _quote(word):
    return '"%s"' % word if (not word or " " in word) else word
