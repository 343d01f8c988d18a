"""virt_network_firewall converges from any state: a network whose definition changed is
replaced exactly (the rules recorded for its old definition out, the new ones in), on real
iptables and nft in namespaces of the tests' own. After the rerun the ruleset is that of a
fresh apply of the new definition, byte for byte; rules nobody recorded survive; a failure in
the middle leaves the old rules in force."""

import time

import pytest

from harness import NetworkNamespace, exact_state, run, run_module

BRIDGES = ("virbr1", "virbr2", "virbr3")


def lab(**changes):
    """Network "lab" as options: NAT on virbr1, 10.20.0.0/24 with DHCP, an IPv6 address."""
    network = {"name": "lab", "bridge": "virbr1", "forward_mode": "nat",
               "ips": [{"address": "10.20.0.1", "prefix": 24, "dhcp": True},
                       {"address": "fd00:20::1", "prefix": 64}]}
    network.update(changes)
    return network


OTHER = {"name": "other", "bridge": "virbr2", "forward_mode": "route",
         "ips": [{"address": "10.30.0.1", "prefix": 24}]}

CHANGES = {
    "subnet": lab(ips=[{"address": "10.21.0.1", "prefix": 25, "dhcp": True}]),
    "bridge": lab(bridge="virbr3"),
    "forward-route": lab(forward_mode="route"),
    "forward-open": lab(forward_mode="open"),
    "forward-bridge": {"name": "lab", "forward_mode": "bridge", "bridge": "virbr1"},
    "nat-ports": lab(nat_ports={"start": 30000, "end": 39999}),
    "nat-addresses": lab(nat_addresses={"start": "203.0.113.10", "end": "203.0.113.20"}),
    "tftp": lab(ips=[{"address": "10.20.0.1", "prefix": 24, "dhcp": True, "tftp": True}]),
    "forward-dev": lab(forward_dev="eth7"),
}

# A rule made by hand in libvirt's own chains, which no network of the record holds.
HAND_RULE = {
    "iptables": (("iptables", "-w", "-I", "LIBVIRT_FWX", "-i", "hand0", "-j", "ACCEPT"),
                 ("iptables", "-w", "-D", "LIBVIRT_FWX", "-i", "hand0", "-j", "ACCEPT")),
    "nftables": (("nft", "insert rule ip libvirt_network guest_cross iifname hand0 accept"),
                 None),
}


def host():
    for bridge in BRIDGES:
        run("ip", "link", "add", bridge, "type", "bridge")


def apply(backend, *networks, **options):
    check = options.pop("_check", False)
    result = run_module("virt_network_firewall",
                        dict(options, backend=backend, networks=list(networks)),
                        check=check, diff=True)
    assert not result.get("failed"), result.get("msg")
    return result


def fresh(backend, *networks):
    """The exact state a fresh host gets from ``networks``."""
    with NetworkNamespace():
        host()
        apply(backend, *networks)
        return exact_state()


def add_hand_rule(backend):
    run(*HAND_RULE[backend][0])


def remove_hand_rule(backend):
    if backend == "iptables":
        run(*HAND_RULE[backend][1])
        return
    listing = run("nft", "-a", "list", "chain", "ip", "libvirt_network", "guest_cross")
    handle = next(line.split("# handle ")[1] for line in listing.splitlines()
                  if "hand0" in line)
    run("nft", "delete", "rule", "ip", "libvirt_network", "guest_cross", "handle", handle.strip())


def hand_rule_present(backend):
    if backend == "iptables":
        return "-A LIBVIRT_FWX -i hand0 -j ACCEPT" in run("iptables-save")
    return 'iifname "hand0" accept' in run("nft", "list", "ruleset")


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_a_changed_network_is_replaced_exactly(backend, change):
    new = CHANGES[change]
    expected = fresh(backend, OTHER, new)
    with NetworkNamespace():
        host()
        apply(backend, OTHER, lab())
        add_hand_rule(backend)
        before = exact_state()
        checked = apply(backend, OTHER, new, _check=True)
        assert checked["changed"] and exact_state() == before
        result = apply(backend, OTHER, new)
        assert [n["action"] for n in result["networks"]] == ["unchanged", "replaced"]
        assert checked["networks"] == result["networks"]
        assert result["networks"][1]["removed"] > 0
        diff = result["diff"][0]
        assert diff["before_header"] == "lab (%s)" % (new.get("bridge") or "no bridge")
        assert "10.20.0.0/24" in diff["before"] or change in ("nat-ports", "tftp", "forward-dev",
                                                              "nat-addresses")
        again = apply(backend, OTHER, new)
        assert not again["changed"] and again["commands"] == []
        assert hand_rule_present(backend)
        remove_hand_rule(backend)
        assert exact_state() == expected


