"""The controller's side of confirmed changes (plugin_utils/_confirmed_change.py) with a
scripted connection and module results: confirm over a new connection, or report the revert.

Controller code: a Python without ansible-core's controller (make compat's Python 3.8 venv, a
target) skips this file, visibly."""

import pytest

pytest.importorskip("ansible.plugins.action",
                    reason="ansible-core's controller is not installed for this Python")

# pylint: disable=wrong-import-position
from ansible.errors import AnsibleConnectionFailure  # noqa: E402
from ansible.plugins.action import ActionBase  # noqa: E402

from ansible_collections.virtkit.host.plugins.plugin_utils import _confirmed_change  # noqa: E402


class Connection(object):
    def __init__(self, log):
        self.log = log
        self.options = {"timeout": 10}

    def reset(self):
        self.log.append("reset")

    def close(self):
        self.log.append("close")

    def get_option(self, name):
        return self.options[name]

    def set_option(self, name, value):
        self.options[name] = value


class Task(object):
    resolved_action = "virtkit.host.firewall"
    action = "virtkit.host.firewall"
    args = {"confirm_timeout": 2, "rules": []}


def action(answers, monkeypatch):
    """An action plugin whose module runs give ``answers`` in turn (an exception is raised)."""
    log = []
    plugin = object.__new__(_confirmed_change.ConfirmedChangeAction)
    plugin._task = Task()
    plugin._connection = Connection(log)
    answers = list(answers)

    def execute(module_name=None, module_args=None, task_vars=None):
        log.append((module_name, dict(module_args), plugin._connection.options["timeout"]))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    plugin._execute_module = execute
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(_confirmed_change.time, "sleep", lambda seconds: log.append("sleep"))
    return plugin, log


ARMED = {"changed": True, "revert": {"armed": True, "id": "1-abc", "timeout": 2}}


def test_confirmed_over_a_new_connection(monkeypatch):
    plugin, log = action([dict(ARMED, revert=dict(ARMED["revert"])),
                          {"status": "confirmed", "late": False}], monkeypatch)
    result = plugin.run(task_vars={})
    assert result["revert"]["confirmed"] and not result["revert"]["armed"]
    assert not result.get("failed")
    assert log[0][0] == "virtkit.host.firewall" and log[1] == "reset"
    assert log[2][:2] == ("virtkit.host.firewall_confirm", {"id": "1-abc", "action": "confirm"})
    assert log[2][2] <= 2  # the connect timeout fits in what is left of confirm_timeout
    assert plugin._connection.options["timeout"] == 10  # and is put back


def test_unreachable_host_waits_for_the_revert_and_says_so(monkeypatch):
    plugin, log = action([dict(ARMED, revert=dict(ARMED["revert"])),
                          AnsibleConnectionFailure("timed out"),
                          {"status": "armed"},
                          {"status": "reverted", "failed_undo": []}], monkeypatch)
    result = plugin.run(task_vars={})
    assert result["failed"] and result["reverted"]
    assert "the change was reverted on the host" in result["msg"] and "timed out" in result["msg"]
    assert [entry[1].get("action") for entry in log if isinstance(entry, tuple)][1:] == [
        "confirm", "status", "status"]


def test_failed_revert_is_reported(monkeypatch):
    plugin, _log = action([dict(ARMED, revert=dict(ARMED["revert"])),
                           {"failed": True, "unreachable": True, "msg": "no route"},
                           {"status": "failed", "failed_undo": [["ipv4", ["-D", "X"]]]}],
                          monkeypatch)
    result = plugin.run(task_vars={})
    assert result["failed"] and not result["reverted"]
    assert "its revert failed" in result["msg"] and "no route" in result["msg"]


@pytest.mark.parametrize("answer", [
    {"changed": False, "revert": {"armed": False, "would_arm": False, "timeout": 2}},
    {"changed": True, "revert": {"armed": False, "would_arm": True, "timeout": 2}},
    {"failed": True, "msg": "boom"},
    {"changed": True},
])
def test_nothing_armed_nothing_confirmed(monkeypatch, answer):
    plugin, log = action([answer], monkeypatch)
    assert plugin.run(task_vars={}) == answer
    assert len(log) == 1
