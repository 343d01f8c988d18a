"""virtkit.host.polkit_check as a module: its inputs, the question put to polkit, the answer,
expect, and failures. The system bus is a stand-in on the SystemBus class that answers
CheckAuthorization; a check as a user uses this test's own process instead of forking one."""

import os

import pytest

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._dbus import SystemBus
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils._polkit import ProcessAs
from ansible_collections.virtkit.host.plugins.modules import polkit_check
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

MAIN = polkit_check.main
PID = os.getpid()


class Bus(object):
    """What the module asked polkit, and what polkit answers: ``reply`` (error, body)."""

    def __init__(self):
        self.reply = (None, [(True, False, {})])
        self.error = None  # raised when the module connects
        self.calls = []
        self.opened = self.closed = 0
        self.processes = []

    def install(self, monkeypatch):
        bus = self

        def __init__(instance, address=None, user="this module"):  # pylint: disable=unused-argument
            if bus.error is not None:
                raise bus.error
            bus.opened += 1
            instance.variant = lambda signature, value: (signature, value)

        def call(instance, destination, path, interface, member, signature="", body=None):  # pylint: disable=unused-argument
            bus.calls.append((interface, member, signature, body))
            return bus.reply() if callable(bus.reply) else bus.reply

        def close(instance):  # pylint: disable=unused-argument
            bus.closed += 1

        def enter(process):
            process.pid = PID
            bus.processes.append(("enter", process.entry.pw_name))
            return process

        def leave(process, *exc):  # pylint: disable=unused-argument
            bus.processes.append(("exit", process.entry.pw_name))

        monkeypatch.setattr(SystemBus, "__init__", __init__)
        monkeypatch.setattr(SystemBus, "call", call)
        monkeypatch.setattr(SystemBus, "close", close)
        monkeypatch.setattr(ProcessAs, "__enter__", enter)
        monkeypatch.setattr(ProcessAs, "__exit__", leave)
        return self


@pytest.fixture
def bus(monkeypatch):
    return Bus().install(monkeypatch)


def test_a_process_is_checked_and_the_answer_returned(bus):
    result = run(MAIN, {"action": "domain.getattr", "pid": PID,
                        "details": {"connect_driver": "QEMU"}})
    assert result == {"changed": False, "action_id": "org.libvirt.api.domain.getattr",
                      "authorized": True, "challenge": False}
    [(interface, member, signature, body)] = bus.calls
    assert (interface, member) == ("org.freedesktop.PolicyKit1.Authority", "CheckAuthorization")
    subject, action_id, details, flags, _cancel = body
    assert subject[0] == "unix-process" and subject[1]["pid"] == ("u", PID)
    assert action_id == "org.libvirt.api.domain.getattr" and flags == 0
    assert details == {"connect_driver": "QEMU"}
    assert bus.opened == bus.closed == 1


def test_a_user_is_checked_through_a_process_of_theirs(bus):
    result = run(MAIN, {"action": "org.libvirt.unix.manage", "user": "root"})
    assert result["action_id"] == "org.libvirt.unix.manage" and result["authorized"] is True
    assert bus.processes == [("enter", "root"), ("exit", "root")]
    assert bus.calls[0][3][0][1]["pid"] == ("u", PID)


def test_check_mode_asks_the_same(bus):
    bus.reply = (None, [(False, True, {})])
    result = run(MAIN, {"action": "domain.start", "pid": PID}, check_mode=True)
    assert (result["authorized"], result["challenge"], result["changed"]) == (False, True, False)
    assert len(bus.calls) == 1


def test_expect_met_succeeds_and_expect_unmet_fails_saying_so(bus):
    assert run(MAIN, {"action": "domain.getattr", "pid": PID, "expect": True})["authorized"]
    bus.reply = (None, [(False, False, {})])
    result = fail(MAIN, {"action": "domain.getattr", "user": "root", "expect": True})
    assert result["msg"] == ("org.libvirt.api.domain.getattr for root with details {}: polkit "
                             "says not authorized, expected authorized")
    assert result["authorized"] is False and result["changed"] is False


@pytest.mark.parametrize("args, words", [
    ({"action": "domain.getattr"}, ["user", "pid"]),
    ({"action": "domain.getattr", "user": "root", "pid": 1}, ["user", "pid"]),
    ({"user": "root"}, ["action"]),
    ({"action": "domain.getattr", "pid": "one"}, ["pid"]),
    ({"action": "domain.getattr", "pid": PID, "expect": "perhaps"}, ["expect"]),
])
def test_bad_arguments_fail_before_the_bus_is_reached(bus, args, words):
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert bus.opened == 0


def test_a_detail_that_is_not_a_string_is_named(bus):
    result = fail(MAIN, {"action": "domain.getattr", "pid": PID,
                         "details": {"connect_driver": 5}})
    assert "connect_driver" in result["msg"] and "not a string" in result["msg"]
    assert bus.calls == [] and bus.closed == 1


def test_an_unknown_user_is_named(bus):
    result = fail(MAIN, {"action": "domain.getattr", "user": "no-such-user-here"})
    assert "no-such-user-here" in result["msg"] and bus.closed == 1


