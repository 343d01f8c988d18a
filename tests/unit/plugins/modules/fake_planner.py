"""A stand-in for the host side of a module's planner (firewall/_planner.py's interface:
backend, syntax, queries, locked(), plan(), apply(); sync_zones() and uses_firewalld for
virtual networks), patched onto the planner class itself so that the module under test keeps
its own code path whatever skeleton it uses. Nothing reads or touches the host's firewall."""

import contextlib

from ansible_collections.virtkit.host.plugins.module_utils.firewall import Command


class FakePlanner(object):
    """``planned`` is what plan() returns (or makes, when callable, from what it is given); ``commands`` (argv lists) what apply() returns,
    recorded in ``ran`` unless the planner was made for check mode; ``queries`` the read-only
    commands plan() reports. ``error`` is raised at ``fail_at`` ("init", "plan" or "apply");
    at "apply" it carries the first command as what ran."""

    def __init__(self, backend="iptables", planned=None, commands=(), queries=(), error=None,
                 fail_at=None, uses_firewalld=False, zones=(), trace_lines=()):
        self.backend = backend
        self.planned = planned
        self.commands = [list(argv) for argv in commands]
        self.queries = [list(argv) for argv in queries]
        self.error = error
        self.fail_at = fail_at
        self.uses_firewalld = uses_firewalld
        self.zones = list(zones)
        self.trace_lines = list(trace_lines)
        self.created = []  # (args, kwargs) of each planner the module made
        self.wanted = None  # what the module asked plan() for
        self.plan_options = None  # and the keyword arguments it gave
        self.applied = None  # what the module gave apply()
        self.ran = []  # commands applied outside check mode
        self.calls = []  # init, lock, plan, apply, unlock: in the order they came
        self.held = False

    def _maybe_fail(self, step):
        if self.fail_at == step:
            raise self.error

    def install(self, monkeypatch, planner_class):
        fake = self

        def __init__(planner, *args, **kwargs):
            fake.calls.append("init")
            fake.created.append((args, kwargs))
            fake._maybe_fail("init")  # pylint: disable=protected-access
            planner.backend = fake.backend
            planner.syntax = "nft" if fake.backend == "nftables" else "iptables"
            planner.check_mode = kwargs.get("check_mode", False)
            planner.trace = kwargs.get("trace")
            planner.uses_firewalld = fake.uses_firewalld
            planner.queries = []

        @contextlib.contextmanager
        def locked(planner):  # pylint: disable=unused-argument
            fake.calls.append("lock")
            fake.held = True
            try:
                yield
            finally:
                fake.held = False
                fake.calls.append("unlock")

        def plan(planner, *wanted, **options):
            assert fake.held, "plan() outside the host lock"
            fake.calls.append("plan")
            fake.wanted = wanted
            fake.plan_options = options
            planner.queries = [Command(argv) for argv in fake.queries]
            if planner.trace is not None:
                for line in fake.trace_lines:
                    planner.trace(line)
            fake._maybe_fail("plan")  # pylint: disable=protected-access
            return fake.planned(*wanted) if callable(fake.planned) else fake.planned

        def apply(planner, planned):
            assert fake.held, "apply() outside the host lock"
            fake.calls.append("apply")
            fake.applied = planned
            commands = [Command(argv) for argv in fake.commands]
            if fake.fail_at == "apply":
                fake.error.commands = commands[:1]
                if not planner.check_mode:
                    fake.ran.extend(commands[:1])
                raise fake.error
            if not planner.check_mode:
                fake.ran.extend(commands)
            return commands

        def sync_zones(planner, planned):  # pylint: disable=unused-argument
            return list(fake.zones) if fake.uses_firewalld else []

        monkeypatch.setattr(planner_class, "__init__", __init__)
        monkeypatch.setattr(planner_class, "locked", locked)
        monkeypatch.setattr(planner_class, "plan", plan)
        monkeypatch.setattr(planner_class, "apply", apply)
        if hasattr(planner_class, "sync_zones"):
            monkeypatch.setattr(planner_class, "sync_zones", sync_zones)
        return self


def argvs(entries):
    """The argv of each command of a module result's commands or queries."""
    return [entry["argv"] for entry in entries]
