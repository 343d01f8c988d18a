# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confirmed changes: after a task changed the firewall, the host arms a revert (the exact undo
the engine recorded, in order) that fires at a deadline unless the controller confirms.

The journal ``<id>.json`` (0600, in a root-only directory per network namespace) holds the undo
rules; a detached reverter (double fork, new session, no inherited descriptors) sleeps until the
deadline, takes the host's firewall lock and, if the journal is still there, runs the undo through
the engine and records the outcome in ``<id>.result.json``. Confirming removes the journal under
the same lock, so a revert never fires after a confirmation. While a journal is there, the engine
modules refuse to change the firewall (a change stacked on an armed revert would be undone, or
would break the undo).
"""

import os
import time
import uuid

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils.firewall import (
    _host_files as host_files,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import Rule
from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import host_lock
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall

REVERT_DIR = os.path.join(host_files.STATE_DIR, "revert")
JOURNAL_VERSION = 1


class ArmedRevertError(FirewallError):
    """A revert armed by an earlier task is waiting for its confirmation."""


def namespace_directory(base=REVERT_DIR):
    """The journals' directory of this network namespace."""
    return host_files.namespace_directory(base)


def _read_json(path):
    try:
        return host_files.read_json(path)
    except (OSError, ValueError):
        return None


def _journal_path(directory, revert_id):
    if not revert_id or not all(c.isalnum() or c == "-" for c in revert_id):
        raise FirewallError("revert id %r is not a revert id" % (revert_id,))
    return os.path.join(directory, revert_id + ".json")


def _result_path(directory, revert_id):
    return os.path.join(directory, revert_id + ".result.json")