def test_polkits_error_reply_is_the_message(bus):
    bus.reply = ("org.freedesktop.PolicyKit1.Error.Failed", ["Action not registered"])
    result = fail(MAIN, {"action": "domain.nosuch", "pid": PID})
    assert result["msg"] == ("polkit CheckAuthorization of org.libvirt.api.domain.nosuch "
                             "failed: org.freedesktop.PolicyKit1.Error.Failed: "
                             "Action not registered")
    assert result["action_id"] == "org.libvirt.api.domain.nosuch" and "exception" not in result


def test_an_unreachable_bus_fails_the_task(bus):
    bus.error = FirewallUnavailableError("cannot connect to the system DBus bus: No such file")
    result = fail(MAIN, {"action": "domain.getattr", "pid": PID})
    assert result["msg"] == "cannot connect to the system DBus bus: No such file"


def test_without_dbus_next_ansibles_standard_message(bus):
    bus.error = MissingLibraryError("dbus-next", "polkit_check")
    result = fail(MAIN, {"action": "domain.getattr", "pid": PID})
    assert result["msg"] == missing_required_lib("dbus-next")
    assert "polkit_check needs the Python library dbus-next" in result["exception"]


def answers(bus, *authorized):
    """polkit answers these in turn, one per CheckAuthorization."""
    pending = list(authorized)
    bus.reply = lambda: (None, [(pending.pop(0), False, {})])


def test_checks_ask_every_question_in_one_run(bus):
    answers(bus, True, False, True)
    result = run(MAIN, {"checks": [
        {"user": "root", "action": "connect.getattr", "details": {"connect_driver": "QEMU"},
         "expect": True},
        {"user": "root", "action": "domain.start", "expect": False},
        {"pid": PID, "action": "org.libvirt.unix.manage"}]})
    assert result == {"changed": False, "results": [
        {"action_id": "org.libvirt.api.connect.getattr", "subject": "root",
         "details": {"connect_driver": "QEMU"}, "authorized": True, "challenge": False,
         "expected": True},
        {"action_id": "org.libvirt.api.domain.start", "subject": "root", "details": {},
         "authorized": False, "challenge": False, "expected": True},
        {"action_id": "org.libvirt.unix.manage", "subject": "process %d" % PID, "details": {},
         "authorized": True, "challenge": False, "expected": True}]}
    # One bus, one process per user, ended after the last question.
    assert bus.opened == bus.closed == 1 and len(bus.calls) == 3
    assert bus.processes == [("enter", "root"), ("exit", "root")]
    assert bus.calls[0][3][2] == {"connect_driver": "QEMU"} and bus.calls[1][3][2] == {}


def test_checks_name_every_unexpected_answer_and_return_them_all(bus):
    answers(bus, False, True, True)
    result = fail(MAIN, {"checks": [
        {"user": "root", "action": "connect.getattr", "expect": True},
        {"user": "root", "action": "domain.getattr", "expect": True},
        {"user": "root", "action": "domain.start", "expect": False}]}, check_mode=True)
    assert result["msg"] == (
        "org.libvirt.api.connect.getattr for root with details {}: polkit says not "
        "authorized, expected authorized; org.libvirt.api.domain.start for root with details "
        "{}: polkit says authorized, expected not authorized")
    assert [answer["expected"] for answer in result["results"]] == [False, True, False]
    assert result["changed"] is False


@pytest.mark.parametrize("args, words", [
    ({"checks": [{"action": "domain.getattr"}]}, ["user", "pid", "checks"]),
    ({"checks": [{"user": "root"}]}, ["action", "checks"]),
    ({"checks": [{"action": "domain.getattr", "user": "root", "pid": 1}]}, ["user", "pid"]),
    ({"checks": [{"action": "a.b", "user": "root", "colour": "red"}]}, ["colour"]),
    ({"checks": [], "action": "domain.getattr"}, ["checks", "action"]),
    ({"checks": [], "user": "root", "action": "domain.getattr"}, ["checks", "user"]),
    ({"checks": [], "expect": True}, ["checks", "expect"]),
    ({"checks": [], "details": {"a": "b"}}, ["checks", "details"]),
])
def test_bad_checks_fail_before_the_bus_is_reached(bus, args, words):
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert bus.opened == 0


def test_checks_stop_at_a_question_that_cannot_be_asked(bus):
    result = fail(MAIN, {"checks": [{"user": "root", "action": "domain.getattr"},
                                    {"user": "no-such-user-here", "action": "domain.getattr"}]})
    assert "no-such-user-here" in result["msg"]
    assert bus.processes == [("enter", "root"), ("exit", "root")] and bus.closed == 1


@pytest.mark.parametrize("args", [
    {"action": "domain.getattr", "user": ""},
    {"checks": [{"action": "domain.getattr", "user": ""}]},
])
def test_an_empty_user_is_named_not_a_traceback(bus, args):
    result = fail(MAIN, args)
    assert result["msg"] == "user '' does not exist on this host" and "exception" not in result
