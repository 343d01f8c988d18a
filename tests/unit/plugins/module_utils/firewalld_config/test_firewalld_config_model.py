"""The firewalld module's model: options checked and put in firewalld's shape, and how a wanted
element set combines with what firewalld holds (no DBus)."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary
from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import model


def zone(**options):
    return dict(dict(name="public", state="present", mode="merge"), **options)


def test_items_in_firewalld_shape():
    items = model.items_from({"zones": [zone(ports=["22/tcp", "100-200/tcp", "150-300/tcp",
                                                    "22/tcp", "53/udp"],
                                             target="REJECT", masquerade=True,
                                             rich_rules=["rule family=ipv4 source "
                                                         "address='10.0.0.1' accept"],
                                             forward_ports=[{"port": 2222, "protocol": "tcp",
                                                             "to_port": "22"}])],
                              "policies": [dict(name="p", ingress_zones=["public"],
                                                priority=-5)]})
    wanted = items[0].wanted
    assert wanted["ports"] == [("22", "tcp"), ("100-300", "tcp"), ("53", "udp")]
    assert wanted["target"] == "%%REJECT%%" and wanted["masquerade"] is True
    assert wanted["rules_str"] == ['rule family="ipv4" source address="10.0.0.1" accept']
    assert wanted["forward_ports"] == [("2222", "tcp", "22", "")]
    assert "services" not in wanted  # not listed: not managed
    assert items[1].kind == "policy" and items[1].wanted == {"ingress_zones": ["public"],
                                                             "priority": -5}


@pytest.mark.parametrize("options, field", [
    (dict(ports=["70000/tcp"]), "zones[0].ports[0]"),
    (dict(ports=["22"]), "zones[0].ports[0]"),
    (dict(ports=["30-20/tcp"]), "zones[0].ports[0]"),
    (dict(ports=["22/icmp"]), "zones[0].ports[0]"),
    (dict(sources=["10.0.0.0/33"]), "zones[0].sources[0]"),
    (dict(interfaces=["eth0;x"]), "zones[0].interfaces[0]"),
    (dict(services=["ssh", "a b"]), "zones[0].services[1]"),
    (dict(rich_rules=["accept"]), "zones[0].rich_rules[0]"),
    (dict(rich_rules=["rule\naccept"]), "zones[0].rich_rules[0]"),
    (dict(forward_ports=[{"port": "80", "protocol": "tcp"}]), "zones[0].forward_ports[0]"),
    (dict(forward_ports=[{"port": "80", "protocol": "tcp", "to_addr": "x"}]),
     "zones[0].forward_ports[0].to_addr"),
])
def test_bad_values_name_the_field(options, field):
    with pytest.raises(vocabulary.InvalidValue) as caught:
        model.items_from({"zones": [zone(**options)]})
    assert caught.value.field == field


def test_duplicate_names_refused():
    with pytest.raises(vocabulary.InvalidValue, match="listed twice"):
        model.items_from({"zones": [zone(), zone()]})


def test_bad_priority():
    with pytest.raises(vocabulary.InvalidValue, match="priority"):
        model.items_from({"policies": [dict(name="p", priority=0)]})


def test_merge_and_exact():
    current = [("22", "tcp"), ("100-200", "tcp")]
    assert model.desired(model.PORTS, "merge", current, [("150-300", "tcp")]) == [
        ("22", "tcp"), ("100-300", "tcp")]
    assert model.desired(model.PORTS, "exact", current, [("80", "tcp")]) == [("80", "tcp")]
    forwards = [("2222", "tcp", "22", ""), ("53", "udp", "", "10.0.0.1")]
    assert model.desired(model.FORWARDS, "merge", forwards, [("2222", "tcp", "2022", "")]) == [
        ("53", "udp", "", "10.0.0.1"), ("2222", "tcp", "2022", "")]
    assert model.desired(model.NAMES, "merge", ["ssh"], ["http", "ssh"]) == ["ssh", "http"]
    assert model.same(model.NAMES, ["a", "b"], ["b", "a"])
    assert not model.same(model.BOOL, False, True)


def test_vocabulary_additions():
    assert vocabulary.port_range(22, "f") == "22"
    assert vocabulary.port_protocol("1-65535/sctp", "f") == "1-65535/sctp"
    assert vocabulary.firewalld_source("ipset:blocked", "f") == "ipset:blocked"
    assert vocabulary.firewalld_source("52:54:00:12:34:56", "f")
    assert vocabulary.firewalld_source("fd00::/64", "f") == "fd00::/64"
    for bad in ("0", "65536", "2-1", "a", True, None, "1-2-3"):
        with pytest.raises(vocabulary.InvalidValue):
            vocabulary.port_range(bad, "f")
    for bad in (5, "ipset:a b", "host.example", ""):
        with pytest.raises(vocabulary.InvalidValue):
            vocabulary.firewalld_source(bad, "f")