def recorded_undo(firewalls):
    """The undo of what the applied ``firewalls`` did, as [[layer, [args...]] (+ ["once"])] in
    the order to run it: newest firewall and group first, each group's rollback as the engine
    would run it (auto_rollback groups: exact inverses; deletions carry their re-insertion at
    its place; "once": a planner's own rollback rule, not retried)."""
    # A rollback rule written by the planner (not an undo the engine recorded) is not retried
    # when it fails: it is right whatever part of its group ran, and a retry could undo what a
    # later rule put back.
    return [[rule.layer, list(rule.args)] + ([] if rule.is_undo else ["once"])
            for fw in reversed(firewalls) for rule in fw.rollback_rules()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def armed(directory=None):
    """The journals waiting for confirmation in this namespace, oldest first."""
    directory = directory or namespace_directory()
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    journals = []
    for name in names:
        if name.endswith(".json") and not name.endswith(".result.json") and ".tmp-" not in name:
            data = _read_json(os.path.join(directory, name))
            if data is not None:
                data["path"] = os.path.join(directory, name)
                journals.append(data)
    return sorted(journals, key=lambda data: data.get("armed_at", 0))


def _clock(stamp):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def refuse_if_armed(directory=None):
    """Raise ArmedRevertError naming the armed change, if there is one."""
    journals = armed(directory)
    if not journals:
        return
    data = journals[0]
    message = ("a change armed at %s by %s (revert %s) is waiting for confirmation until %s; "
               "refusing to stack another change on it"
               % (_clock(data.get("armed_at", 0)), data.get("module", "?"), data.get("id"),
                  _clock(data.get("deadline", 0))))
    pid = data.get("reverter_pid")
    if pid and not _alive(pid) and time.time() > data.get("deadline", 0):
        message += ("; its reverter (pid %d) is gone: remove %s to keep the change, or undo it"
                    % (pid, data["path"]))
    raise ArmedRevertError(message)


def check_timeout(timeout):
    """Refuse a ``confirm_timeout`` below one second."""
    if timeout is not None and timeout < 1:
        raise FirewallError("confirm_timeout must be at least 1 (seconds), not %d" % timeout)


def not_armed(timeout, changed):
    """The ``revert`` result of a task that arms nothing: check mode, or no change."""
    return dict(armed=False, would_arm=bool(changed), timeout=timeout)


def arm(undo, timeout, backend, module, bus_address=None, batch=True, directory=None,
        spawn=True, apply=None):
    """Write the journal of ``undo`` and start the detached reverter; returns what the result
    reports (``revert``). ``apply(journal data)`` runs the undo and returns what failed (by
    default apply_undo: engine rules)."""
    directory = directory or namespace_directory()
    host_files.make_private_directory(directory)
    now = time.time()
    revert_id = "%d-%s" % (int(now), uuid.uuid4().hex[:12])
    path = _journal_path(directory, revert_id)
    data = dict(version=JOURNAL_VERSION, id=revert_id, module=module,
                armed_at=now, deadline=now + timeout, timeout=timeout, backend=backend,
                bus_address=bus_address, batch=batch, undo=undo, reverter_pid=None)
    host_files.write_json(path, data)
    if spawn:
        data["reverter_pid"] = spawn_reverter(path, apply)
        host_files.write_json(path, data)
    return dict(id=revert_id, armed=True, timeout=timeout, armed_at=now,
                deadline=data["deadline"], journal=path, undo=undo,
                reverter_pid=data["reverter_pid"])


def spawn_reverter(path, apply=None):
    """Start a reverter for the journal ``path`` that outlives this process and its connection:
    double fork, new session, standard descriptors on /dev/null, no other descriptor kept.
    Returns the reverter's pid. The code it runs is in memory already (the module's files may
    be gone when it wakes, so ``apply`` must not import any of them)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            text = pipe.read()
        os.waitpid(child, 0)
        return int(text) if text.strip() else None
    # First child: a new session, then the reverter, reparented to init when we exit.
    try:
        os.close(read_end)
        os.setsid()
        grandchild = os.fork()
        if grandchild:
            os.write(write_end, str(grandchild).encode())
            os._exit(0)  # pylint: disable=protected-access
        os.close(write_end)
        _detach()
        try:
            run_reverter(path, apply)
        finally:
            os._exit(0)  # pylint: disable=protected-access
    except BaseException:  # pylint: disable=broad-except
        os._exit(1)  # pylint: disable=protected-access


def _detach():
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 65536)


def run_reverter(path, apply=None, sleep=time.sleep, lock=host_lock):
    """The reverter: wait for the journal's deadline (leaving early once it is confirmed), then,
    under the host lock, undo the change unless it was confirmed. Returns the outcome written
    to the result file, or None when confirmed."""
    data = _read_json(path)
    if data is None:
        return None
    while True:
        if not os.path.exists(path):
            return None  # confirmed
        left = data["deadline"] - time.time()
        if left <= 0:
            break
        sleep(min(left, 0.25))
    directory = os.path.dirname(path)
    with lock():
        if not os.path.exists(path):
            return None
        try:
            failed = (apply or apply_undo)(data)
            outcome = dict(outcome="failed" if failed else "reverted",
                           failed=[list(item) for item in failed])
        except Exception as exc:  # pylint: disable=broad-except
            outcome = dict(outcome="failed", error=str(exc), failed=data["undo"])
        outcome.update(id=data["id"], at=time.time(), module=data.get("module"),
                       deadline=data["deadline"], undo=data["undo"])
        host_files.write_json(_result_path(directory, data["id"]), outcome)
        os.unlink(path)
    return outcome


def apply_undo(data, backend=None):
    """Run the journal's undo through the engine as its rollback runs (every rule's error
    ignored, failed recorded undos retried while that makes progress); returns the
    [(layer, args)] that could not be undone. ``backend``: a ready Backend (tests)."""
    fw = Firewall(backend or data["backend"], batch=data.get("batch", True),
                  bus_address=data.get("bus_address"))
    rules = []
    for entry in data["undo"]:
        rule = Rule.undo(entry[0], entry[1])
        rule.is_undo = entry[2:] != ["once"]
        rules.append(rule)
    return [[rule.layer, list(rule.args)] for rule in fw.run_rollback(rules)]


def confirm(revert_id, directory=None, lock=host_lock):
    """Confirm the change ``revert_id``: under the host lock, remove its journal so that the
    revert never fires. Returns dict(status=confirmed|reverted|failed|unknown, ...): what
    became of the change."""
    directory = directory or namespace_directory()
    path = _journal_path(directory, revert_id)
    with lock():
        data = _read_json(path)
        if data is not None:
            os.unlink(path)
            return dict(status="confirmed", id=revert_id, at=time.time(),
                        deadline=data["deadline"], late=time.time() > data["deadline"])
    return status(revert_id, directory)


def status(revert_id, directory=None):
    """What became of ``revert_id``: armed (still waiting), reverted, failed or unknown."""
    directory = directory or namespace_directory()
    path = _journal_path(directory, revert_id)
    data = _read_json(path)
    if data is not None:
        return dict(status="armed", id=revert_id, deadline=data["deadline"])
    result = _read_json(_result_path(directory, revert_id))
    if result is None:
        return dict(status="unknown", id=revert_id)
    return dict(result, status=result["outcome"])
