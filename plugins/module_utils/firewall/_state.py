# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading what netfilter holds, and comparing it with what a playbook asks for.

Rules are compared in the tools' own spelling: the rules asked for are loaded into a scratch
network namespace, created for the purpose and gone afterwards, and listed back from there, so
that ``--in-interface virbr0 --protocol tcp --destination-port 53`` and the ``-i virbr0 -p tcp
-m tcp --dport 53`` that iptables lists compare equal without a table of spellings. The host's
own firewall is only read.
"""

import ctypes
import json
import os
import re

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _restore
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner

CLONE_NEWNET = 0x40000000
BUILTIN_CHAINS = frozenset(("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING",
                            "BROUTING"))
SAVE_TOOL = {"ipv4": ("iptables-restore", "iptables-save"),
             "ipv6": ("ip6tables-restore", "ip6tables-save"),
             "ethernet": ("ebtables-restore", "ebtables-save")}


def run_isolated(commands):
    """Run ``[(argv, stdin_text)]`` in order in a new, empty network namespace; returns
    ``[(status, stdout, stderr)]``. The namespace disappears with the child that made it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        status = 0
        try:
            os.close(read_end)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, "unshare(CLONE_NEWNET): %s%s" % (
                    os.strerror(errno),
                    " (needs CAP_SYS_ADMIN; a container must be given it)" if errno == 1 else ""))
            runner = ProcessRunner()
            results = []
            for argv, stdin_text in commands:
                try:
                    results.append(list(runner.run(argv, stdin_text)))
                except FirewallUnavailableError as exc:
                    results.append([127, "", str(exc)])
            payload = {"results": results}
        except Exception as exc:  # pylint: disable=broad-except
            payload = {"error": str(exc)}
            status = 1
        with os.fdopen(write_end, "w") as pipe:
            json.dump(payload, pipe)
        os._exit(status)  # pylint: disable=protected-access
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    try:
        payload = json.loads(text)
    except ValueError:
        payload = {"error": "no answer from the scratch namespace"}
    if "error" in payload:
        raise FirewallUnavailableError(
            "cannot compare rules in a scratch network namespace: %s" % payload["error"])
    return payload["results"]


# iptables -----------------------------------------------------------------------------------

class ChainState(object):
    """What ``--list-rules`` says of one table: chains, jumps between them, rules per chain.

    A rule is kept as its listed line; ``_restore.split_line(line)`` gives back its words
    exactly as iptables reads them (a quoted comment included).
    """

    def __init__(self):
        self.chains = set()
        self.policies = {}  # ebtables user chains: name -> policy (RETURN, DROP, ACCEPT)
        self.links = set()  # (parent, child) for plain "-A PARENT -j CHILD"
        self.rules = {}  # chain -> ["-A CHAIN ..." lines, in order]

    def add_line(self, line):
        words = _restore.split_line(line)
        if len(words) >= 2 and words[0] == "-N":
            self.chains.add(words[1])
        elif len(words) >= 2 and words[0] == "-A":
            self.rules.setdefault(words[1], []).append(line.strip(" \t\n"))
            if len(words) == 4 and words[2] == "-j":
                self.links.add((words[1], words[3]))

    def has(self, chain, canonical):
        return canonical in self.rules.get(chain, ())


def parse_list_rules(lines):
    """ChainState from ``--list-rules`` lines (or the text of a whole listing: a comment
    holding a newline, a CR or U+2028 is then read whole)."""
    if isinstance(lines, str):
        lines = _restore.listing_lines(lines)
    state = ChainState()
    for line in lines:
        state.add_line(line)
    return state


def parse_ebtables_list(lines):
    """ChainState from ``ebtables -t TABLE -L`` (ebtables has no --list-rules)."""
    state = ChainState()
    chain = None
    for line in lines:
        if line.startswith("Bridge chain: "):
            fields = line[len("Bridge chain: "):].split(",")
            chain = fields[0]
            if chain not in BUILTIN_CHAINS:
                state.chains.add(chain)
                policy = fields[-1].strip()
                if policy.startswith("policy: "):
                    state.policies[chain] = policy[len("policy: "):]
        elif chain is not None and line.strip() and not line.startswith("Bridge table:"):
            state.add_line("-A %s %s" % (chain, line.strip()))
    return state


def parse_save(text):
    """``{table: ChainState}`` from iptables-save output."""
    tables = {}
    current = None
    for line in _restore.listing_lines(text):
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), ChainState())
        elif current is not None and line.startswith(":"):
            name = line[1:].split()[0]
            if name not in BUILTIN_CHAINS:
                current.chains.add(name)
        elif current is not None:
            current.add_line(line)
    return tables


