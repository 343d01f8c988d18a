"""A root's creation record and its removal, on real directories (and a real tmpfs mount in a
private mount namespace)."""

import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._bootstrap import rootdir


@pytest.fixture
def made(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    root = str(base / "demo")
    staged = rootdir.staging(root)
    assert os.path.basename(staged).startswith(".demo.virtkit-new-")
    os.mkdir(os.path.join(staged, "etc"))
    rootdir.move_into_place(staged, root, "demo")
    return str(base), root


def test_record_and_refusals(tmp_path, made):
    base, root = made
    assert sorted(os.listdir(base)) == [".demo.virtkit-bootstrap", "demo"]
    assert rootdir.refusal(root, base, "demo") is None
    assert "not inside the base" in rootdir.refusal(root, str(tmp_path / "elsewhere"), "demo")
    assert "not inside the base" in rootdir.refusal(base, base, "demo")
    assert "created for the container 'demo'" in rootdir.refusal(root, base, "other")
    (tmp_path / "other").mkdir()
    os.symlink(str(tmp_path / "other"), os.path.join(base, "sub"))
    assert "through a symbolic link" in rootdir.refusal(os.path.join(base, "sub", "demo"), base,
                                                        "demo")
    plain = os.path.join(base, "plain")
    os.mkdir(plain)
    assert "has no creation record" in rootdir.refusal(plain, base, "plain")
    with pytest.raises(rootdir.RootDirError, match="appeared while it was populated"):
        rootdir.move_into_place(rootdir.staging(plain), plain, "plain")
    os.rename(root, root + ".old")
    os.symlink(root + ".old", root)
    assert "is not a directory" in rootdir.refusal(root, base, "demo")
    os.unlink(root)
    os.mkdir(root)
    assert "not the directory lxc_bootstrap created" in rootdir.refusal(root, base, "demo")


def test_remove_tree_follows_no_link(tmp_path, made):
    _base, root = made
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "file").write_text("keep")
    os.symlink(str(outside), os.path.join(root, "etc", "dirlink"))
    os.symlink(str(outside / "deep" / "file"), os.path.join(root, "filelink"))
    os.makedirs(os.path.join(root, "a", "b", "c"))
    rootdir.remove_tree(root)
    assert not os.path.lexists(root) and (outside / "deep" / "file").read_text() == "keep"


SCRIPT = """
import os, sys
sys.path[:0] = %r
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap import rootdir
root, base = sys.argv[1], sys.argv[2]
print(rootdir.refusal(root, base, "demo"))
try:
    rootdir.remove_tree(root)
except rootdir.RootDirError as exc:
    print("stopped:", exc)
print(open(os.path.join(root, "mnt", "file")).read())
"""


def test_mounts_are_refused_and_never_entered(made):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare")
    base, root = made
    os.mkdir(os.path.join(root, "mnt"))
    script = SCRIPT % (sys.path,)
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs tmpfs "$1/mnt" && echo kept > "$1/mnt/file" && exec "$0" -c "$2" "$1" "$3"',
         sys.executable, root, script, base],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("file systems are mounted at or under %s" % root), proc.stdout
    assert lines[1].startswith("stopped: %s: a file system is mounted inside it" % root)
    assert lines[2] == "kept"
