"""virtkit.host.lxc_bootstrap as a module: its inputs, the steps per state, check mode, result
keys and failures. The osinfo database is a small one of the test's; the container's host
steps (populate, login, domain, remove) are replaced by recording fakes on the Container class,
and the libvirt library by a stand-in: nothing is installed or defined."""

import pytest

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.container import Container
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.osinfo import OsinfoDb
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.populate import (
    PopulateError,
)
from ansible_collections.virtkit.host.plugins.modules import lxc_bootstrap
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

MAIN = lxc_bootstrap.main
UUID = "5f3c1e2a-0b1d-4c6e-9a55-3d2f1b0c9e77"
FEDORA = """<libosinfo version="0.0.1"><os id="http://fedoraproject.org/fedora/38">
<short-id>fedora38</short-id><name>Fedora Linux 38</name><version>38</version>
<distro>fedora</distro></os></libosinfo>"""
WINDOWS = """<libosinfo version="0.0.1"><os id="http://microsoft.com/win/11">
<short-id>win11</short-id><name>Windows 11</name><version>10.0</version><distro>win</distro>
</os></libosinfo>"""


class Steps(object):
    """Records the container steps the module runs; ``changes`` are what each step reports,
    ``errors`` what a step raises."""

    def __init__(self):
        self.calls = []
        self.containers = []
        self.changes = {"populate": ["install bash into /var/lib/libvirt/filesystems/web1"],
                        "login": ["set root's password"],
                        "domain": ["define domain web1", "start domain web1"],
                        "remove": ["undefine domain web1"]}
        self.errors = {}

    def install(self, monkeypatch):
        steps = self
        original_init = Container.__init__

        def __init__(container, params, os_info, libvirt, check_mode=False):
            original_init(container, params, os_info, libvirt, check_mode)
            steps.containers.append(container)

        def step(name):
            def run_step(container):
                steps.calls.append(name)
                if name in steps.errors:
                    raise steps.errors[name]
                container.changes.extend(steps.changes[name])
                container.diff["after"][name] = "(changed)"
                return UUID if name == "domain" else None
            return run_step

        monkeypatch.setattr(Container, "__init__", __init__)
        for name in ("populate", "login", "domain", "remove"):
            monkeypatch.setattr(Container, name, step(name))
        return self


@pytest.fixture
def steps(monkeypatch, tmp_path):
    for vendor, name, text in (("fedoraproject.org", "fedora-38.xml", FEDORA),
                               ("microsoft.com", "win-11.xml", WINDOWS)):
        (tmp_path / "os" / vendor).mkdir(parents=True)
        (tmp_path / "os" / vendor / name).write_text(text)
    original = OsinfoDb.__init__
    monkeypatch.setattr(OsinfoDb, "__init__",
                        lambda db, paths=None: original(db, [str(tmp_path)]))
    monkeypatch.setattr(lxc_bootstrap, "libvirt", object())  # the library, present
    return Steps().install(monkeypatch)


def test_a_new_container_is_populated_logged_into_defined_and_started(steps):
    result = run(MAIN, {"name": "web1", "osid": "fedora38", "packages": ["bash"],
                        "root_password_hash": "$6$salt$hash"})
    assert steps.calls == ["populate", "login", "domain"]
    assert result["os"] == {"short_id": "fedora38", "name": "Fedora Linux 38",
                            "distro": "fedora", "version": "38", "codename": None,
                            "installer": "dnf"}
    assert result["uuid"] == UUID and result["changed"] is True
    assert result["changes"] == (steps.changes["populate"] + steps.changes["login"]
                                 + steps.changes["domain"])
    container = steps.containers[0]
    assert container.params["root"] == "/var/lib/libvirt/filesystems/web1"
    assert container.check_mode is False and "diff" not in result


def test_without_osid_the_root_is_not_populated(steps):
    result = run(MAIN, {"name": "web1", "root": "/srv/web1", "state": "defined"})
    assert steps.calls == ["login", "domain"] and "os" not in result
    assert steps.containers[0].params["root"] == "/srv/web1"


