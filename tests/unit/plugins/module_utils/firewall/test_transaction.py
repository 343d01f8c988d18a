"""Transaction semantics, after the cases of libvirt's virfirewalltest: each case runs on the
direct (iptables) backend and on the firewalld backend, one call per rule and pipelined."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

from ansible_collections.virtkit.host.tests.unit.utils.firewall_fakes import (
    FakeFirewalldClient,
    FakeRunner,
    firewalld_backend,
)

IPV4, IPV6, ETH = "ipv4", "ipv6", "ethernet"
TOOL = {IPV4: "iptables", IPV6: "ip6tables", ETH: "ebtables"}
KINDS = ("direct", "firewalld", "firewalld-pipelined")


def failing(needle):
    """A failure predicate: rules containing ``needle`` fail."""
    return lambda args: "rule failed" if needle in args else None


def make_firewall(kind, fail=None, output=None):
    fail = fail or (lambda args: None)
    output = output or (lambda args: "")
    if kind == "direct":
        runner = FakeRunner(fail=lambda argv, text: fail(list(argv[2:])),
                            output=lambda argv: output(list(argv[2:])))
        return Firewall(IptablesBackend(runner, batch=False))
    client = FakeFirewalldClient(fail=fail, output=output)
    return Firewall(firewalld_backend(client, batch=kind == "firewalld-pipelined"))


def ran(commands):
    """Commands as (tool, rule args...): the lock option of direct commands is checked apart."""
    result = []
    for command in commands:
        if command.transport == "exec":
            assert command.argv[1] in ("-w", "--concurrent")
            result.append(tuple([command.argv[0]] + command.argv[2:]))
        else:
            result.append(tuple(command.argv))
    return result


def apply_failing(fw):
    with pytest.raises(FirewallError) as info:
        fw.apply()
    return info.value


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def test_single_group(kind):
    fw = make_firewall(kind)
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV6, "-A", "INPUT", "--source", "2001:db8::1", "--jump", "ACCEPT")
    fw.add_rule(ETH, "-A", "INPUT", "--source", "00:11:22:33:44:55", "--jump", "DROP")
    assert ran(fw.apply()) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        ("ip6tables", "-A", "INPUT", "--source", "2001:db8::1", "--jump", "ACCEPT"),
        ("ebtables", "-A", "INPUT", "--source", "00:11:22:33:44:55", "--jump", "DROP"),
    ]


def test_remove_rule(kind):
    fw = make_firewall(kind)
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    doomed = fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.128", "--jump", "REJECT")
    fw.remove_rule(doomed)
    assert ran(fw.apply()) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.128", "--jump", "REJECT"),
    ]


def test_many_groups(kind):
    fw = make_firewall(kind)
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "OUTPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "OUTPUT", "--jump", "DROP")
    assert ran(fw.apply()) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        ("iptables", "-A", "OUTPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "OUTPUT", "--jump", "DROP"),
    ]


def test_ignore_failing_group(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction(ignore_errors=True)
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.2", "--jump", "REJECT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "OUTPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    assert ran(fw.apply()) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.2", "--jump", "REJECT"),
        ("iptables", "-A", "OUTPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
    ]


def test_ignore_failing_rule(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT",
                ignore_errors=True)
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.2", "--jump", "REJECT")
    assert len(fw.apply()) == 3


def test_no_rollback(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.2", "--jump", "REJECT")
    error = apply_failing(fw)
    assert ran(error.commands) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
    ]
    assert "192.168.122.255" in str(error) and "rule failed" in str(error)
    assert error.command.argv[-3:] == ["192.168.122.255", "--jump", "REJECT"]


def test_single_rollback(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.start_rollback()
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    error = apply_failing(fw)
    assert ran(error.commands) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        # rollback rules ignore errors: this one fails too and the rollback goes on
        ("iptables", "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
    ]


def test_many_rollback(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_rollback()
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.start_rollback()
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    error = apply_failing(fw)
    # Only the failing group is rolled back: the first one did not inherit.
    assert ran(error.commands) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
    ]


def test_chained_rollback(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_rollback()
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.start_rollback(inherit_previous=True)
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.127", "--jump", "REJECT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.128", "--jump", "REJECT")
    fw.start_rollback()  # does not inherit: stops the chain
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.128", "--jump", "REJECT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.129", "--jump", "REJECT")
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.start_rollback(inherit_previous=True)
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.129", "--jump", "REJECT")
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    error = apply_failing(fw)
    assert ran(error.commands)[5:] == [
        # groups 3 and 4 roll back, in order; group 3 did not inherit group 2
        ("iptables", "-D", "INPUT", "--source", "192.168.122.128", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.129", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
    ]
    assert len(error.commands) == 8


def test_chained_rollback_reaches_first_group(kind):
    fw = make_firewall(kind, fail=failing("192.168.122.255"))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_rollback()
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    fw.start_rollback(inherit_previous=True)
    fw.add_rule(IPV4, "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT")
    error = apply_failing(fw)
    assert ran(error.commands)[2:] == [
        ("iptables", "-D", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-D", "INPUT", "--source", "192.168.122.255", "--jump", "REJECT"),
    ]


def _query_output(args):
    if args == ["-L", "INPUT"]:
        return "-A INPUT --source 10.0.0.1 --jump REJECT\n-A INPUT --source 10.0.0.2 --jump REJECT\n"
    if args == ["-L", "FOO"]:
        return "-A FOO --source 192.168.122.1 --jump ACCEPT\n"
    return ""


def test_query(kind):
    seen = []

    def delete_listed(fw, layer, lines):
        seen.append((layer, lines))
        for line in lines:
            fw.add_rule(layer, "-D", *line.split()[1:])

    fw = make_firewall(kind, output=_query_output)
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "10.0.0.1", "--jump", "REJECT")
    fw.add_rule(IPV4, "-L", "INPUT", query=delete_listed)
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.129", "--jump", "REJECT")
    fw.add_rule(IPV4, "-L", "FOO", query=delete_listed)
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.130", "--jump", "REJECT")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--source", "192.168.122.131", "--jump", "REJECT")
    assert ran(fw.apply()) == [
        ("iptables", "-A", "INPUT", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "10.0.0.1", "--jump", "REJECT"),
        ("iptables", "-L", "INPUT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.129", "--jump", "REJECT"),
        ("iptables", "-L", "FOO"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.130", "--jump", "REJECT"),
        # added by the callbacks: at the end of their group, in the order they were added
        ("iptables", "-D", "INPUT", "--source", "10.0.0.1", "--jump", "REJECT"),
        ("iptables", "-D", "INPUT", "--source", "10.0.0.2", "--jump", "REJECT"),
        ("iptables", "-D", "FOO", "--source", "192.168.122.1", "--jump", "ACCEPT"),
        ("iptables", "-A", "INPUT", "--source", "192.168.122.131", "--jump", "REJECT"),
    ]
    assert seen[0] == (IPV4, ["-A INPUT --source 10.0.0.1 --jump REJECT",
                              "-A INPUT --source 10.0.0.2 --jump REJECT"])


def test_query_in_group_with_rollback_adds_actions(kind):
    """A group whose rollback was declared still gets the callback's rules as actions."""
    fw = make_firewall(kind, output=_query_output)
    fw.start_transaction()
    fw.add_rule(IPV4, "-L", "FOO", query=lambda f, layer, lines: f.add_rule(layer, "-F", "FOO"))
    fw.start_rollback()
    fw.add_rule(IPV4, "-X", "FOO")
    assert ran(fw.apply())[-1] == ("iptables", "-F", "FOO")


