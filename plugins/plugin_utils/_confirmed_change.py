# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of confirmed changes: the action plugin of every module that takes
``confirm_timeout``. It runs the module; when the module armed a revert, it opens a new
connection to the host and confirms it with virtkit.host.firewall_confirm. When the host cannot
be reached over a new connection before the deadline, it waits for the revert to fire, reads
its outcome and fails the task saying that the change was reverted."""

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

CONFIRM_MODULE = "virtkit.host.firewall_confirm"
GRACE = 3.0  # seconds past the deadline before reading the revert's outcome
OUTCOME_WAIT = 60.0  # how long to keep asking for the outcome after that


class ConfirmedChangeAction(ActionBase):
    """Runs the task's module, then confirms the revert it armed over a new connection."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ConfirmedChangeAction, self).run(tmp, task_vars)
        del tmp
        module = self._task.resolved_action or self._task.action
        result.update(self._execute_module(module_name=module, module_args=self._task.args,
                                           task_vars=task_vars))
        returned = time.monotonic()
        revert = result.get("revert") or {}
        if result.get("failed") or not revert.get("armed"):
            return result
        left = revert["timeout"] - (time.monotonic() - returned)
        started = time.monotonic()
        answer, error = self._run_confirm(revert["id"], "confirm", task_vars, left)
        revert["confirm_seconds"] = round(time.monotonic() - started, 3)
        if answer is not None and answer.get("status") == "confirmed":
            revert.update(armed=False, confirmed=True, late=answer.get("late", False))
            return result
        if answer is not None and answer.get("status") in ("reverted", "failed"):
            return self._reverted(result, revert, answer, "the confirmation came too late")
        # The host could not be reached over a new connection: let the revert happen.
        wait = left - (time.monotonic() - started) + GRACE
        if wait > 0:
            time.sleep(wait)
        give_up = time.monotonic() + OUTCOME_WAIT
        while True:
            answer, status_error = self._run_confirm(revert["id"], "status", task_vars, 10)
            if answer is not None and answer.get("status") != "armed":
                break
            if time.monotonic() > give_up:
                revert.update(armed=answer is not None, confirmed=False)
                result.update(failed=True, msg=(
                    "could not confirm the change over a new connection (%s) and could not read "
                    "what became of its revert %s either (%s); check the host"
                    % (error, revert["id"], status_error or "still armed")))
                return result
            time.sleep(1)
        return self._reverted(result, revert, answer, error)

    @staticmethod
    def _reverted(result, revert, answer, why):
        revert.update(armed=False, confirmed=False, outcome=answer.get("status"),
                      failed_undo=answer.get("failed_undo", []))
        result["reverted"] = answer.get("status") == "reverted"
        if result["reverted"]:
            message = ("the change was reverted on the host: the controller could not confirm "
                       "it over a new connection within confirm_timeout (%d s): %s"
                       % (revert["timeout"], why))
        else:
            message = ("the change could not be confirmed over a new connection within "
                       "confirm_timeout (%d s) (%s) and its revert failed: %s"
                       % (revert["timeout"], why, answer.get("failed_undo") or answer.get("error")))
        result.update(failed=True, msg=message)
        return result

    def _run_confirm(self, revert_id, action, task_vars, seconds):
        """Run the confirm module over a new connection whose connect timeout fits in
        ``seconds``; returns (its result, None) or (None, the connection error)."""
        connection = self._connection
        try:
            connection.reset()
        except Exception:  # pylint: disable=broad-except
            connection.close()
        saved = None
        try:
            saved = connection.get_option("timeout")
            connection.set_option("timeout", max(1, int(seconds)))
        except Exception:  # pylint: disable=broad-except
            saved = None  # a connection without a connect timeout (local, podman, ...)
        try:
            answer = self._execute_module(module_name=CONFIRM_MODULE,
                                          module_args=dict(id=revert_id, action=action),
                                          task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            return None, str(exc)
        finally:
            if saved is not None:
                connection.set_option("timeout", saved)
        if answer.get("unreachable") or answer.get("failed"):
            return None, answer.get("msg", "unreachable")
        return answer, None
