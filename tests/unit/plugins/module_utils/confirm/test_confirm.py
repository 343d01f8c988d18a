"""Confirmed changes: the journal of the recorded undo, the reverter, confirmation, refusal of a
change stacked on an armed revert (journals in a temporary directory, fake firewalls)."""

import contextlib
import json
import os
import stat
import threading
import time

import pytest

from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

from ansible_collections.virtkit.host.tests.unit.utils.firewall_fakes import FakeRunner


@contextlib.contextmanager
def no_lock():
    yield


def applied(runner):
    """A transaction that appends a rule and deletes another (carrying its re-insertion)."""
    fw = Firewall(IptablesBackend(runner, batch=False))
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "-t", "filter", "-A", "INPUT", "-s", "10.0.0.1", "-j", "DROP")
    fw.start_transaction(auto_rollback=True)
    fw.add_rule("ipv4", "-t", "filter", "-D", "INPUT", "-p", "tcp", "-j", "ACCEPT",
                undo=[("-t", "filter", "-I", "INPUT", "3", "-p", "tcp", "-j", "ACCEPT")])
    fw.start_rollback(inherit_previous=True)
    fw.apply()
    return fw


def test_recorded_undo_is_the_exact_inverse_newest_first():
    undo = _confirm.recorded_undo([applied(FakeRunner())])
    assert undo == [
        ["ipv4", ["-t", "filter", "-I", "INPUT", "3", "-p", "tcp", "-j", "ACCEPT"]],
        ["ipv4", ["-t", "filter", "-D", "INPUT", "-s", "10.0.0.1", "-j", "DROP"]],
    ]


def test_journal_is_private_and_json(tmp_path):
    directory = str(tmp_path / "revert" / "net-1")
    revert = _confirm.arm([["ipv4", ["-A", "X"]]], 30, "iptables", "virtkit.host.firewall",
                          directory=directory, spawn=False)
    assert revert["armed"] and revert["deadline"] == pytest.approx(time.time() + 30, abs=2)
    mode = os.stat(revert["journal"]).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    with open(revert["journal"]) as handle:
        data = json.load(handle)
    assert data["undo"] == [["ipv4", ["-A", "X"]]] and data["backend"] == "iptables"


def test_armed_revert_refuses_a_stacked_change(tmp_path):
    directory = str(tmp_path)
    _confirm.refuse_if_armed(directory)  # nothing armed
    _confirm.arm([["ipv4", ["-A", "X"]]], 30, "iptables", "virtkit.host.firewall",
                 directory=directory, spawn=False)
    with pytest.raises(_confirm.ArmedRevertError,
                       match="armed at .* by virtkit.host.firewall .* is waiting for "
                             "confirmation until .*refusing to stack"):
        _confirm.refuse_if_armed(directory)


def test_unconfirmed_change_is_reverted_through_the_engine(tmp_path):
    runner = FakeRunner()
    undo = _confirm.recorded_undo([applied(runner)])
    revert = _confirm.arm(undo, 1, "iptables", "virtkit.host.firewall",
                          directory=str(tmp_path), spawn=False)
    del runner.calls[:]
    outcome = _confirm.run_reverter(
        revert["journal"], lock=no_lock, sleep=lambda seconds: time.sleep(0.01),
        apply=lambda data: _confirm.apply_undo(data, IptablesBackend(runner, batch=False)))
    assert outcome["outcome"] == "reverted" and outcome["failed"] == []
    assert [argv[4:] for argv, _text in runner.calls] == [
        ["-I", "INPUT", "3", "-p", "tcp", "-j", "ACCEPT"],
        ["-D", "INPUT", "-s", "10.0.0.1", "-j", "DROP"]]
    assert not os.path.exists(revert["journal"])
    assert _confirm.status(revert["id"], str(tmp_path))["status"] == "reverted"
    _confirm.refuse_if_armed(str(tmp_path))  # the revert cleared the way


