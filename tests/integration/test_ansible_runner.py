"""playbooks/site.yml run the way AWX and Automation Platform run it: through ansible-runner's
Python API, from the collection as its built tarball installs it (not from this checkout), on
a fleet of libvirt hosts (podman containers from hacking/podman_fleet.py, names of their own).
What is checked comes from the job events and the artifacts directory, not from the output."""

import glob
import json
import os
import subprocess
import sys

import pytest
from harness import checkout, require

sys.path.insert(0, os.path.join(checkout(), "hacking"))
import podman_fleet  # noqa: E402  pylint: disable=wrong-import-position,import-error

try:
    import ansible_runner
except ImportError:  # pragma: no cover
    ansible_runner = None

HOSTS = ("kvm1", "kvm2", "kvm3")
PREFIX = "virtkit-runner-"
VENV_BIN = os.path.join(checkout(), "build", "venv", "bin")


def require_runner():
    if ansible_runner is None:
        message = "missing: the ansible_runner Python package (make deps installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built with ansible-galaxy and installed from its tarball, offline."""
    require_runner()
    top = tmp_path_factory.mktemp("collection")
    galaxy = os.path.join(VENV_BIN, "ansible-galaxy")
    # Only the new directory: the checkout's own link (build/collections, also on the
    # PYTHONPATH the Makefile sets) must not count as the collection being installed already.
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(top / "tmp"), HOME=str(top),
               ANSIBLE_COLLECTIONS_PATH=str(top / "collections"), PYTHONPATH="")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(top / "dist"), checkout()],
                   check=True, stdout=subprocess.PIPE, env=env)
    tarball, = glob.glob(str(top / "dist" / "virtkit-host-*.tar.gz"))
    subprocess.run([galaxy, "collection", "install", "--offline", "-p", str(top / "collections"),
                    tarball], check=True, stdout=subprocess.PIPE, env=env)
    site = top / "collections" / "ansible_collections" / "virtkit" / "host" / "playbooks" / "site.yml"
    assert site.is_file()
    assert not (site.parent / "inventory").exists()  # build_ignore: the demo inventory stays out
    return str(top / "collections"), str(site)


NAT = {"name": "default", "bridge": "virbr0", "forward_mode": "nat",
       "ips": [{"address": "192.168.122.1", "prefix": 24, "dhcp": True}]}
# The firewall, access control and logging parts of the demo inventory (playbooks/inventory/
# demo.yml), which also has parts that need privileged hosts; hosts reached with podman exec.
INVENTORY = {"libvirt_hosts": {
    "hosts": {
        "kvm1": {"ansible_host": PREFIX + "kvm1", "virt_network_firewall_backend": "nftables",
                 "virt_networks": [NAT]},
        "kvm2": {"ansible_host": PREFIX + "kvm2", "virt_network_firewall_backend": "iptables",
                 "virt_networks": [NAT, {"name": "lab", "bridge": "virbr5", "forward_mode": "route",
                                         "ips": [{"address": "10.5.0.1", "netmask": "255.255.255.0"},
                                                 {"address": "fd00:5::1", "prefix": 64}]}]},
        "kvm3": {"ansible_host": PREFIX + "kvm3",
                 "virt_networks": [NAT, {"name": "isolated", "bridge": "virbr9",
                                         "ips": [{"address": "10.9.0.1", "prefix": 24, "dhcp": True}]}]},
    },
    "vars": {
        "ansible_connection": "fleet_podman",
        "ansible_python_interpreter": "/usr/bin/python3",
        "site_become": False,
        "site_confirm_timeout": 30,
        "polkit_acl_rules": [
            {"name": "the web team may connect and list", "user": "webteam",
             "actions": ["connect.getattr", "connect.search_domains"]},
        ],
        "libvirt_logging_level": 3,
        "libvirt_logging_filters": [{"level": 1, "match": "util.firewall"}],
        "libvirt_logging_outputs": [{"level": 1, "type": "file", "path": "/var/log/libvirt/libvirtd.log"}],
    },
}}


@pytest.fixture
def fleet(tmp_path):
    """Three fresh hosts named virtkit-runner-kvm* (none of the demo's names), and an
    inventory of them."""
    require("podman", "crun", "debootstrap", "nsenter")
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(INVENTORY))
    with podman_fleet.Fleet([PREFIX + host for host in HOSTS]) as running:
        # Debian runs libvirtd with --timeout 120: idle for two minutes, it exits, and a client
        # connecting while it does gets "client socket is closed". On a busy machine the jobs
        # leave such gaps; the hosts keep their daemon running instead.
        for host in HOSTS:
            running.exec(PREFIX + host, "sh", "-c", "echo LIBVIRTD_ARGS= >> /etc/default/libvirtd"
                         " && systemctl try-restart libvirtd.service")
        running.inventory = str(path)
        yield running


