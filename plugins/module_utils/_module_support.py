# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the firewall modules share on the Ansible side: tracing, results and failures."""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    MissingLibraryError,
)


class Trace(object):
    """Collects the engine's trace when the task runs with -vvv; otherwise ``callback`` is None
    and the engine formats nothing."""

    def __init__(self, module):
        self.lines = []
        self.callback = self.lines.append if module._verbosity >= 3 else None  # pylint: disable=protected-access


def engine_options(backends=("auto", "iptables", "nftables", "firewalld")):
    """The argument spec of the options every firewall module takes (doc fragment
    virtkit.host.firewall)."""
    return dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        backend=dict(type="str", default="auto", choices=list(backends)),
        batch=dict(type="bool", default=True),
    )


def command_list(commands):
    """Commands as plain data: argv, plus the batch input and the transport when not a process."""
    return [command.to_dict() for command in commands]


def fail(module, exc, trace=None, **result):
    """Fail the task for a FirewallError (or a bad definition) without a traceback, keeping
    what ran so the operator sees how far it got."""
    if isinstance(exc, MissingLibraryError):
        module.fail_json(msg=missing_required_lib(exc.library), exception=str(exc), **result)
    ran = getattr(exc, "commands", None)
    if ran:
        result["commands"] = command_list(ran)
    if trace is not None and trace.lines:
        result["trace"] = trace.lines
    message = str(exc)
    undo_failed = getattr(exc, "undo_failed", None)
    if undo_failed:
        # The rollback left changes behind: say which, and that the host changed.
        result["changed"] = True
        message += "; the rollback could not undo: %s" % "; ".join(
            " ".join(rule.args) for rule in undo_failed)
    module.fail_json(msg=message, **result)