def test_failed_undo_is_reported(tmp_path):
    runner = FakeRunner(fail=lambda argv, text: "no such rule" if "-D" in argv else None)
    revert = _confirm.arm([["ipv4", ["-t", "filter", "-D", "INPUT", "-j", "DROP"]]], 1,
                          "iptables", "virtkit.host.firewall", directory=str(tmp_path),
                          spawn=False)
    outcome = _confirm.run_reverter(
        revert["journal"], lock=no_lock, sleep=lambda seconds: time.sleep(0.01),
        apply=lambda data: _confirm.apply_undo(data, IptablesBackend(runner, batch=False)))
    assert outcome["outcome"] == "failed"
    assert outcome["failed"] == [["ipv4", ["-t", "filter", "-D", "INPUT", "-j", "DROP"]]]


def test_confirmed_change_is_never_reverted(tmp_path):
    fired = []
    revert = _confirm.arm([["ipv4", ["-A", "X"]]], 1, "iptables", "virtkit.host.firewall",
                          directory=str(tmp_path), spawn=False)
    result = {}
    thread = threading.Thread(target=lambda: result.update(outcome=_confirm.run_reverter(
        revert["journal"], lock=no_lock, apply=lambda data: fired.append(data) or [])))
    thread.start()
    confirmed = _confirm.confirm(revert["id"], str(tmp_path), lock=no_lock)
    thread.join(5)
    assert confirmed["status"] == "confirmed" and not confirmed["late"]
    assert result["outcome"] is None and fired == []
    # A second confirmation finds nothing armed and says so.
    assert _confirm.confirm(revert["id"], str(tmp_path), lock=no_lock)["status"] == "unknown"


def test_confirmation_after_the_revert_reports_it(tmp_path):
    revert = _confirm.arm([["ipv4", ["-A", "X"]]], 0, "iptables", "virtkit.host.firewall",
                          directory=str(tmp_path), spawn=False)
    _confirm.run_reverter(revert["journal"], lock=no_lock, apply=lambda data: [])
    assert _confirm.confirm(revert["id"], str(tmp_path), lock=no_lock)["status"] == "reverted"


def test_revert_ids_are_checked(tmp_path):
    with pytest.raises(_confirm.FirewallError, match="not a revert id"):
        _confirm.confirm("../../etc/passwd", str(tmp_path), lock=no_lock)


def test_detached_reverter_outlives_its_parent(tmp_path):
    """The reverter runs in its own session, after the spawning process went on."""
    marker = tmp_path / "fired"
    revert = _confirm.arm([["ipv4", ["-A", "X"]]], 1, "iptables", "virtkit.host.firewall",
                          directory=str(tmp_path), spawn=False)
    original = _confirm.apply_undo
    _confirm.apply_undo = lambda data: [] if marker.write_text(str(os.getsid(0))) else []
    try:
        pid = _confirm.spawn_reverter(revert["journal"])
    finally:
        _confirm.apply_undo = original
    assert pid and pid != os.getpid()
    deadline = time.time() + 10
    while time.time() < deadline and _confirm.status(revert["id"], str(tmp_path))["status"] == "armed":
        time.sleep(0.05)
    assert _confirm.status(revert["id"], str(tmp_path))["status"] == "reverted"
    assert int(marker.read_text()) not in (os.getsid(0), pid)  # a session of its own


def test_planner_rollback_rules_run_once():
    """A planner's own rollback rule (right whatever part of its group ran) is journalled as
    such and not retried: a retry could undo what a later rule of the revert put back."""
    fw = Firewall(IptablesBackend(FakeRunner(), batch=False))
    fw.start_transaction()
    fw.add_rule("ipv4", "-t", "filter", "-N", "X")
    fw.start_rollback()
    fw.add_rule("ipv4", "-t", "filter", "-D", "INPUT", "-j", "X")
    fw.apply()
    undo = _confirm.recorded_undo([fw])
    assert undo == [["ipv4", ["-t", "filter", "-D", "INPUT", "-j", "X"], "once"]]
    runner = FakeRunner(fail=lambda argv, text: "no such rule")
    failed = _confirm.apply_undo(dict(backend="iptables", undo=undo),
                                 IptablesBackend(runner, batch=False))
    assert len(runner.calls) == 1 and failed == []