def run_job(fleet, installed, private_data_dir, ident, cmdline=None):
    """One job in a private data directory of its own (ansible-runner keeps a job's cmdline,
    envvars and inventory in it, and a later job in the same directory would inherit them)."""
    collections, site = installed
    private_data_dir.mkdir()
    envvars = dict(fleet.env)
    envvars.update({
        "PATH": VENV_BIN + os.pathsep + fleet.env.get("PATH", os.environ["PATH"]),
        "ANSIBLE_COLLECTIONS_PATH": collections,  # only the installed tarball
        "PYTHONPATH": "",
        "ANSIBLE_CONNECTION_PLUGINS": os.path.join(checkout(), "hacking", "fleet", "connection_plugins"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "True",
    })
    return ansible_runner.run(private_data_dir=str(private_data_dir), ident=ident, playbook=site,
                              inventory=fleet.inventory, envvars=envvars, cmdline=cmdline,
                              quiet=True)


def stats(runner):
    """Per-host counts from the job's playbook_on_stats event."""
    events = [event for event in runner.events if event["event"] == "playbook_on_stats"]
    assert len(events) == 1, [event["event"] for event in runner.events]
    data = events[0]["event_data"]
    return {host: {key: data.get(key, {}).get(host, 0)
                   for key in ("ok", "changed", "failures", "dark", "skipped")}
            for host in HOSTS}


def host_events(runner, name):
    counts = dict.fromkeys(HOSTS, 0)
    for event in runner.events:
        if event["event"] == name:
            counts[event["event_data"]["host"]] += 1
    return counts


def check_artifacts(runner, check_mode=False, status="successful", rc=0):
    """What a controller keeps of a job: the command, stdout, status, rc and one JSON file per
    event."""
    artifacts = runner.config.artifact_dir
    with open(os.path.join(artifacts, "command")) as handle:
        command = json.load(handle)["command"]
    assert command[0] == "ansible-playbook" and command[-1].endswith("/playbooks/site.yml")
    assert ("--check" in command) == check_mode, command
    with open(os.path.join(artifacts, "status")) as handle:
        assert handle.read().strip() == status
    with open(os.path.join(artifacts, "rc")) as handle:
        assert int(handle.read()) == rc
    with open(os.path.join(artifacts, "stdout")) as handle:
        assert "PLAY RECAP" in handle.read()
    files = glob.glob(os.path.join(artifacts, "job_events", "*.json"))
    assert len(files) == len(list(runner.events)) and files
    kinds = set()
    for name in files:
        with open(name) as handle:
            kinds.add(json.load(handle)["event"])
    assert {"playbook_on_start", "playbook_on_task_start", "runner_on_ok",
            "playbook_on_stats"} <= kinds, kinds
    return kinds


def test_site_through_ansible_runner(fleet, installed, tmp_path):
    host_rules = {host: fleet.exec(PREFIX + host, "nft", "list", "ruleset").stdout for host in HOSTS}

    # A check-mode job template (--check --diff): every host would change, none does.
    check = run_job(fleet, installed, tmp_path / "check", "check", "--check --diff")
    assert (check.status, check.rc) == ("successful", 0), check.stdout.read()[-4000:]
    counts = stats(check)
    for host in HOSTS:
        assert counts[host]["ok"] > 0 and counts[host]["changed"] > 0, counts
        assert counts[host]["failures"] == 0 and counts[host]["dark"] == 0, counts
        assert fleet.exec(PREFIX + host, "nft", "list", "ruleset").stdout == host_rules[host]
    check_artifacts(check, check_mode=True)
    assert host_events(check, "runner_on_failed") == dict.fromkeys(HOSTS, 0)
    would_change = {host: counts[host]["changed"] for host in HOSTS}

    apply = run_job(fleet, installed, tmp_path / "apply", "apply")
    assert (apply.status, apply.rc) == ("successful", 0), apply.stdout.read()[-4000:]
    counts = stats(apply)
    for host in HOSTS:
        assert counts[host]["ok"] > 0 and counts[host]["failures"] == 0 and counts[host]["dark"] == 0
    assert {host: counts[host]["changed"] for host in HOSTS} == would_change, counts
    check_artifacts(apply)
    ok_events = host_events(apply, "runner_on_ok")
    assert all(ok_events[host] > 0 for host in HOSTS), ok_events
    assert host_events(apply, "runner_on_failed") == dict.fromkeys(HOSTS, 0)
    assert host_events(apply, "runner_on_unreachable") == dict.fromkeys(HOSTS, 0)
    # The inventory arms site_confirm_timeout: each host's firewall change was confirmed by the
    # controller over a new connection (a result of the virt_network_firewall task).
    confirmed = {event["event_data"]["host"] for event in apply.events
                 if event["event"] == "runner_on_ok"
                 and (event["event_data"].get("res") or {}).get("revert", {}).get("confirmed") is True}
    assert confirmed == set(HOSTS), confirmed
    for host in HOSTS:
        assert "192.168.122.0/24" in fleet.exec(PREFIX + host, "nft", "list", "ruleset").stdout

    again = run_job(fleet, installed, tmp_path / "again", "again")
    assert (again.status, again.rc) == ("successful", 0), again.stdout.read()[-4000:]
    counts = stats(again)
    for host in HOSTS:
        assert counts[host]["ok"] > 0 and counts[host]["changed"] == 0, counts
        assert counts[host]["failures"] == 0 and counts[host]["dark"] == 0, counts
    check_artifacts(again)
