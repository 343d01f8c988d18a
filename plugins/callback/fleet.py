# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet
type: stdout
short_description: One line per host, then a summary of the whole fleet
version_added: 0.1.0
description:
  - A compact output for playbook runs across many hosts. Task banners are left out; when a host
    is done with a play (or with its C(serial) batch), one line tells whether it is ok, how many
    changes it made (or would make, in check mode) and which tasks made them.
  - A host that fails or cannot be reached is reported at once, with the task and the first line of
    the error, while the other hosts go on. A failure caught by a block's C(rescue), or let pass
    by C(ignore_errors) or C(ignore_unreachable), is counted on the host's line instead.
  - The run ends with the changes counted by part of the playbook (a role's tasks count as the
    role, other tasks by their name), then one summary line, the number of hosts, how many are
    ok, failed or unreachable, the number of changes and the elapsed time.
  - On a terminal (without C(-v)), the task that is running is shown on one line, which the
    next output replaces.
  - With C(--diff), each change's diff is printed under a header naming the host and the task.
    With C(-v), every task result gets its own line as it arrives. With C(-vv) and more, failed
    and changed results are printed in full.
author: virtkit.host contributors (@virtkit)
requirements:
  - Set as the stdout callback, for example with C(ANSIBLE_STDOUT_CALLBACK=virtkit.host.fleet).
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# stdout_callback = virtkit.host.fleet
#
# A run over three hosts, one of them broken (`make demo` shows a real one):
#
# Converge libvirt hosts
#   kvm3  FAILED       at "Firewall of the virtual networks": nft -ae insert rule ... Interface does not exist
#   kvm1  ok           7 changes  12.9 s  Firewall of the virtual networks, polkit_acl: Install the polkit rules, ...
#   kvm2  ok           7 changes  12.9 s  Firewall of the virtual networks, polkit_acl: Install the polkit rules, ...
# Fleet: 3 hosts (2 ok, 1 failed, 0 unreachable), 15 changes, 13.0 s
"""

import shutil
import sys
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

# Longest error text shown on a host's line (the rest is there with -vv).
_MESSAGE_LIMIT = 240


def _parts(result):
    """(host name, task, result dict) of a task result on any supported ansible-core (2.19
    renamed the private attributes to public ones)."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    data = getattr(result, "result", None)
    if data is None:
        data = result._result
    return host.get_name(), task, data


def _first_line(data):
    text = str(data.get("msg") or data.get("stderr") or data.get("reason") or "").strip()
    message = text.splitlines()[0] if text else "failed"
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT - 3] + "..."
    return message


def _short_name(task):
    """A task's name with its role's short name: "polkit_acl: Install the polkit rules"."""
    role, sep, name = task.get_name().partition(" : ")
    return "%s: %s" % (role.rsplit(".", 1)[-1], name) if sep else role


def _part(task):
    """The part of the playbook a task belongs to: its role's short name, or its own name."""
    role, sep, name = task.get_name().partition(" : ")
    return role.rsplit(".", 1)[-1] if sep else role


def _rescued(task):
    """Whether a failure of this task is caught by the rescue section of a block around it."""
    child, parent = task, getattr(task, "_parent", None)
    while parent is not None:
        if getattr(parent, "rescue", None) and _holds(getattr(parent, "block", None), child):
            return True
        child, parent = parent, getattr(parent, "_parent", None)
    return False


def _holds(items, child):
    uuid = getattr(child, "_uuid", None)
    return any(getattr(item, "_uuid", None) == uuid for item in items or ())