def test_rollback_never_runs_queries(kind):
    calls = []
    fw = make_firewall(kind, fail=failing("BAD"), output=_query_output)
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--jump", "BAD")
    fw.start_rollback()
    fw.add_rule(IPV4, "-L", "INPUT", query=lambda *args: calls.append(args))
    error = apply_failing(fw)
    assert ran(error.commands)[-1] == ("iptables", "-L", "INPUT")
    assert calls == []


def test_auto_rollback_undoes_in_reverse(kind):
    fw = make_firewall(kind, fail=failing("BAD"))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule(IPV4, "--table", "filter", "--new-chain", "FOO")
    fw.add_rule(IPV4, "--table", "filter", "--append", "FOO", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "--table", "filter", "--insert", "INPUT", "1", "--jump", "FOO")
    fw.add_rule(IPV4, "-t", "nat", "-I", "POSTROUTING", "--jump", "MASQUERADE")
    fw.add_rule(IPV4, "--table", "filter", "--append", "FOO", "--jump", "BAD")
    error = apply_failing(fw)
    undo = ran(error.commands)[5:]
    assert undo == [
        ("iptables", "-t", "nat", "-D", "POSTROUTING", "--jump", "MASQUERADE"),
        ("iptables", "--table", "filter", "--delete", "INPUT", "--jump", "FOO"),
        ("iptables", "--table", "filter", "--delete", "FOO", "--jump", "ACCEPT"),
        ("iptables", "--table", "filter", "--delete-chain", "FOO"),
    ]


