"""Parts of the container bootstrapper: osinfo lookup, securetty, root's password hash."""

import os
import stat
import warnings

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._bootstrap import rootfs
from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.osinfo import (
    OsinfoDb,
    OsinfoError,
)
from ansible_collections.virtkit.host.tests.unit.utils.libvirt_reference import LXC

FEDORA = """<libosinfo version="0.0.1"><os id="http://fedoraproject.org/fedora/19">
<short-id>fedora19</short-id><name>Fedora 19</name><name xml:lang="de">Fedora 19 (de)</name>
<version>19</version><distro>fedora</distro><codename>Schr&#xF6;dinger's Cat</codename>
<tree arch="x86_64"><url>http://example.invalid/fedora/19/x86_64/os/</url></tree>
</os></libosinfo>"""
UBUNTU = """<libosinfo version="0.0.1"><os id="http://ubuntu.com/ubuntu/22.04">
<short-id>ubuntu22.04</short-id><short-id>ubuntujammy</short-id><name>Ubuntu 22.04 LTS</name>
<version>22.04</version><distro>ubuntu</distro><codename>Jammy Jellyfish</codename></os>
</libosinfo>"""
WINDOWS = """<libosinfo version="0.0.1"><os id="http://microsoft.com/win/11">
<short-id>win11</short-id><name>Windows 11</name><version>10.0</version><distro>win</distro>
</os></libosinfo>"""


@pytest.fixture
def database(tmp_path):
    for vendor, name, text in (("fedoraproject.org", "fedora-19.xml", FEDORA),
                               ("ubuntu.com", "ubuntu-22.04.xml", UBUNTU),
                               ("microsoft.com", "win-11.xml", WINDOWS)):
        (tmp_path / "os" / vendor).mkdir(parents=True)
        (tmp_path / "os" / vendor / name).write_text(text)
    return OsinfoDb([str(tmp_path)])


def test_lookup_and_installer(database):
    fedora = database.lookup("fedora19")
    assert (fedora.name, fedora.distro, fedora.version) == ("Fedora 19", "fedora", "19")
    assert fedora.installer == "yum" and fedora.trees == {
        "x86_64": "http://example.invalid/fedora/19/x86_64/os/"}
    ubuntu = database.lookup("ubuntujammy")
    assert ubuntu.installer == "debootstrap" and ubuntu.suite == "jammy"


def test_unknown_and_unsupported(database):
    with pytest.raises(OsinfoError, match="osid 'fedora91' is not in the osinfo database; "
                                          "close matches: fedora19"):
        database.lookup("fedora91")
    with pytest.raises(OsinfoError, match="distribution 'win' has no supported installer"):
        database.lookup("win11").installer  # pylint: disable=expression-not-assigned


def test_host_database_when_installed():
    if not os.path.isdir("/usr/share/osinfo/os"):
        if os.environ.get("CI") == "true":
            pytest.fail("osinfo-db is missing (make deps installs it)")
        pytest.skip("no osinfo database on this host")
    fedora = OsinfoDb().lookup("fedora19")
    assert fedora.installer == "yum" and "x86_64" in fedora.trees
    assert OsinfoDb().lookup("centos-stream9").installer == "dnf"
    assert OsinfoDb().lookup("debian11").suite == "bullseye"


@pytest.mark.parametrize("password, salt, rounds", [
    ("secret", "abcdefgh", 5000), ("", "x", 5000), ("ünïcode pässwörd", "0123456789abcdef", 5000),
    ("a" * 100, "saltsalt", 1000)])