def canonical_iptables(layer, rules, chains):
    """The listing iptables gives each of ``rules`` ([(table, chain, spec_args)]), in order.

    ``chains`` maps a table to the user chains that exist or will exist (jump targets must be
    declared for iptables to take a rule). A rule iptables refuses, or that a restore file
    cannot carry faithfully (a newline in a word, an over-long line), raises FirewallError
    naming the rule.
    """
    if not rules:
        return []
    restore, save = SAVE_TOOL[layer]
    by_table = {}
    for index, (table, chain, spec) in enumerate(rules):
        by_table.setdefault(table, []).append((index, chain, spec))
    text = []
    line_of = {}  # restore-file line number -> rule index
    # ebtables-restore wants a policy for a user chain; iptables-restore a dash and counters.
    policy = "RETURN" if layer == "ethernet" else "- [0:0]"
    for table, entries in by_table.items():
        declared = set(chains.get(table, ())) | {chain for _i, chain, _s in entries}
        try:
            text.append(_restore.spell_table(table))
            text.extend(_restore.spell_chain(chain, policy)
                        for chain in sorted(declared - BUILTIN_CHAINS))
        except _restore.Unspellable as exc:
            raise FirewallError("cannot compare rules of table %r: %s" % (table, exc))
        for index, chain, spec in entries:
            line_of[len(text) + 1] = index
            try:
                text.append(_restore.spell_line(("-A", chain) + tuple(spec)))
            except _restore.Unspellable as exc:
                raise FirewallError("cannot compare rule %s (table %s) in a scratch namespace: "
                                    "%s" % (" ".join(("-A", chain) + tuple(spec)), table, exc))
        text.append("COMMIT")
    (status, _out, err), (save_status, saved, save_err) = run_isolated(
        [([restore], "\n".join(text) + "\n"), ([save], None)])
    if status != 0:
        match = re.search(r"line:? (\d+)", err)
        index = line_of.get(int(match.group(1))) if match else None
        what = ("rule %s" % " ".join(("-A", rules[index][1]) + tuple(rules[index][2]))
                if index is not None else "the rules")
        raise FirewallError("%s refused %s (table %s): %s"
                            % (restore.replace("-restore", ""), what,
                               rules[index][0] if index is not None else "?", err.strip()),
                            status=status, stderr=err)
    if save_status != 0:
        raise FirewallError("%s failed in the scratch namespace: %s" % (save, save_err.strip()))
    listed = parse_save(saved)
    canonical = [None] * len(rules)
    for table, entries in by_table.items():
        seen = {}
        for index, chain, _spec in entries:
            position = seen.get(chain, 0)
            seen[chain] = position + 1
            try:
                canonical[index] = listed[table].rules[chain][position]
            except (KeyError, IndexError):
                raise FirewallError("%s did not list rule %s back in table %s of the scratch "
                                    "namespace" % (save, " ".join(("-A", chain) + tuple(
                                        rules[index][2])), table))
    return canonical


# nftables -----------------------------------------------------------------------------------

_HANDLE = re.compile(r"\s+# handle (\d+)\s*$")
_COUNTER = re.compile(r"\bcounter packets \d+ bytes \d+")


def normalize_nft_rule(text):
    """A listed nft rule without its handle and with counters at zero: comparable text."""
    return _COUNTER.sub("counter", _HANDLE.sub("", text)).strip()


class NftTable(object):
    """One nft table as listed with ``-a``: chains with their declaration and rules."""

    def __init__(self):
        self.chains = {}  # name -> [(normalized rule, handle)]
        self.declarations = {}  # base chains: name -> "{ type ... hook ...; policy ...; }"

    def has(self, chain, canonical):
        return any(text == canonical for text, _handle in self.chains.get(chain, ()))


def parse_nft_table(text):
    table = NftTable()
    chain = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("chain ") and line.endswith("{") or (
                line.startswith("chain ") and "{" in line):
            chain = line.split()[1]
            table.chains[chain] = []
        elif line.startswith("}"):
            chain = None
        elif chain is not None and line.startswith("type "):
            table.declarations[chain] = "{ %s }" % line
        elif chain is not None and line and not line.startswith("policy "):
            handle = _HANDLE.search(line)
            table.chains[chain].append((normalize_nft_rule(line),
                                        handle.group(1) if handle else None))
    return table


def canonical_nft(setup, rules, interfaces=()):
    """The listing nft gives each of ``rules`` ([(family, table, chain, words)]) once the
    ``setup`` commands (nft argument lists: tables and chains) ran; ``interfaces`` are created
    first because nft resolves ``iif``/``oif`` names when it takes a rule."""
    if not rules:
        return []
    # Bridges (the kernel always has them; dummy may be a module that is not there), all in
    # one ip process. The names passed the interface check: no blanks, nothing ip would parse.
    names = [name for name in interfaces if name != "lo"]  # a new namespace has its loopback
    commands = [(["ip", "-batch", "-"], "".join("link add %s type bridge\n" % name
                                                for name in names))] if names else []
    lines = [" ".join(args) for args in setup]
    lines += ["add rule %s %s %s %s" % (family, table, chain, " ".join(words))
              for family, table, chain, words in rules]
    commands.append((["nft", "-f", "-"], "\n".join(lines) + "\n"))
    tables = sorted({(family, table) for family, table, _chain, _words in rules})
    commands += [(["nft", "list", "table", family, table], None) for family, table in tables]
    results = run_isolated(commands)
    for (argv, _stdin), (status, _out, err) in zip(commands, results):
        if status != 0:
            raise FirewallError("%s refused the rules: %s" % (argv[0], err.strip()),
                                status=status, stderr=err)
    listed = dict(zip(tables, (parse_nft_table(out) for _s, out, _e in results[-len(tables):])))
    canonical = []
    seen = {}
    for family, table, chain, _words in rules:
        position = seen.get((family, table, chain), 0)
        seen[(family, table, chain)] = position + 1
        canonical.append(listed[(family, table)].chains[chain][position][0])
    return canonical