def test_a_failure_in_the_middle_keeps_the_old_rules():
    """The replacement's insertions fail (nft refuses a second network's rule for a bridge that
    does not exist): the old rules stay in force and the record unchanged, so the next run
    still replaces them. (test_firewall_failures injects a failure at every command of a
    replacement on both backends.)"""
    with NetworkNamespace():
        host()
        apply("nftables", lab())
        before = exact_state()
        changed = lab(ips=[{"address": "10.22.0.1", "prefix": 24}])
        ghost = lab(name="ghost", bridge="nosuchbr0", ips=[{"address": "10.40.0.1", "prefix": 24}])
        result = run_module("virt_network_firewall", {"backend": "nftables",
                                                      "networks": [changed, ghost]})
        assert result["failed"], result
        assert exact_state() == before
        assert apply("nftables", changed)["networks"][0]["action"] == "replaced"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_purge_removes_recorded_networks_the_task_does_not_list(backend):
    expected = fresh(backend, OTHER)
    with NetworkNamespace():
        host()
        apply(backend, lab(), OTHER)
        kept = apply(backend, OTHER)
        assert not kept["changed"] and [n["name"] for n in kept["networks"]] == ["other"]
        add_hand_rule(backend)
        purged = apply(backend, OTHER, purge=True)
        assert purged["changed"]
        assert [(n["name"], n["action"]) for n in purged["networks"]] == [
            ("other", "unchanged"), ("lab", "removed")]
        assert not apply(backend, OTHER, purge=True)["changed"]
        assert hand_rule_present(backend)
        remove_hand_rule(backend)
        assert exact_state() == expected


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_a_recorded_network_is_removed_by_its_name(backend):
    expected = fresh(backend, OTHER)
    with NetworkNamespace():
        host()
        apply(backend, lab(), OTHER)
        removed = apply(backend, {"name": "lab", "state": "absent"})
        assert [(n["name"], n["action"], n["bridge"]) for n in removed["networks"]] == [
            ("lab", "removed", "virbr1")]
        assert exact_state() == expected
        again = run_module("virt_network_firewall", {
            "backend": backend, "networks": [{"name": "lab", "state": "absent"}]})
        assert again["failed"] and "none recorded here" in again["msg"]


def test_nft_rules_of_a_deleted_bridge_are_replaced():
    """nft lists a rule on a bridge that is gone by the bridge's old index: the record keeps
    the index, so the old rules are still found and taken out."""
    new = lab(bridge="virbr3")
    expected = fresh("nftables", new)
    with NetworkNamespace():
        host()
        apply("nftables", lab())
        run("ip", "link", "del", "virbr1")
        run("ip", "link", "add", "virbr1", "type", "bridge")  # made again: a new index
        result = apply("nftables", new)
        assert result["networks"][0]["action"] == "replaced", result["networks"]
        run("ip", "link", "del", "virbr1")
        run("ip", "link", "add", "virbr1", "type", "bridge")
        assert exact_state() == expected


def test_rules_another_recorded_network_has_are_kept():
    """A network renamed without purge: both names hold the same rules; removing the old name
    takes out nothing the new one still has."""
    with NetworkNamespace():
        host()
        apply("iptables", lab())
        applied = exact_state()
        assert not apply("iptables", lab(name="lab2"))["changed"]
        removed = apply("iptables", {"name": "lab", "state": "absent"})
        assert not removed["changed"] and exact_state() == applied


def test_a_reverted_change_is_replaced_by_the_next_run():
    """A change armed with a revert that nobody confirms comes undone at its deadline (the old
    rules back); the next run takes those out again and converges."""
    new = lab(ips=[{"address": "10.23.0.1", "prefix": 24}])
    expected = fresh("iptables", new)
    with NetworkNamespace():
        host()
        apply("iptables", lab())
        old = exact_state()
        armed = run_module("virt_network_firewall", {
            "backend": "iptables", "networks": [new], "confirm_timeout": 1})
        assert armed["revert"]["armed"], armed
        deadline = time.time() + 30
        while run_module("firewall_confirm", {"id": armed["revert"]["id"],
                                              "action": "status"})["status"] == "armed":
            assert time.time() < deadline
            time.sleep(0.3)
        assert exact_state() == old
        again = apply("iptables", new)
        assert again["networks"][0]["action"] == "replaced"
        assert exact_state() == expected


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_a_renamed_network_purged_takes_each_rule_out_once(backend):
    """lab renamed lab2 without purge: both hold the same rules; a purge that lists neither
    removes each rule once (counted for the first of the two)."""
    expected = fresh(backend, OTHER)
    with NetworkNamespace():
        host()
        apply(backend, lab(), OTHER)
        apply(backend, lab(name="lab2"), OTHER)
        purged = apply(backend, OTHER, purge=True)
        assert [(n["name"], n["action"]) for n in purged["networks"]] == [
            ("other", "unchanged"), ("lab", "removed"), ("lab2", "unchanged")]
        assert exact_state() == expected
        assert not apply(backend, OTHER, purge=True)["networks"][1:]


def test_rules_made_before_the_record_are_not_adopted():
    """Rules that were there before the module made them (libvirt's, or an earlier record
    lost) are not recorded by a run that finds them in place, so removing the network by its
    name leaves them."""
    import os  # pylint: disable=import-outside-toplevel
    with NetworkNamespace():
        host()
        apply("iptables", lab())
        os.unlink("/run/virtkit.host/networks/net-%d.json"
                  % os.stat("/proc/thread-self/ns/net").st_ino)
        applied = exact_state()
        assert not apply("iptables", lab())["changed"]
        removed = apply("iptables", {"name": "lab", "state": "absent"})
        assert not removed["changed"] and exact_state() == applied
