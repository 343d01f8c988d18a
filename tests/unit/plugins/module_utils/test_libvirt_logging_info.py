"""What the libvirt_logging role reads on a target (module_utils/_libvirt_logging_info.py): the
configuration (missing, present, not a regular file), the file outputs' directories and paths
as lstat sees them, libvirtd --version and virt-admin (real processes: fake executables on
PATH), retried as the role retried them."""

import os
import shutil
import stat
import sys
import tempfile

import pytest

from ansible_collections.virtkit.host.plugins.module_utils import _libvirt_logging_info as info


def test_a_missing_configuration_reads_as_empty(tmp_path):
    path = str(tmp_path / "libvirtd.conf")
    assert info.read_config(path) == {"path": path, "exists": False, "content": ""}


def test_a_configuration_is_read_as_it_is(tmp_path):
    path = tmp_path / "libvirtd.conf"
    text = '# comment\r\nlog_filters = "1:qemu"\nlog_level = 3'  # no final line break
    path.write_bytes(text.encode("utf-8"))
    assert info.read_config(str(path)) == {"path": str(path), "exists": True, "content": text}


def test_a_configuration_through_a_symbolic_link_is_read(tmp_path):
    (tmp_path / "real.conf").write_text("log_level = 2\n")
    os.symlink("real.conf", str(tmp_path / "libvirtd.conf"))
    assert info.read_config(str(tmp_path / "libvirtd.conf"))["content"] == "log_level = 2\n"


@pytest.mark.parametrize("make, words", [
    (lambda path: path.mkdir(), "is a directory, not a regular file"),
    (lambda path: os.mkfifo(str(path)), "is a FIFO, not a regular file"),
    (lambda path: os.symlink("nowhere", str(path)), "is a symbolic link to nothing"),
    (lambda path: path.write_bytes(b"log_level = 3 # \xff\n"), "is not UTF-8 text (byte 16)"),
], ids=["directory", "fifo", "dangling-link", "not-utf8"])
def test_a_configuration_that_is_not_a_readable_file_is_refused(tmp_path, make, words):
    path = tmp_path / "libvirtd.conf"
    make(path)
    with pytest.raises(info.ReadError) as caught:
        info.read_config(str(path))
    assert str(caught.value) == "the configuration %s %s" % (path, words)


def test_a_configuration_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    path = str(tmp_path / "file" / "libvirtd.conf")
    with pytest.raises(info.ReadError) as caught:
        info.read_config(path)
    assert str(caught.value) == "the configuration %s cannot be read: Not a directory" % path


def as_another_user(function):
    """function()'s result or its exception's text, from a process of uid 65534 when this one is
    root (root reads any file), else from this one."""
    if os.geteuid() != 0:
        try:
            return function()
        except info.ReadError as exc:
            return str(exc)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                answer = repr(function())
            except info.ReadError as exc:
                answer = str(exc)
            os.write(write_end, answer.encode())
        finally:
            os._exit(0)  # pylint: disable=protected-access
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return answer


def test_an_unreadable_configuration_is_refused():
    # In a directory another user can walk (pytest's tmp_path is root's alone).
    directory = tempfile.mkdtemp(prefix="virtkit-unreadable-")
    try:
        os.chmod(directory, 0o755)
        path = os.path.join(directory, "libvirtd.conf")
        with open(path, "w") as handle:
            handle.write("log_level = 1\n")
        os.chmod(path, 0)
        answer = as_another_user(lambda: info.read_config(path))
    finally:
        shutil.rmtree(directory)
    assert answer == "the configuration %s cannot be read: Permission denied" % path


def test_a_configuration_that_fails_as_it_is_read_is_refused():
    # /proc/self/mem is a regular file whose first page is not mapped: read() fails with EIO.
    with pytest.raises(info.ReadError, match=r"^the configuration /proc/self/mem cannot be "
                                             r"read: Input/output error$"):
        info.read_config("/proc/self/mem")


def test_output_paths_as_lstat_sees_them(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "file.log").write_text("")
    os.symlink(str(logs), str(tmp_path / "link"))
    missing, under_a_file = str(logs / "missing" / "l.log"), str(logs / "file.log" / "l.log")
    paths = [missing, under_a_file, str(logs), str(logs / "new.log"), str(logs / "file.log"),
             str(tmp_path / "link" / "l.log"), str(tmp_path / "link")]
    found = info.output_paths(paths)
    assert [entry["path"] for entry in found] == paths

    def short(entry):
        return tuple((part["exists"], part["isdir"], part["error"])
                     for part in (entry["dir"], entry["file"]))

    assert [short(entry) for entry in found] == [
        ((False, False, None), (False, False, None)),  # its directory does not exist
        ((True, False, None), (False, False, "Not a directory")),  # its directory is a file
        ((True, True, None), (True, True, None)),  # it is a directory
        ((True, True, None), (False, False, None)),  # a new file: fine
        ((True, True, None), (True, False, None)),  # an existing file: fine
        ((True, False, None), (False, False, None)),  # its directory is a link (lstat: not a dir)
        ((True, True, None), (True, False, None)),  # a link to a directory is not one (lstat)
    ]
    assert found[0]["dir"]["path"] == str(logs / "missing")
    assert found[1]["dir"]["path"] == str(logs / "file.log")


