# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules share on the Ansible side: tracing, results, the failure path, and the
skeleton of the modules on the firewall engine (run_engine_module)."""

from contextlib import contextmanager

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm


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
        confirm_timeout=dict(type="int"),
    )


def command_list(commands):
    """Commands as plain data: argv, plus the batch input and the transport when not a process."""
    return [command.to_dict() for command in commands]


def fail(module, exc, trace=None, **result):
    """Fail the task without a traceback: Ansible's standard message for a missing library,
    otherwise the error's own message (which names the field or the rule), keeping what ran so
    the operator sees how far it got."""
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


@contextmanager
def failing_on(module, errors, result, trace=None):
    """Within the block, the ``errors`` (besides MissingLibraryError) fail the task through
    fail(), with ``result`` as it is at that moment."""
    caught = (MissingLibraryError,) + tuple(errors)
    try:
        yield
    except caught as exc:  # pylint: disable=catching-non-exception
        fail(module, exc, trace, **result)


def require_library(module, present, library, user, result):
    """Fail with Ansible's standard message for ``library`` unless ``present`` (its import
    worked); ``user`` names what needs it."""
    if not present:
        fail(module, MissingLibraryError(library, user), **result)


class EngineTask(object):
    """What one module on the firewall engine adds to run_engine_module: its planner, what to
    plan, and how to report it. ``errors`` are refused like FirewallError (bad definitions,
    whose messages name the field)."""

    errors = ()
    result = {}  # result keys of the module's own, with their value before anything ran

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def planner(self, trace):
        """The planner (firewall/_planner.py's interface: backend, locked(), queries), after
        checking the input that does not depend on it."""
        raise NotImplementedError

    def wanted(self, planner):  # pylint: disable=unused-argument
        """The input that depends on the planner (its syntax), checked before the lock."""
        return None

    def plan(self, planner, wanted):
        """What to apply, read from the host (under the planner's lock)."""
        return planner.plan(wanted)

    def apply(self, planner, planned):
        """Apply the plan (under the lock); returns the commands run."""
        return planner.apply(planned)

    def report(self, planner, planned, result):
        """Add the module's own keys to the result (``changed`` is set from the commands)."""

    def diff(self, planned):
        """What --diff shows: ``(header, before, after)`` per changed thing, texts of lines."""
        return []


def _module_name(module):
    name = module._name  # pylint: disable=protected-access
    if name.endswith(".py"):
        name = name[:-3]
    return name if "." in name else "virtkit.host." + name


def run_engine_module(module, task):
    """The skeleton of the modules on the firewall engine: trace, planner, input, lock, refusal
    of a change stacked on an armed revert, plan, queries, apply, revert armed (with
    ``confirm_timeout``), result, diff, exit; any failure through fail()."""
    trace = Trace(module)
    result = dict(changed=False, commands=[], queries=[], **task.result)
    timeout = module.params.get("confirm_timeout")
    with failing_on(module, (FirewallError,) + tuple(task.errors), result, trace):
        _confirm.check_timeout(timeout)
        planner = task.planner(trace.callback)
        result["backend"] = planner.backend
        wanted = task.wanted(planner)
        with planner.locked():
            _confirm.refuse_if_armed()
            planned = task.plan(planner, wanted)
            result["queries"] = command_list(planner.queries)
            commands = task.apply(planner, planned)
            if timeout is not None:
                if commands and not module.check_mode:
                    result["revert"] = _confirm.arm(
                        _confirm.recorded_undo(planner.writers), timeout, planner.backend,
                        _module_name(module),
                        bus_address=planner.bus_address, batch=planner.batch)
                else:
                    result["revert"] = _confirm.not_armed(timeout, commands)
    result["commands"] = command_list(commands)
    result["changed"] = bool(commands)
    task.report(planner, planned, result)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = [dict(before_header=header, after_header=header, before=before,
                               after=after) for header, before, after in task.diff(planned)]
    if trace.lines:
        result["trace"] = trace.lines
    module.exit_json(**result)