class _HostRecord(object):
    """What one host did in the current play or batch."""

    __slots__ = ("changes", "changed_tasks", "ignored", "rescued", "finished", "failed")

    def __init__(self):
        self.changes = 0
        self.changed_tasks = []
        self.ignored = 0
        self.rescued = 0
        self.finished = 0.0
        self.failed = None  # "FAILED" or "UNREACHABLE" once reported


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "virtkit.host.fleet"

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._started = time.time()
        self._batch_started = self._started
        self._check_mode = False
        self._only_check_mode = True  # every play so far ran in check mode
        self._play_uuid = None
        self._batch = 0
        self._hosts = {}
        self._part_changes = {}  # part of the playbook -> changes, in the order first seen
        self._progress_shown = False

    # -- helpers -------------------------------------------------------------------------------

    def _show(self, text, color=None):
        """A line of output; on a terminal it first clears the task progress line."""
        if self._progress_shown:
            self._display.display("\r\x1b[K", newline=False, screen_only=True)
            self._progress_shown = False
        self._display.display(text, color=color)

    def _progress(self, task):
        """On a terminal, without -v: the running task on one line, overwritten by the next."""
        if self._display.verbosity or not sys.stdout.isatty():
            return
        text = "  ... " + _short_name(task)
        width = shutil.get_terminal_size().columns - 1
        self._display.display("\r\x1b[K" + text[:width], color=C.COLOR_DEBUG, newline=False,
                              screen_only=True)
        self._progress_shown = True

    def _record(self, host):
        record = self._hosts.get(host)
        if record is None:
            record = self._hosts[host] = _HostRecord()
        record.finished = time.time()
        return record

    def _width(self):
        return max([len(name) for name in self._hosts] or [0])

    def _flush(self):
        """One line for each host of the batch that has not been reported as failed."""
        width = self._width()
        for host in sorted(self._hosts):
            record = self._hosts[host]
            if record.failed:
                continue
            line = "  %s  %-11s  %s  %.1f s" % (
                host.ljust(width), "ok", self._changes(record.changes), record.finished - self._batch_started)
            notes = ["%d %s" % (count, what) for count, what in
                     ((record.rescued, "rescued"), (record.ignored, "ignored failures")) if count]
            if notes:
                line += " (%s)" % ", ".join(notes)
            if record.changed_tasks:
                line += "  " + ", ".join(record.changed_tasks)
            self._show(line, color=C.COLOR_CHANGED if record.changes else C.COLOR_OK)
        self._hosts = {}

    def _changed(self, record, task):
        part = _part(task)
        self._part_changes[part] = self._part_changes.get(part, 0) + 1
        record.changes += 1
        name = _short_name(task)
        if name not in record.changed_tasks:
            record.changed_tasks.append(name)

    def _changes(self, count, check_mode=None):
        check_mode = self._check_mode if check_mode is None else check_mode
        return "%d change%s%s" % (count, "" if count == 1 else "s", " to make" if check_mode else "")

    def _verbose_line(self, host, task, status, color):
        if self._display.verbosity >= 1:
            self._show("    %s | %s | %s" % (host, status, task.get_name()), color=color)

    def _details(self, data, color):
        if self._display.verbosity >= 2:
            self._show(self._dump_results(data, indent=4), color=color)

    # -- playbook events -----------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._started = time.time()

    def v2_playbook_on_play_start(self, play):
        self._flush()
        self._batch_started = time.time()
        # The play's check_mode already defaults to the command line's --check.
        self._check_mode = bool(play.check_mode)
        self._only_check_mode = self._only_check_mode and self._check_mode
        # With serial, the same play starts once per batch.
        self._batch = self._batch + 1 if play._uuid == self._play_uuid else 1
        self._play_uuid = play._uuid
        title = play.get_name().strip() or "play"
        if self._batch > 1:
            title += " (batch %d)" % self._batch
        if self._check_mode:
            title += " [check mode]"
        self._show(title, color=C.COLOR_HIGHLIGHT)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._progress(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._progress(task)

    def v2_playbook_on_no_hosts_matched(self):
        self._show("  no hosts matched", color=C.COLOR_SKIP)

    def v2_runner_on_ok(self, result):
        host, task, data = _parts(result)
        self._handle_warnings(data)
        record = self._record(host)
        if data.get("changed", False):
            self._changed(record, task)
            self._verbose_line(host, task, "changed", C.COLOR_CHANGED)
            self._details(data, C.COLOR_CHANGED)
        else:
            self._verbose_line(host, task, "ok", C.COLOR_OK)

    def v2_runner_on_skipped(self, result):
        host, task, _data = _parts(result)
        self._record(host)
        self._verbose_line(host, task, "skipped", C.COLOR_SKIP)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host, task, data = _parts(result)
        self._handle_warnings(data)
        record = self._record(host)
        if ignore_errors or _rescued(task):
            if ignore_errors:
                record.ignored += 1
            else:
                record.rescued += 1
            if data.get("changed", False):
                self._changed(record, task)
            self._verbose_line(host, task, "failed (ignored)" if ignore_errors else "failed (rescued)",
                               C.COLOR_SKIP)
            return
        self._report(host, record, "FAILED", task, data)

    def v2_runner_on_unreachable(self, result):
        host, task, data = _parts(result)
        record = self._record(host)
        if getattr(task, "ignore_unreachable", False):
            record.ignored += 1
            self._verbose_line(host, task, "unreachable (ignored)", C.COLOR_SKIP)
            return
        self._report(host, record, "UNREACHABLE", task, data)

    def _report(self, host, record, status, task, data):
        record.failed = status
        self._show('  %s  %-11s  at "%s": %s' % (
            host.ljust(self._width()), status, task.get_name(), _first_line(data)),
            color=C.COLOR_ERROR if status == "FAILED" else C.COLOR_UNREACHABLE)
        self._details(data, C.COLOR_ERROR)

    def v2_on_file_diff(self, result):
        host, task, data = _parts(result)
        diffs = [item["diff"] for item in data.get("results", []) if item.get("diff") and item.get("changed")]
        if not diffs and data.get("diff") and data.get("changed"):
            diffs = [data["diff"]]
        for diff in diffs:
            text = self._get_diff(diff)
            if text:
                self._show("--- %s: %s" % (host, task.get_name()), color=C.COLOR_HIGHLIGHT)
                self._show(text)

    def v2_playbook_on_stats(self, stats):
        self._flush()
        hosts = sorted(stats.processed)
        totals = [stats.summarize(host) for host in hosts]
        failed = sum(1 for total in totals if total["failures"] and not total["unreachable"])
        unreachable = sum(1 for total in totals if total["unreachable"])
        changes = sum(total["changed"] for total in totals)
        line = "Fleet: %d host%s (%d ok, %d failed, %d unreachable), %s, %.1f s" % (
            len(hosts), "" if len(hosts) == 1 else "s", len(hosts) - failed - unreachable, failed,
            unreachable, self._changes(changes, self._only_check_mode and self._play_uuid is not None),
            time.time() - self._started)
        color = C.COLOR_ERROR if failed or unreachable else (C.COLOR_CHANGED if changes else C.COLOR_OK)
        self._show("Changes by part: %s" % (", ".join(
            "%s %d" % (part, count) for part, count in self._part_changes.items()) or "none"))
        self._show(line, color=color)
