"""virtkit.host.firewalld on a real firewalld (private bus, the test's network namespace)."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from harness import Firewalld, run, run_module


@pytest.fixture
def daemon(netns, private_bus):  # pylint: disable=unused-argument
    daemon = Firewalld(private_bus, "nftables")
    daemon.env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
    daemon.address = private_bus.address
    yield daemon
    daemon.stop()


def module(daemon, args, **kwargs):
    return run_module("firewalld", args, env=daemon.env, **kwargs)


def settings(daemon):
    """Every zone and policy, runtime and permanent, as firewalld reports them over DBus."""
    from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import planner  # pylint: disable=import-outside-toplevel
    from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.planner import Call  # pylint: disable=import-outside-toplevel
    client = planner.Client(daemon.address)
    try:
        zones, policies = client.read([Call(planner.ZONE, "getZones"),
                                       Call(planner.POLICY, "getPolicies")], ["names"] * 2)
        czones, cpolicies = client.read([
            Call(planner.CONFIG, "getZoneNames", path=planner.CONFIG_PATH),
            Call(planner.CONFIG, "getPolicyNames", path=planner.CONFIG_PATH)], ["names"] * 2)
        runtime = client.read(
            [Call(planner.ZONE, "getZoneSettings2", "s", [z]) for z in zones]
            + [Call(planner.POLICY, "getPolicySettings", "s", [p]) for p in policies],
            list(zones) + list(policies))
        paths = client.read(
            [Call(planner.CONFIG, "getZoneByName", "s", [z], planner.CONFIG_PATH) for z in czones]
            + [Call(planner.CONFIG, "getPolicyByName", "s", [p], planner.CONFIG_PATH)
               for p in cpolicies], list(czones) + list(cpolicies))
        kinds = ["zone"] * len(czones) + ["policy"] * len(cpolicies)
        permanent = client.read(
            [Call(planner.CONFIG_OBJECT[kind], "getSettings2" if kind == "zone" else
                  "getSettings", path=path) for kind, path in zip(kinds, paths)],
            list(czones) + list(cpolicies))
    finally:
        client.close()
    plain = planner.plain
    return (dict(zip(list(zones) + ["policy " + p for p in policies], plain(runtime))),
            dict(zip(list(czones) + ["policy " + p for p in cpolicies], plain(permanent))))


def files(daemon):
    """The permanent configuration's files (firewalld's own *.old backups aside), byte for
    byte."""
    found = {}
    for root, unused, names in os.walk(daemon.directory):
        for name in names:
            if name.endswith(".xml"):
                path = os.path.join(root, name)
                with open(path, "rb") as handle:
                    found[os.path.relpath(path, daemon.directory)] = handle.read()
    return found


def ports(state, zone):
    return sorted(tuple(p) for p in state[zone].get("ports", []))


def test_check_apply_diff_idempotent(daemon):
    args = {"zones": [{"name": "public", "ports": ["8080/tcp", "49152-49215/tcp"],
                       "services": ["http"], "masquerade": True}]}
    before = settings(daemon), files(daemon)
    checked = module(daemon, args, check=True, diff=True)
    assert not checked.get("failed"), checked.get("msg")
    assert checked["changed"] and checked["calls"]
    assert checked["zones"] == [{"name": "public", "action": "changed"}]
    assert (settings(daemon), files(daemon)) == before  # check mode changed nothing
    headers = [d["before_header"] for d in checked["diff"]]
    assert headers == ["zone public (permanent)", "zone public (runtime)"]
    assert "8080/tcp" in checked["diff"][0]["after"] and "8080" not in checked["diff"][0]["before"]
    applied = module(daemon, args, diff=True)
    assert applied["changed"] and applied["calls"] == checked["calls"]
    assert applied["diff"] == checked["diff"]
    assert {c["member"] for c in applied["calls"]} == {"update2", "setZoneSettings2"}
    runtime, permanent = settings(daemon)
    for state in (runtime, permanent):
        assert ports(state, "public") == [("49152-49215", "tcp"), ("8080", "tcp")]
        assert "http" in state["public"]["services"] and state["public"]["masquerade"]
    assert b'port="8080"' in files(daemon)["zones/public.xml"]
    again = module(daemon, args, diff=True)
    assert not again["changed"] and again["calls"] == [] and again.get("diff", []) == []
    assert again["zones"] == [{"name": "public", "action": "unchanged"}]


def test_merge_exact_ranges_and_forward_retarget(daemon):
    first = module(daemon, {"zones": [{"name": "public", "ports": ["100-200/tcp", "22/udp"],
                                       "forward_ports": [{"port": "2222", "protocol": "tcp",
                                                          "to_port": "22"}]}]})
    assert first["changed"], first.get("msg")
    merged = module(daemon, {"zones": [{"name": "public", "ports": ["150-300/tcp", "180/tcp"],
                                        "forward_ports": [{"port": "2222", "protocol": "tcp",
                                                           "to_port": "2022"}]}]})
    assert merged["changed"], merged.get("msg")
    for state in settings(daemon):
        assert ports(state, "public") == [("100-300", "tcp"), ("22", "udp")]
        assert [tuple(f) for f in state["public"]["forward_ports"]] == [("2222", "tcp", "2022",
                                                                         "")]
    exact = {"zones": [{"name": "public", "mode": "exact", "ports": ["443/tcp"],
                        "services": ["ssh"]}]}
    result = module(daemon, exact)
    assert result["changed"], result.get("msg")
    for state in settings(daemon):
        assert ports(state, "public") == [("443", "tcp")]
        assert state["public"]["services"] == ["ssh"]
        assert state["public"]["forward_ports"]  # not listed: left alone
    assert not module(daemon, exact)["changed"]


def test_persist_modes(daemon):
    before_runtime, before_permanent = settings(daemon)
    before_files = files(daemon)
    result = module(daemon, {"persist": "runtime", "zones": [{"name": "public",
                                                              "ports": ["81/tcp"]}]})
    assert result["changed"], result.get("msg")
    runtime, permanent = settings(daemon)
    assert ports(runtime, "public") == [("81", "tcp")]
    assert permanent == before_permanent and files(daemon) == before_files
    result = module(daemon, {"persist": "permanent", "zones": [{"name": "public",
                                                                "ports": ["82/tcp"]}]})
    assert result["changed"], result.get("msg")
    runtime2, permanent = settings(daemon)
    assert runtime2 == runtime
    assert ports(permanent, "public") == [("82", "tcp")]
    assert b'port="82"' in files(daemon)["zones/public.xml"]
    assert before_runtime != runtime


def test_create_and_remove_zone_and_policy(daemon):
    args = {"persist": "permanent",
            "zones": [{"name": "lab", "target": "DROP", "sources": ["10.30.0.0/24"],
                       "services": ["ssh"]}],
            "policies": [{"name": "lab-out", "ingress_zones": ["lab"],
                          "egress_zones": ["public"], "target": "ACCEPT", "priority": -10}]}
    result = module(daemon, args)
    assert result["changed"], result.get("msg")
    assert result["zones"] == [{"name": "lab", "action": "created"}]
    assert result["policies"] == [{"name": "lab-out", "action": "created"}]
    permanent = settings(daemon)[1]
    assert permanent["lab"]["target"] == "DROP"
    assert permanent["policy lab-out"]["priority"] == -10
    assert not module(daemon, args)["changed"]
    both = module(daemon, {"zones": [{"name": "lab", "services": ["ssh"]}]})
    assert not both["changed"] and "reload" in str(both.get("warnings"))
    gone = module(daemon, {"persist": "permanent",
                           "zones": [{"name": "lab", "state": "absent"}],
                           "policies": [{"name": "lab-out", "state": "absent"}]})
    assert gone["changed"], gone.get("msg")
    permanent = settings(daemon)[1]
    assert "lab" not in permanent and "policy lab-out" not in permanent


def test_failure_rolls_back_runtime_and_permanent(daemon):
    # A runtime-only binding makes the task's runtime call fail after its permanent ones ran.
    assert module(daemon, {"persist": "runtime",
                           "zones": [{"name": "work", "interfaces": ["vk-dummy9"]}]})["changed"]
    before = settings(daemon), files(daemon)
    result = module(daemon, {"zones": [
        {"name": "public", "ports": ["8443/tcp"], "services": ["https"]},
        {"name": "internal", "interfaces": ["vk-dummy9"]}]})
    assert result.get("failed")
    assert "zones[1] (zone internal), runtime" in result["msg"] and "already bound" in \
        result["msg"] and "interfaces" in result["msg"]
    assert (settings(daemon), files(daemon)) == before
    assert result["zones"] == [] and result["calls"][-1]["member"] == "loadDefaults"
    # An invalid rich rule (refused by firewalld's own check) after a valid change.
    result = module(daemon, {"zones": [
        {"name": "public", "ports": ["8443/tcp"]},
        {"name": "home", "rich_rules": ['rule family="ipv4" source address="10.0.0.1" bogus']}]})
    assert result.get("failed") and "zones[1] (zone home), permanent" in result["msg"]
    assert "rich_rules" in result["msg"]
    assert (settings(daemon), files(daemon)) == before


def test_errors_name_the_field(daemon):
    result = module(daemon, {"zones": [{"name": "public", "services": ["ssh", "no-such"]}]})
    assert result.get("failed") and "zones[0].services[1]" in result["msg"]
    assert "'no-such'" in result["msg"]
    result = module(daemon, {"policies": [{"name": "p1", "ingress_zones": ["nowhere"]}]})
    assert result.get("failed") and "policies[0].ingress_zones[0]" in result["msg"]
    result = module(daemon, {"zones": [{"name": "public", "ports": ["70000/tcp"]}]})
    assert result.get("failed") and "zones[0].ports[0]" in result["msg"]
    result = module(daemon, {"zones": [{"name": "public", "sources": ["10.0.0.300"]}]})
    assert result.get("failed") and "zones[0].sources[0]" in result["msg"]
    result = module(daemon, {"zones": [{"name": "public", "state": "absent"}]})
    assert result.get("failed") and "public" in result["msg"]


def test_firewalld_not_running(netns, private_bus):  # pylint: disable=unused-argument
    result = run_module("firewalld", {"zones": [{"name": "public", "ports": ["80/tcp"]}]},
                        env={"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address})
    assert result.get("failed") and "firewalld is not running" in result["msg"]


def test_missing_dbus_library(tmp_path):
    (tmp_path / "dbus_next").mkdir()
    (tmp_path / "dbus_next" / "__init__.py").write_text("raise ImportError('hidden')\n")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                        "collections")
    result = run_module("firewalld", {"zones": [{"name": "public"}]},
                        env={"PYTHONPATH": "%s:%s" % (tmp_path, os.path.abspath(path))})
    assert result.get("failed") and "dbus-next" in result["msg"]
    assert "Failed to import the required Python library" in result["msg"]


def reachable(peer, address, port):
    proc = subprocess.run(
        ["ip", "netns", "exec", peer, sys.executable, "-c",
         "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), "
         "timeout=2).close()", address, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=False)
    return proc.returncode == 0


def test_opened_port_is_reachable_closed_is_not(daemon):
    peer = "vk-fwd-" + uuid.uuid4().hex[:8]
    run("ip", "netns", "add", peer)
    server = None
    try:
        run("ip", "link", "add", "vk-veth0", "type", "veth", "peer", "name", "vk-veth1",
            "netns", peer)
        run("ip", "addr", "add", "10.99.0.1/24", "dev", "vk-veth0")
        run("ip", "link", "set", "vk-veth0", "up")
        run("ip", "netns", "exec", peer, "ip", "addr", "add", "10.99.0.2/24", "dev", "vk-veth1")
        run("ip", "netns", "exec", peer, "ip", "link", "set", "vk-veth1", "up")
        server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "10.99.0.1",
                                   "18080"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        for unused in range(100):
            if subprocess.run(["ss", "-ltn", "sport", "= :18080"], stdout=subprocess.PIPE,
                              universal_newlines=True, check=False).stdout.count("18080"):
                break
            time.sleep(0.05)
        bind = {"name": "public", "interfaces": ["vk-veth0"]}
        assert module(daemon, {"zones": [bind]}).get("failed") is None
        assert not reachable(peer, "10.99.0.1", 18080)
        result = module(daemon, {"zones": [dict(bind, ports=["18080/tcp"])]})
        assert result["changed"], result.get("msg")
        assert reachable(peer, "10.99.0.1", 18080)
        result = module(daemon, {"zones": [dict(bind, mode="exact", ports=[])]})
        assert result["changed"], result.get("msg")
        assert not reachable(peer, "10.99.0.1", 18080)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        subprocess.run(["ip", "netns", "delete", peer], check=False)


def test_policy_between_zones_forwards_or_blocks(daemon):
    """Traffic from a namespace behind zone internal to one behind zone dmz passes only while
    a policy from internal to dmz accepts it."""
    peers = {"a": "vk-pa-" + uuid.uuid4().hex[:8], "b": "vk-pb-" + uuid.uuid4().hex[:8]}
    server = None
    try:
        for side, net in (("a", "10.98.1"), ("b", "10.98.2")):
            peer = peers[side]
            run("ip", "netns", "add", peer)
            run("ip", "link", "add", "vk-%s0" % side, "type", "veth", "peer", "name",
                "vk-%s1" % side, "netns", peer)
            run("ip", "addr", "add", net + ".1/24", "dev", "vk-%s0" % side)
            run("ip", "link", "set", "vk-%s0" % side, "up")
            run("ip", "netns", "exec", peer, "ip", "addr", "add", net + ".2/24", "dev",
                "vk-%s1" % side)
            run("ip", "netns", "exec", peer, "ip", "link", "set", "vk-%s1" % side, "up")
            run("ip", "netns", "exec", peer, "ip", "route", "add", "default", "via", net + ".1")
        run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        server = subprocess.Popen(["ip", "netns", "exec", peers["b"], sys.executable, "-m",
                                   "http.server", "--bind", "10.98.2.2", "18081"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        zones = [{"name": "internal", "interfaces": ["vk-a0"]},
                 {"name": "dmz", "interfaces": ["vk-b0"]}]
        # firewalld makes policies only in its permanent configuration: made, then reloaded.
        made = module(daemon, {"persist": "permanent", "policies": [
            {"name": "a-to-b", "target": "ACCEPT"}]})
        assert made["changed"], made.get("msg")
        from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import planner  # pylint: disable=import-outside-toplevel
        client = planner.Client(daemon.address)
        try:
            client.read([planner.Call(planner.MAIN, "reload")], ["reload"])
        finally:
            client.close()
        assert not module(daemon, {"zones": zones}).get("failed")
        deadline = time.time() + 10
        while time.time() < deadline and subprocess.run(
                ["ip", "netns", "exec", peers["b"], "ss", "-ltn", "sport", "= :18081"],
                stdout=subprocess.PIPE, universal_newlines=True,
                check=False).stdout.count("18081") == 0:
            time.sleep(0.05)
        assert not reachable(peers["a"], "10.98.2.2", 18081)
        policy = {"name": "a-to-b", "ingress_zones": ["internal"], "egress_zones": ["dmz"]}
        result = module(daemon, {"zones": zones, "policies": [policy]})
        assert result["changed"] and result["policies"] == [{"name": "a-to-b",
                                                             "action": "changed"}]
        assert reachable(peers["a"], "10.98.2.2", 18081)
        result = module(daemon, {"policies": [dict(policy, mode="exact", egress_zones=[])]})
        assert result["changed"], result.get("msg")
        assert not reachable(peers["a"], "10.98.2.2", 18081)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        for peer in peers.values():
            subprocess.run(["ip", "netns", "delete", peer], check=False,
                           stderr=subprocess.DEVNULL)


def test_every_element_kind_is_idempotent(daemon):
    """Values firewalld stores in its own spelling (rich rules, IPv6 networks, MAC addresses)
    compare equal on the next run; a built-in policy is changed and left alone again."""
    args = {"zones": [{"name": "internal",
                       "sources": ["10.30.0.0/24", "FD00:0::/64", "52:54:00:AA:BB:CC",
                                   "10.31.0.7"],
                       "icmp_blocks": ["echo-request"], "icmp_block_inversion": True,
                       "protocols": ["gre"], "source_ports": ["1024-2048/udp"],
                       "forward_ports": [{"port": "8080", "protocol": "tcp",
                                          "to_addr": "10.30.0.5", "to_port": "80"}],
                       "rich_rules": [
                           'rule family="ipv4" source address="10.0.0.0/24" service name="ssh" '
                           'log prefix="ssh " level="info" limit value="3/m" accept',
                           "rule family=ipv4 source address=10.1.0.0/24 port port=8443 "
                           "protocol=tcp reject",
                           'rule priority="-5" family="ipv4" source NOT '
                           'address="10.2.0.0/16" masquerade']}],
            "policies": [{"name": "allow-host-ipv6", "services": ["ssh"]}]}
    first = module(daemon, args)
    assert first["changed"], first.get("msg")
    assert first["policies"] == [{"name": "allow-host-ipv6", "action": "changed"}]
    again = module(daemon, args, diff=True)
    assert not again["changed"] and again["calls"] == [] and again.get("diff", []) == []


def test_interface_and_source_move_between_zones(daemon):
    """One task takes an interface and a source from one zone and gives them to another, in
    both layers: removals go first, so firewalld sees no conflict."""
    first = module(daemon, {"zones": [{"name": "work", "interfaces": ["vk-move0"],
                                       "sources": ["10.40.0.0/24"]}]})
    assert first["changed"], first.get("msg")
    moved = module(daemon, {"zones": [
        {"name": "home", "interfaces": ["vk-move0"], "sources": ["10.40.0.0/24"]},
        {"name": "work", "mode": "exact", "interfaces": [], "sources": []}]})
    assert moved["changed"], moved.get("msg")
    for state in settings(daemon):
        assert state["home"]["interfaces"] == ["vk-move0"]
        assert state["home"]["sources"] == ["10.40.0.0/24"]
        assert not state["work"].get("interfaces") and not state["work"].get("sources")
