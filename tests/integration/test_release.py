"""The collection as users get it: built, installed into a clean collections path, run from
there with the oldest and the newest supported ansible-core, against a managed host's own
Python; execution-environment metadata; the missing-library message."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from harness import checkout, require, run

BUILD = os.path.join(checkout(), "build")
CORES = {
    "newest": os.path.dirname(sys.executable),  # the dev venv: requirements-dev.txt
    "oldest": os.path.join(BUILD, "venv-oldest", "bin"),  # requirements-oldest.txt
}
TARGETS = {
    "controller venv": sys.executable,
    "host python3": "/usr/bin/python3",  # Debian's own, nothing of ours installed
    "python 3.8": os.path.join(BUILD, "venv-py38", "bin", "python"),  # the oldest target Python
}
BARE = os.path.join(BUILD, "target-bare", "bin", "python")
# Developer files galaxy.yml's build_ignore keeps out of the tarball (paths in the collection).
DEVELOPER_ONLY = ("tests", "build", "hacking", "benchmarks", "Makefile", ".ci", ".pytest_cache",
                  "requirements-dev.txt", "requirements-oldest.txt", "requirements-molecule.txt",
                  "requirements-py38.txt", "requirements-docs.txt", "playbooks/inventory",
                  "extensions/molecule")

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: A rule, from the installed collection
      virtkit.host.firewall:
        backend: "{{ backend }}"
        rules:
          - chain: INPUT
            rule: -p tcp --dport 2222 -j ACCEPT
      register: result
    - name: It ran
      ansible.builtin.assert:
        that: result is changed
      when: backend == 'iptables'
    - name: A virtual network's firewall, from the installed collection
      virtkit.host.virt_network_firewall:
        backend: "{{ backend }}"
        networks:
          - {name: default, bridge: virbr0, forward_mode: nat,
             ips: [{address: 192.168.122.1, prefix: 24, dhcp: true}, {address: "fd00:1::1", prefix: 64}]}
      register: network
      when: backend == 'iptables'
    - name: It ran
      ansible.builtin.assert:
        that: network is changed
      when: backend == 'iptables'
"""


def tool(core, name):
    path = os.path.join(CORES[core], name)
    if not os.path.exists(path):
        require(path)  # fails under CI: make deps installs it
    return path