def test_absent_removes_and_looks_nothing_up(steps):
    result = run(MAIN, {"name": "web1", "osid": "no-such-os", "state": "absent"})
    assert steps.calls == ["remove"] and result["changes"] == ["undefine domain web1"]
    assert "os" not in result and "uuid" not in result


def test_check_mode_reaches_the_container(steps):
    result = run(MAIN, {"name": "web1"}, check_mode=True)
    assert steps.containers[0].check_mode is True and result["changed"] is True


def test_nothing_to_do_is_no_change(steps):
    steps.changes.update(login=[], domain=[])
    result = run(MAIN, {"name": "web1"})
    assert result["changed"] is False and result["changes"] == [] and result["uuid"] == UUID


def test_diff_is_the_containers(steps):
    result = run(MAIN, {"name": "web1"}, diff=True)
    assert result["diff"] == {"before": {}, "after": {"login": "(changed)",
                                                      "domain": "(changed)"}}


def test_the_password_is_never_returned(steps):
    result = run(MAIN, {"name": "web1", "root_password": "s3cret-Pa55"})
    assert "s3cret-Pa55" not in repr(result)


def test_without_libvirt_python_ansibles_standard_message(steps, monkeypatch):
    monkeypatch.setattr(lxc_bootstrap, "libvirt", None)
    result = fail(MAIN, {"name": "web1"})
    assert result["msg"] == missing_required_lib("libvirt-python") and steps.calls == []


@pytest.mark.parametrize("args, words", [
    ({}, ["name"]),
    ({"name": "web1", "state": "paused"}, ["state"]),
    ({"name": "web1", "root_password": "a", "root_password_hash": "$6$x$y"},
     ["root_password", "root_password_hash"]),
    ({"name": "web1", "memory": "lots"}, ["memory"]),
    ({"name": "web1", "idmap": {"uid_target": 100000, "gid_target": 100000}}, ["count"]),
])
def test_bad_arguments_fail_before_anything_runs(steps, args, words):
    result = fail(MAIN, args)
    assert all(word in result["msg"] for word in words), result["msg"]
    assert steps.calls == [] and "Traceback" not in result["msg"]


@pytest.mark.parametrize("args, field", [
    ({"name": "../web1"}, "name"),
    ({"name": "web1", "root": "srv/web1"}, "root"),
    ({"name": "web1", "root_base": "relative"}, "root_base"),
    ({"name": "web1", "network": "net work"}, "network"),
    ({"name": "web1", "init": "sbin/init"}, "init"),
    ({"name": "web1", "idmap": {"uid_target": 1, "gid_target": 1, "count": 0}}, "idmap.count"),
    ({"name": "web1", "packages": ["bash", "-oDebug::pkgProblemResolver=1"]}, "packages"),
])
def test_bad_values_are_refused_naming_the_field(steps, args, field):
    result = fail(MAIN, args)
    assert field in result["msg"] and "Traceback" not in result["msg"]
    assert steps.calls == [] and result["changed"] is False


def test_a_bad_password_hash_is_named_not_shown(steps):
    result = fail(MAIN, {"name": "web1", "root_password_hash": "abc:def"})
    assert "root_password_hash" in result["msg"] and "abc:def" not in repr(result)


@pytest.mark.parametrize("osid, text", [
    ("fedora83", "osid 'fedora83' is not in the osinfo database; close matches: fedora38"),
    ("win11", "distribution 'win' has no supported installer"),
])
def test_unknown_and_unsupported_systems_fail_before_the_host_is_touched(steps, osid, text):
    result = fail(MAIN, {"name": "web1", "osid": osid})
    assert text in result["msg"] and steps.calls == []


@pytest.mark.parametrize("step, error", [
    ("populate", PopulateError("dnf install", "exit 1", "No match for argument: nosuch")),
    ("domain", OSError(13, "Permission denied")),
])
def test_a_failing_step_fails_the_task_without_a_traceback(steps, step, error):
    steps.errors[step] = error
    result = fail(MAIN, {"name": "web1", "osid": "fedora38"})
    assert result["msg"] == str(error) and "exception" not in result
    assert result["os"]["short_id"] == "fedora38"