def test_auto_rollback_of_an_earlier_group_by_inheritance(kind):
    fw = make_firewall(kind, fail=failing("BAD"))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule(IPV4, "-N", "FOO")
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "BAD")
    fw.start_rollback(inherit_previous=True)
    error = apply_failing(fw)
    assert ran(error.commands) == [("iptables", "-N", "FOO"), ("iptables", "-A", "FOO", "--jump", "BAD"),
                                   ("iptables", "-X", "FOO")]


def test_success_leaves_no_rollback_run(kind):
    fw = make_firewall(kind)
    fw.start_transaction(auto_rollback=True)
    fw.add_rule(IPV4, "-N", "FOO")
    fw.start_rollback()
    fw.add_rule(IPV4, "-X", "FOO")
    assert ran(fw.apply()) == [("iptables", "-N", "FOO")]


def test_pipelined_failure_is_rolled_back_with_what_ran_past_it():
    """firewalld pipelines an auto-rollback group: rules that ran after the failing one are
    undone by the rollback with the others, so the outcome matches one call per rule."""
    client = FakeFirewalldClient(fail=failing("BAD"))
    fw = Firewall(firewalld_backend(client))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule(IPV4, "-N", "FOO")
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "BAD")
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "ACCEPT")
    error = apply_failing(fw)
    assert client.batches == [3, 2]
    assert ran(error.commands)[3:] == [("iptables", "-D", "FOO", "--jump", "ACCEPT"),
                                       ("iptables", "-X", "FOO")]
    assert "BAD" in str(error)


def test_pipeline_only_where_running_past_a_failure_is_safe():
    client = FakeFirewalldClient()
    fw = Firewall(firewalld_backend(client))
    fw.start_transaction()  # no auto rollback: one call per rule
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "DROP")
    fw.start_transaction(ignore_errors=True)  # failures ignored: pipelined
    fw.add_rule(IPV4, "-D", "FOO", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-X", "BAR")
    fw.start_transaction(auto_rollback=True)  # -F has no undo: on its own
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-F", "BAR")
    fw.add_rule(IPV4, "-A", "FOO", "--jump", "DROP")
    fw.apply()
    assert client.batches == [1, 1, 2, 1, 1, 1]
    assert client.closed


def test_firewalld_maps_layers_and_reports_dbus_errors():
    client = FakeFirewalldClient(fail=failing("BAD"))
    fw = Firewall(firewalld_backend(client))
    fw.start_transaction()
    fw.add_rule(ETH, "-t", "nat", "-A", "PREROUTING", "--jump", "ACCEPT")
    fw.add_rule(IPV6, "-A", "INPUT", "--jump", "ACCEPT")
    fw.add_rule(IPV4, "-A", "INPUT", "--jump", "BAD")
    error = apply_failing(fw)
    assert [ipv for ipv, _args in client.calls] == ["eb", "ipv6", "ipv4"]
    assert error.dbus_error == "org.fedoraproject.FirewallD1.Exception"
    assert "COMMAND_FAILED: rule failed" in str(error)
    assert error.command.transport == "firewalld"


def test_firewalld_not_running_applies_nothing():
    client = FakeFirewalldClient(running=False)
    fw = Firewall(firewalld_backend(client))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--jump", "ACCEPT")
    with pytest.raises(FirewallUnavailableError, match="firewalld is not running"):
        fw.apply()
    assert client.calls == [] and client.closed


def test_direct_argv_has_lock_options():
    runner = FakeRunner()
    fw = Firewall(IptablesBackend(runner, batch=False))
    fw.start_transaction()
    fw.add_rule(IPV4, "-A", "INPUT", "--jump", "ACCEPT")
    fw.add_rule(IPV6, "-A", "INPUT", "--jump", "ACCEPT")
    fw.add_rule(ETH, "-A", "INPUT", "--jump", "ACCEPT")
    commands = fw.apply()
    assert [c.argv for c in commands] == [
        ["iptables", "-w", "-A", "INPUT", "--jump", "ACCEPT"],
        ["ip6tables", "-w", "-A", "INPUT", "--jump", "ACCEPT"],
        ["ebtables", "--concurrent", "-A", "INPUT", "--jump", "ACCEPT"],
    ]
    assert [call[0] for call in runner.calls] == [c.argv for c in commands]
