"""Files of a container root reached inside it only: the kernel's openat2(RESOLVE_IN_ROOT) and
the Python walk used without it, on the same real directory trees."""

import os
import stat

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._bootstrap import inroot, rootfs


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    if request.param == "walk":
        monkeypatch.setattr(inroot, "USE_OPENAT2", False)
    else:
        monkeypatch.setattr(inroot, "USE_OPENAT2", None)
        with inroot.Root("/") as probe:
            os.close(probe.directory("/"))
        if inroot.USE_OPENAT2 is False:
            pytest.skip("this kernel has no openat2 with RESOLVE_IN_ROOT")
    return request.param


@pytest.fixture
def tree(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "shadow").write_text("root:$6$h$HOSTHASH:1::::::\nalice:$6$a$ALICE:1::::::\n")
    (host / "securetty").write_text("console\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc" / "shadow").chmod(0o640)
    return root, host


def _bytes(*paths):
    return [open(str(path), "rb").read() for path in paths]


def _escape(path):
    return "../" * 12 + str(path).lstrip("/")


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
def test_etc_linked_to_a_host_directory(resolver, tree, how):
    root, host = tree
    (root / "etc" / "shadow").unlink()
    (root / "etc").rmdir()
    os.symlink(str(host) if how == "absolute" else _escape(host), str(root / "etc"))
    before = _bytes(host / "shadow", host / "securetty", "/etc/shadow")
    with pytest.raises(inroot.RootPathError, match="No such file or directory"):
        rootfs.securetty_add(str(root))
    with pytest.raises(inroot.RootPathError):
        rootfs.set_root_hash(str(root), rootfs.sha512_crypt("pw", "salt"))
    with pytest.raises(inroot.RootPathError):
        rootfs.root_hash(str(root))
    assert _bytes(host / "shadow", host / "securetty", "/etc/shadow") == before


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
def test_shadow_linked_to_the_hosts_shadow(resolver, tree, how):
    root, host = tree
    (root / "etc" / "shadow").unlink()
    os.symlink(str(host / "shadow") if how == "absolute" else _escape(host / "shadow"),
               str(root / "etc" / "shadow"))
    before = _bytes(host / "shadow", "/etc/shadow")
    with pytest.raises(inroot.RootPathError):
        rootfs.root_hash(str(root))  # never reads the host's accounts
    with pytest.raises(inroot.RootPathError):
        rootfs.set_root_hash(str(root), rootfs.sha512_crypt("pw", "salt"))
    assert _bytes(host / "shadow", "/etc/shadow") == before
    assert os.path.islink(str(root / "etc" / "shadow"))


def test_links_resolve_inside_the_root(resolver, tree):
    """What the guest sees: an absolute link, or .. past the top, lands in the root's own copy."""
    root, host = tree
    decoy = root / str(host).lstrip("/")
    decoy.mkdir(parents=True)
    (decoy / "shadow").write_text("root:*:1::::::\nbob:!:1::::::\n")
    (decoy / "shadow").chmod(0o600)
    (root / "etc" / "shadow").unlink()
    os.symlink(str(host / "shadow"), str(root / "etc" / "shadow"))
    os.symlink(_escape(host / "securetty"), str(root / "etc" / "securetty"))
    (decoy / "securetty").write_text("tty1")
    (decoy / "securetty").chmod(0o644)
    before = _bytes(host / "shadow", host / "securetty")
    hashed = rootfs.sha512_crypt("pw", "salt")
    assert rootfs.set_root_hash(str(root), hashed) and rootfs.root_hash(str(root)) == hashed
    assert (decoy / "shadow").read_text() == "root:%s:1::::::\nbob:!:1::::::\n" % hashed
    assert stat.S_IMODE((decoy / "shadow").stat().st_mode) == 0o600
    assert rootfs.securetty_add(str(root))
    assert (decoy / "securetty").read_text() == "tty1\npts/0\n"
    assert stat.S_IMODE((decoy / "securetty").stat().st_mode) == 0o644
    assert _bytes(host / "shadow", host / "securetty") == before


