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
            return bus.reply

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
