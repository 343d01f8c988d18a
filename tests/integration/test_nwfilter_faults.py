"""Fault injection on nwfilter_binding's engine path: the Nth command that changes the firewall
fails (status 1, not run), for every N. Either the task fails and ebtables-save, iptables-save
and ip6tables-save are what they were before it (timestamps aside), or the failure was one
the engine may absorb (a batch replayed rule by rule) and the result is the wanted one."""

import os

import pytest

from harness import NetworkNamespace, require, run

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import ProcessRunner
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.binding import (
    Binding,
    NwfilterBindings,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterSet,
    parse_filter,
)

CUSTOM = """<filter name='tck-mix' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='out' priority='500'><udp-ipv6 dstportstart='53'/></rule>
  <rule action='drop' direction='out' priority='500'><ip srcipaddr='$A' protocol='tcp'/></rule>
  <rule action='drop' direction='inout' priority='900'><all/></rule>
</filter>"""
CHANGING = frozenset(("-A", "--append", "-I", "--insert", "-D", "--delete", "-N", "--new-chain",
                      "-X", "--delete-chain", "-F", "--flush", "-E", "--rename-chain", "-R",
                      "--replace", "-P", "--policy", "-Z", "--zero"))
SMALL = """<filter name='tck-small' chain='root'>
  <rule action='drop' direction='out' priority='500'><ip srcipaddr='$A'/></rule>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='80'/></rule>
  <rule action='accept' direction='out' priority='500'><udp-ipv6 dstportstart='53'/></rule>
</filter>"""
# The bindings in place before each change: two interfaces, so that shared chains hold rules
# of another interface around the ones that change. Per rule, every command is an injection
# point: small filters keep that matrix short; batched, clean-traffic is cheap.
BEFORE = {"small": [("vnet0", "52:54:00:00:00:10", "tck-small", {"A": "1.1.1.1"}),
                    ("vnet1", "52:54:00:00:00:11", "tck-small", {"A": ["2.2.2.2", "2.2.2.3"]})],
          "clean-traffic": [("vnet0", "52:54:00:00:00:10", "clean-traffic", {"IP": "10.0.0.5"}),
                            ("vnet1", "52:54:00:00:00:11", "tck-mix", {"A": "2.2.2.2"})]}
CHANGES = {
    "add": [("vnet2", "52:54:00:00:00:12", "tck-small", {"A": "10.0.0.7"})],
    "replace-filter": [("vnet0", "52:54:00:00:00:10", "no-mac-spoofing", {})],
    "remove": [("vnet1", None, None, {}, "absent")],
    "all-three": [("vnet2", "52:54:00:00:00:12", "clean-traffic", {"IP": "10.0.0.7"}),
                  ("vnet0", "52:54:00:00:00:10", "tck-mix", {"A": "3.3.3.3"}),
                  ("vnet1", None, None, {}, "absent")],
}
MATRIX = [(before, change, batch) for batch in (True, False) for before in sorted(BEFORE)
          for change in sorted(CHANGES)
          if batch or (before == "small" and change != "all-three")]


def changes_firewall(argv):
    return os.path.basename(argv[0]).endswith("-restore") or any(a in CHANGING for a in argv[1:])


class FaultyRunner(ProcessRunner):
    """Fails the ``fail_at``-th (from 0) command that changes the firewall, without running
    it; counts them all."""

    def __init__(self, fail_at=None):
        super(FaultyRunner, self).__init__()
        self.fail_at = fail_at
        self.changing = 0
        self.failed = None

    def run(self, argv, stdin_text=None):
        if changes_firewall(argv):
            index = self.changing
            self.changing += 1
            if index == self.fail_at:
                self.failed = (argv, stdin_text)
                return 1, "", "injected failure"
        return super(FaultyRunner, self).run(argv, stdin_text)


def filter_set():
    filters = FilterSet()
    filters.load_directory("/usr/share/libvirt/nwfilter")
    filters.add(parse_filter(CUSTOM))
    filters.add(parse_filter(SMALL))
    return filters


def bindings(entries):
    return [Binding(entry[0], entry[1], entry[2], entry[3],
                    entry[4] if len(entry) > 4 else "present", where="bindings[%d]" % index)
            for index, entry in enumerate(entries)]


SAVE = ("ebtables-save", "iptables-save", "ip6tables-save")


def dumps():
    """Each table's save output without the comment lines (they carry timestamps)."""
    return tuple("".join(line + "\n" for line in run(tool).splitlines()
                         if not line.startswith("#")) for tool in SAVE)


def restore(texts):
    for tool, text in zip(SAVE, texts):
        if text:
            run(tool.replace("-save", "-restore"), input=text)


def planner(runner=None, batch=True):
    return NwfilterBindings(filter_set(), "iptables", batch=batch, runner=runner)


@pytest.mark.parametrize("initial, change, batch", MATRIX, ids=[
    "%s-%s-%s" % (initial, change, "batch" if batch else "per-rule")
    for initial, change, batch in MATRIX])
def test_a_failure_at_any_command_leaves_the_firewall_as_it_was(initial, change, batch):
    """The change is planned once (every namespace starts from the same rules, checked), then
    applied in a fresh namespace for each injection point, and once more without a failure."""
    require("nft", "iptables", "ip6tables", "ebtables")
    with NetworkNamespace():
        setup = planner()
        setup.apply(setup.plan(bindings(BEFORE[initial])))
        before = dumps()
        manager = planner(FaultyRunner(), batch)
        planned = manager.plan(bindings(CHANGES[change]))
        manager.apply(planned)
        wanted = dumps()
    count = manager.runner.changing
    assert wanted != before and count > 0
    wrong = []
    for fail_at in range(count + 1):
        with NetworkNamespace():
            restore(before)
            assert dumps() == before
            runner = manager.runner = FaultyRunner(fail_at)
            try:
                manager.apply(planned)
                failed = False
            except FirewallError:
                failed = True
            after = dumps()
        if not batch:  # batched, a failed batch is replayed rule by rule and may succeed
            assert failed == (fail_at < count)
        if after != (before if failed else wanted):
            wrong.append("command %d (%s%s): %s" % (
                fail_at, " ".join(runner.failed[0]) if runner.failed else "none",
                " <<%s>>" % runner.failed[1].strip().replace("\n", "; ") if runner.failed
                and runner.failed[1] else "",
                "failed, rules changed" if failed else "reported success, rules not the wanted"))
    assert not wrong, "%d of %d injection points:\n%s" % (len(wrong), count + 1, "\n".join(wrong))


def test_moved_global_jumps_are_put_back_after_a_failure():
    """Another tool inserted a rule above libvirt's jumps in FORWARD and INPUT: the build deletes
    the jumps and inserts them at the top again. A failure after that puts every jump back
    where it stood."""
    require("nft", "iptables", "ip6tables", "ebtables")
    with NetworkNamespace():
        setup = planner()
        setup.apply(setup.plan(bindings(BEFORE["small"])))
        for tool in ("iptables", "ip6tables"):
            for parent in ("FORWARD", "INPUT"):
                run(tool, "-w", "-I", parent, "1", "-i", "lo", "-j", "ACCEPT")
        before = dumps()
        manager = planner(FaultyRunner(), batch=False)
        planned = manager.plan(bindings(CHANGES["add"]))
        manager.apply(planned)
        count = manager.runner.changing
    assert count > 0
    for fail_at in range(count):
        with NetworkNamespace():
            restore(before)
            manager.runner = FaultyRunner(fail_at)
            with pytest.raises(FirewallError):
                manager.apply(planned)
            assert dumps() == before, "failure at command %d" % fail_at
