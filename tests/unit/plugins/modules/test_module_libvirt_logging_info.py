"""virtkit.host.libvirt_logging_info as a module: its options, its result in check mode and
not (never a change), and its failures. libvirtd and virt-admin are fakes on PATH."""

import os
import stat
import sys

import pytest

from ansible_collections.virtkit.host.plugins.modules import libvirt_logging_info
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run

MAIN = libvirt_logging_info.main


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """libvirtd (--version) and a virt-admin that answers, except for the socket "down"."""
    directory = tmp_path / "bin"
    directory.mkdir()
    scripts = {
        "libvirtd": "print('libvirtd (libvirt) 9.0.0')",
        "virt-admin": ("if 'down' in ' '.join(sys.argv):\n"
                       "    sys.stderr.write('error: Failed to connect to the admin server\\n')\n"
                       "    sys.exit(1)\n"
                       "print(' Logging %s: 3:stderr' % sys.argv[-1].split('-')[-1])"),
    }
    for name, script in scripts.items():
        path = directory / name
        path.write_text("#!%s\nimport sys\n%s\n" % (sys.executable, script))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s%s%s" % (directory, os.pathsep, os.environ.get("PATH", "")))
    return directory


@pytest.mark.parametrize("check_mode", [False, True])
def test_everything_is_read_in_one_run(tmp_path, tools, check_mode):  # pylint: disable=unused-argument
    config = tmp_path / "libvirtd.conf"
    config.write_text('log_outputs = "3:stderr"\n')
    (tmp_path / "file.log").write_text("")
    result = run(MAIN, {"config": str(config), "version": True,
                        "paths": [str(tmp_path / "missing" / "l.log"),
                                  str(tmp_path / "file.log" / "l.log"), str(tmp_path)],
                        "daemon": ["filters", "outputs"], "admin_uri": "test:///default"},
                 check_mode=check_mode)
    assert result["changed"] is False
    assert result["version_output"] == "libvirtd (libvirt) 9.0.0"
    assert result["config"] == {"path": str(config), "exists": True,
                                "content": 'log_outputs = "3:stderr"\n'}
    missing, under_a_file, directory = result["paths"]
    assert missing["dir"] == {"path": str(tmp_path / "missing"), "exists": False, "isdir": False,
                              "error": None}
    assert under_a_file["dir"]["isdir"] is False and under_a_file["dir"]["exists"] is True
    assert under_a_file["file"]["error"] == "Not a directory"
    assert directory["file"]["isdir"] is True
    assert result["daemon"] == {"filters": " Logging filters: 3:stderr",
                                "outputs": " Logging outputs: 3:stderr"}
    assert result["daemon_errors"] == {}


def test_the_defaults_read_only_the_configuration(tmp_path, tools, monkeypatch):  # pylint: disable=unused-argument
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # nothing is run
    result = run(MAIN, {"config": str(tmp_path / "absent.conf")})
    assert result == {"changed": False, "paths": [], "daemon": {}, "daemon_errors": {},
                      "config": {"path": str(tmp_path / "absent.conf"), "exists": False,
                                 "content": ""}}


def test_a_daemon_that_does_not_answer_is_reported_without_failing(tmp_path, tools):  # pylint: disable=unused-argument
    result = run(MAIN, {"config": str(tmp_path / "absent.conf"), "daemon": ["outputs"],
                        "admin_uri": "libvirtd:///down", "retries": 1, "delay": 0})
    assert result["changed"] is False and result["daemon"] == {}
    assert result["daemon_errors"] == {"outputs": "error: Failed to connect to the admin server"}


def test_a_configuration_that_is_a_directory_fails_naming_it(tmp_path):
    result = fail(MAIN, {"config": str(tmp_path)})
    assert result["msg"] == "the configuration %s is a directory, not a regular file" % tmp_path
    assert result["changed"] is False


def test_a_libvirtd_that_cannot_run_fails_naming_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    result = fail(MAIN, {"config": str(tmp_path / "absent.conf"), "version": True})
    assert result["msg"].startswith("libvirtd --version could not run: ")


@pytest.mark.parametrize("args, words", [
    ({"daemon": ["levels"]}, ["daemon", "filters, outputs", "levels"]),
    ({"retries": -1}, ["retries and delay must not be negative"]),
    ({"config": ""}, ["config must be a path, not empty"]),
    ({"paths": "/var/log/a.log", "bogus": 1}, ["bogus"]),
])
def test_bad_input_is_refused_naming_the_option(tmp_path, args, words):
    args = dict({"config": str(tmp_path / "absent.conf")}, **args)
    message = fail(MAIN, args)["msg"]
    assert all(word in message for word in words), message