def test_sha512_crypt_is_glibcs(password, salt, rounds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crypt = pytest.importorskip("crypt")  # gone from Python 3.13: the reason for ours
    setting = "$6$%s$" % salt if rounds == 5000 else "$6$rounds=%d$%s$" % (rounds, salt)
    assert rootfs.sha512_crypt(password, salt, rounds) == crypt.crypt(password, setting)
    assert rootfs.hash_matches(password, crypt.crypt(password, setting))


def test_securetty(tmp_path):
    (tmp_path / "etc").mkdir()
    assert rootfs.securetty_add(str(tmp_path))  # created
    path = tmp_path / "etc" / "securetty"
    assert path.read_text() == "pts/0\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("console\ntty1")  # no final newline
    path.chmod(0o644)
    assert rootfs.securetty_add(str(tmp_path))
    assert path.read_text() == "console\ntty1\npts/0\n" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not rootfs.securetty_add(str(tmp_path))  # never twice


def test_root_hash(tmp_path):
    (tmp_path / "etc").mkdir()
    shadow = tmp_path / "etc" / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    shadow.chmod(0o640)
    hashed = rootfs.sha512_crypt("s3cret", "salt1234")
    assert rootfs.set_root_hash(str(tmp_path), hashed)
    assert rootfs.root_hash(str(tmp_path)) == hashed
    assert shadow.read_text().splitlines()[1] == "daemon:*:19000:0:99999:7:::"
    assert stat.S_IMODE(shadow.stat().st_mode) == 0o640
    assert not rootfs.set_root_hash(str(tmp_path), hashed)
    (tmp_path / "nothing" / "etc").mkdir(parents=True)
    with pytest.raises(rootfs.ShadowError, match="has no shadow file"):
        rootfs.set_root_hash(str(tmp_path / "nothing"), hashed)


def test_domain_xml_validates_and_compares_semantically(tmp_path):
    import shutil  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.domain import (  # pylint: disable=import-outside-toplevel
        DomainError,
        LxcDomain,
        differences,
    )
    domain = LxcDomain("mycontainer", "/var/lib/libvirt/filesystems/mycontainer", memory=800,
                       idmap=(100000, 100000, 65536))
    validator = shutil.which("virt-xml-validate")
    if validator is None:
        if os.environ.get("CI") == "true":
            pytest.fail("virt-xml-validate is missing (make deps installs libvirt-clients)")
    else:
        path = tmp_path / "domain.xml"
        path.write_text(domain.xml())
        check = subprocess.run([validator, str(path), "domain"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        assert check.returncode == 0, check.stdout
    # As libvirt would print it back: defaults added, attributes reordered, MiB units.
    defined = domain.xml().replace("<vcpu>1</vcpu>", "<vcpu placement='static'>1</vcpu>").replace(
        "<memory unit=\"KiB\">819200</memory>", "<memory unit='MiB'>800</memory>"
        "<currentMemory unit='KiB'>819200</currentMemory><uuid>e21987a5-e98e-9c99-0e35-803e4d9ad1fe</uuid>")
    assert differences(domain, defined) == {}
    bigger = LxcDomain("mycontainer", "/var/lib/libvirt/filesystems/mycontainer", memory=1024,
                       idmap=(100000, 100000, 65536))
    assert differences(bigger, defined) == {"memory_kib": (819200, 1048576)}
    for kwargs, message in (({"name": "a/b"}, "name 'a/b' is not a domain name"),
                            ({"memory": 0}, "memory 0 must be a whole number of MiB, at least 1"),
                            ({"root": "relative"}, "root 'relative' is not an absolute path")):
        arguments = dict({"name": "x", "root": "/srv/x"}, **kwargs)
        with pytest.raises(DomainError, match=message):
            LxcDomain(**arguments)


def test_facts_of_libvirts_own_lxc_examples():
    from ansible_collections.virtkit.host.plugins.module_utils._bootstrap.domain import (  # pylint: disable=import-outside-toplevel
        facts_of,
    )
    with open(os.path.join(LXC, "lxc-idmap.xml")) as handle:
        facts = facts_of(handle.read())
    assert facts["name"] == "jessie" and facts["root"] == "/mach/jessie"
    assert facts["memory_kib"] == 1048576 and facts["idmap"] == (100000, 100000, 100000)
    assert facts["console"] and not facts["privnet"] and facts["init"] == "/sbin/init"