def test_a_path_lstat_cannot_take_is_an_error_not_a_failure():
    [found] = info.output_paths(["/var/log/a\x00b.log"])
    assert found["dir"]["error"] is None and found["file"]["error"]
    [found] = info.output_paths(["/tmp/" + "w" * 300 + "/l.log"])
    assert found["dir"]["error"] == "File name too long"


def fake(tmp_path, name, script):
    """An executable ``name`` in tmp_path/bin running ``script`` (Python); the PATH to it."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!%s\nimport os, sys\n%s\n" % (sys.executable, script))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return "%s%s%s" % (directory, os.pathsep, os.environ.get("PATH", ""))


def test_libvirtd_version_runs_as_an_argv_in_the_c_locale(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake(tmp_path, "libvirtd", (
        "print('libvirtd (libvirt) 9.0.0', sys.argv[1:], os.environ['LC_ALL'])")))
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    assert info.version() == "libvirtd (libvirt) 9.0.0 ['--version'] C"


def test_libvirtd_version_failures_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(info.ReadError, match=r"^libvirtd --version could not run: .*No such file"):
        info.version()
    monkeypatch.setenv("PATH", fake(tmp_path, "libvirtd", (
        "sys.stderr.write('libvirtd: broken\\n'); sys.exit(3)")))
    with pytest.raises(info.ReadError) as caught:
        info.version()
    assert str(caught.value) == "libvirtd --version failed (rc 3): libvirtd: broken"


VIRT_ADMIN = """
count = os.path.join(os.environ['VIRTKIT_TEST_DIR'], 'count')
tries = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, 'w').write(str(tries))
open(os.path.join(os.environ['VIRTKIT_TEST_DIR'], 'argv'), 'a').write(' '.join(sys.argv[1:]) + '\\n')
if tries <= int(os.environ['VIRTKIT_TEST_FAILURES']):
    sys.stderr.write('error: client socket is closed\\n')
    sys.exit(1)
print(' Logging %s: 1:*qemu*' % sys.argv[-1].split('-')[-1])
"""


@pytest.fixture
def virt_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake(tmp_path, "virt-admin", VIRT_ADMIN))
    monkeypatch.setenv("VIRTKIT_TEST_DIR", str(tmp_path))
    sleeps = []

    def tries(failures):
        monkeypatch.setenv("VIRTKIT_TEST_FAILURES", str(failures))
        return sleeps

    return tries


def test_virt_admin_answers_by_key(tmp_path, virt_admin):
    sleeps = virt_admin(0)
    answers, errors = info.daemon_log(["filters", "outputs"], "virtqemud:///system",
                                      sleep=sleeps.append)
    assert answers == {"filters": " Logging filters: 1:*qemu*",
                       "outputs": " Logging outputs: 1:*qemu*"}
    assert errors == {} and sleeps == []
    assert (tmp_path / "argv").read_text() == ("-c virtqemud:///system daemon-log-filters\n"
                                               "-c virtqemud:///system daemon-log-outputs\n")


def test_virt_admin_is_retried_while_the_daemon_goes_and_comes_back(tmp_path, virt_admin):
    sleeps = virt_admin(2)  # a daemon quitting when idle: fails twice, the third try answers
    answers, errors = info.daemon_log(["filters"], retries=2, delay=1, sleep=sleeps.append)
    assert answers == {"filters": " Logging filters: 1:*qemu*"} and errors == {}
    assert sleeps == [1, 1]
    assert (tmp_path / "argv").read_text() == "daemon-log-filters\n" * 3  # no -c: the default


def test_a_daemon_that_does_not_answer_is_reported_not_raised(tmp_path, virt_admin):
    sleeps = virt_admin(3)
    answers, errors = info.daemon_log(["filters", "outputs"], retries=2, delay=0.5,
                                      sleep=sleeps.append)
    # filters: three tries, all failed; outputs: its first try is the fourth, which answers.
    assert answers == {"outputs": " Logging outputs: 1:*qemu*"}
    assert errors == {"filters": "error: client socket is closed"}
    assert sleeps == [0.5, 0.5]


def test_a_missing_virt_admin_is_reported_too(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    answers, errors = info.daemon_log(["outputs"], retries=1, sleep=lambda delay: None)
    assert answers == {} and "No such file or directory" in errors["outputs"]
    assert "virt-admin" in errors["outputs"]


def test_read_puts_it_all_together(tmp_path, virt_admin):
    virt_admin(0)
    (tmp_path / "libvirtd.conf").write_text("log_level = 3\n")
    found = info.read(config=str(tmp_path / "libvirtd.conf"), paths=[str(tmp_path / "l.log")],
                      daemon=["outputs"])
    assert "version_output" not in found
    assert found["config"] == {"path": str(tmp_path / "libvirtd.conf"), "exists": True,
                               "content": "log_level = 3\n"}
    assert found["paths"][0]["file"] == {"path": str(tmp_path / "l.log"), "exists": False,
                                         "isdir": False, "error": None}
    assert found["daemon"] == {"outputs": " Logging outputs: 1:*qemu*"}
    assert found["daemon_errors"] == {}
    assert info.read(config=None) == {"paths": [], "daemon": {}, "daemon_errors": {}}


def test_a_configuration_path_with_a_nul_is_refused():
    with pytest.raises(info.ReadError, match=r"^the configuration '/etc/a\\x00b' cannot be read"):
        info.read_config("/etc/a\0b")