def test_directory_links_dotdot_and_loops(resolver, tree):
    root, _host = tree
    os.symlink("b", str(root / "a"))
    os.symlink("a", str(root / "b"))
    os.symlink("sub/../../../etc", str(root / "up"))
    (root / "sub").mkdir()
    (root / "etc" / "s1").symlink_to("s2")
    (root / "etc" / "s2").symlink_to("/etc/s1")
    with inroot.Root(str(root)) as opened:
        with pytest.raises(inroot.RootPathError, match="too many levels of symbolic links"):
            opened.read("/a/etc/shadow")
        with pytest.raises(inroot.RootPathError, match="too many levels of symbolic links"):
            opened.read("/etc/s1")
        with pytest.raises(inroot.RootPathError, match="too many levels of symbolic links"):
            opened.write("/etc/s1", "x", 0o600)
        assert opened.read("/up/shadow")[0] == "root:*:19000:0:99999:7:::\n"
        assert opened.read("../../etc/shadow")[0] == "root:*:19000:0:99999:7:::\n"
        assert opened.read("/etc/missing") == (None, None)
        assert not opened.exists("/etc/s1") and opened.exists("etc/shadow")


def test_only_regular_files(resolver, tree):
    root, _host = tree
    os.mkfifo(str(root / "etc" / "securetty"))  # reading it would block forever
    with pytest.raises(inroot.RootPathError, match="is not a regular file"):
        rootfs.securetty_needs(str(root))
    with pytest.raises(inroot.RootPathError, match="is not a regular file"):
        rootfs.securetty_add(str(root))
    (root / "etc" / "securetty").unlink()
    os.mknod(str(root / "etc" / "securetty"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(inroot.RootPathError, match="is not a regular file"):
        rootfs.securetty_add(str(root))


def test_atomic_write_keeps_owner_and_mode(resolver, tree):
    root, _host = tree
    shadow = root / "etc" / "shadow"
    os.chown(str(shadow), 0, 42)
    inode = shadow.stat().st_ino
    assert rootfs.set_root_hash(str(root), rootfs.sha512_crypt("pw", "salt"))
    info = shadow.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o640, 42) and info.st_ino != inode
    assert sorted(os.listdir(str(root / "etc"))) == ["shadow"]  # no temporary left


@pytest.mark.parametrize("rounds, explicit", [(5000, True), (5000, False), (1000, True),
                                              (20000, True)])
def test_rounds_spec_is_understood(rounds, explicit):
    hashed = rootfs.sha512_crypt("pw", "saltsalt", rounds, explicit_rounds=explicit)
    assert ("rounds=" in hashed) == explicit
    assert rootfs.compare_hash("pw", hashed) == (True, None)
    assert rootfs.compare_hash("px", hashed) == (False, None)


@pytest.mark.parametrize("hashed, note", [
    ("$6$rounds=999999999$saltsalt$" + "A" * 86, "rounds=999999999 is above 1000000"),
    ("$6$rounds=1000001$saltsalt$" + "A" * 86, "rounds=1000001 is above 1000000"),
    ("$6$rounds=999$saltsalt$" + "A" * 86, "rounds=999 is below 1000"),
    ("$6$rounds=05000$saltsalt$" + "A" * 86, "not a well-formed"),
    ("$6$rounds=" + "9" * 5000 + "$s$" + "A" * 86, "not a well-formed"),
])
def test_rounds_out_of_bounds_are_not_computed(hashed, note):
    import time  # pylint: disable=import-outside-toplevel
    started = time.time()
    matches, why = rootfs.compare_hash("pw", hashed)
    assert not matches and note in why and time.time() - started < 0.5


def test_glibc_rounds_spec_when_available():
    import warnings  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crypt = pytest.importorskip("crypt")
    for setting in ("$6$rounds=5000$abc$", "$6$abc$", "$6$rounds=1234$0123456789abcdef$"):
        hashed = crypt.crypt("pw", setting)
        assert rootfs.compare_hash("pw", hashed) == (True, None), hashed