def clean_env(collections):
    """Only the installed copy is visible: no PYTHONPATH to the checkout."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS")}
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_HOST_KEY_CHECKING="False")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    env = clean_env(str(root / "nothing"))
    run(tool("newest", "ansible-galaxy"), "collection", "build", "--output-path", str(root),
        checkout(), env=env)
    tarballs = [name for name in os.listdir(str(root)) if name.endswith(".tar.gz")]
    assert tarballs == ["virtkit-host-0.1.0.tar.gz"]
    collections = root / "collections"
    run(tool("newest", "ansible-galaxy"), "collection", "install", str(root / tarballs[0]),
        "-p", str(collections), env=env)
    return str(collections)


def test_installed_tree(installed):
    top = os.path.join(installed, "ansible_collections", "virtkit", "host")
    for needed in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "LICENSE", "CHANGELOG.rst",
                   "plugins/modules/firewall.py", "plugins/modules/virt_network_firewall.py",
                   "plugins/module_utils/firewall/_transaction.py", "requirements.txt",
                   "bindep.txt", "meta/execution-environment.yml", "README.md",
                   "docs/docsite/extra-docs.yml", "docs/docsite/links.yml"):
        assert os.path.exists(os.path.join(top, needed)), needed
    assert os.path.exists(os.path.join(top, "playbooks", "site.yml"))
    for left_out in DEVELOPER_ONLY:
        assert not os.path.exists(os.path.join(top, left_out)), left_out
    for dirpath, dirnames, _files in os.walk(top):
        assert "molecule" not in dirnames, dirpath  # roles/*/molecule, extensions/molecule
    with open(os.path.join(top, "MANIFEST.json"), encoding="utf-8") as manifest:
        info = json.load(manifest)["collection_info"]
    for link in ("repository", "documentation", "homepage", "issues"):
        assert (info[link] or "").startswith("https://"), link


def test_build_ignore_keeps_developer_files_out(tmp_path):
    """galaxy.yml's build_ignore, on a copy of the checkout holding every kind of developer file,
    also those this checkout may not hold yet (Molecule scenarios at extensions/molecule and under
    a role, caches): none of them is in the tarball; the docsite is."""
    src = tmp_path / "src"
    listed = subprocess.run(["git", "-C", checkout(), "ls-files", "-co", "--exclude-standard", "-z"],
                            stdout=subprocess.PIPE, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        origin = os.path.join(checkout(), name)
        if os.path.isfile(origin) and not name.startswith(("build/", "tests/")):
            os.makedirs(str(src / os.path.dirname(name)), exist_ok=True)
            shutil.copy2(origin, str(src / name))
    planted = ["extensions/molecule/default/molecule.yml", "extensions/molecule/default/converge.yml",
               "roles/polkit_acl/molecule/default/molecule.yml", ".pytest_cache/README.md",
               "tests/unit/test_x.py", "hacking/x.sh", "benchmarks/x.py", "build/x",
               "requirements-docs.txt", "playbooks/inventory/x.yml", ".ci/run"]
    for name in planted:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("planted\n")
    out = tmp_path / "out"
    run(tool("newest", "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(src),
        env=clean_env(str(tmp_path / "nothing")))
    with tarfile.open(str(out / "virtkit-host-0.1.0.tar.gz")) as tarball:
        names = [name.rstrip("/") for name in tarball.getnames()]
    assert "docs/docsite/extra-docs.yml" in names and "plugins/modules/firewall.py" in names
    for name in names:
        assert "molecule" not in name.split("/"), name
        for left_out in DEVELOPER_ONLY:
            assert name != left_out and not name.startswith(left_out + "/"), name


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("core", sorted(CORES))
def test_runs_from_the_installed_copy(netns, installed, tmp_path, core, target):  # pylint: disable=unused-argument
    if not os.path.exists(TARGETS[target]):
        require(TARGETS[target])  # fails under CI: make deps makes it
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    proc = subprocess.run(
        [tool(core, "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local", str(book),
         "-e", "ansible_python_interpreter=%s" % TARGETS[target], "-e", "backend=iptables"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        env=clean_env(installed), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    module_file = os.path.join(installed, "ansible_collections", "virtkit", "host", "plugins",
                               "modules", "firewall.py")
    assert "Using module file %s" % module_file in proc.stdout
    assert "-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT" in run("iptables", "-S", "INPUT")
    assert "-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE" in run(
        "iptables", "-t", "nat", "-S", "LIBVIRT_PRT")
    assert "-A LIBVIRT_FWO -s fd00:1::/64 -i virbr0 -j ACCEPT" in run("ip6tables", "-S", "LIBVIRT_FWO")
    version = run(tool(core, "ansible"), "--version", env=clean_env(installed)).split("\n")[0]
    assert ("2.18." in version) == (core == "oldest"), version


def test_missing_library_gets_ansibles_message(netns, installed, tmp_path):  # pylint: disable=unused-argument
    """firewalld backend on a host whose Python lacks dbus-next: Ansible's standard message
    naming the package, no traceback."""
    if not os.path.exists(BARE):
        require(BARE)
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    proc = subprocess.run(
        [tool("newest", "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book),
         "-e", "ansible_python_interpreter=%s" % BARE, "-e", "backend=firewalld"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        env=clean_env(installed), check=False)
    assert proc.returncode != 0
    assert "Failed to import the required Python library (dbus-next)" in proc.stdout
    assert "Traceback" not in proc.stdout


def test_execution_environment_dependencies(installed):
    out = run(tool("newest", "ansible-builder"), "introspect", "--sanitize", installed)
    assert "dbus-next>=0.2.3  # from collection virtkit.host" in out
    assert "nftables [platform:dpkg platform:rpm]  # from collection virtkit.host" in out


def test_changelog_fragments_lint():
    env = dict(os.environ, PATH=CORES["newest"] + os.pathsep + os.environ.get("PATH", ""))
    out = run(tool("newest", "antsibull-changelog"), "lint", cwd=checkout(), env=env)
    assert out.strip() == ""
