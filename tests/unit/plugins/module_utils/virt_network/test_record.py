"""The record of what virt_network_firewall applied: written atomically and root's alone,
refused with a message naming the file when it is not one this code wrote, ignored when another
(gone) network namespace wrote it."""

import json
import os
import stat

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.record import (
    NetworkRecord,
    RecordedNetwork,
)

RULE = ("ipv4", ("--table", "filter", "--insert", "LIBVIRT_FWX", "--in-interface", "virbr1",
                 "--out-interface", "virbr1", "--jump", "ACCEPT"))


def test_round_trip_and_modes(tmp_path):
    record = NetworkRecord(str(tmp_path / "networks" / "net-1.json"))
    assert record.load() == {}
    entry = RecordedNetwork("lab", "virbr1", "iptables", [RULE], [RULE], "libvirt", {"virbr1": 7})
    record.save({"lab": entry})
    assert record.load() == {"lab": entry}
    assert stat.S_IMODE(os.stat(record.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(record.path)).st_mode) == 0o700
    assert os.listdir(os.path.dirname(record.path)) == ["net-1.json"]
    record.save({})
    assert not os.path.exists(record.path)


@pytest.mark.parametrize("text, reason", [
    ("{", "Expecting"),
    ("[]", "not a version 1 record"),
    ('{"version": 1, "networks": []}', "no networks"),
    ('{"version": 1, "networks": {"lab": {"backend": "iptables", "rules": [["eb", []]]}}}',
     "malformed rule"),
    ('{"version": 1, "networks": {"lab": {"rules": []}}}', "without a backend"),
    # What a record says reaches commands: names are checked as input is, and a rule must be
    # one of libvirt's inserts into its own chains.
    ('{"version": 1, "networks": {"lab": {"backend": "nftables", "bridge": "br0;x"}}}',
     "is not an interface name"),
    ('{"version": 1, "networks": {"lab;": {"backend": "nftables"}}}', "network name"),
    ('{"version": 1, "networks": {"lab": {"backend": "iptables", "rules": [["ipv4", '
     '["--table", "filter", "--insert", "INPUT", "--jump", "ACCEPT"]]]}}}', "malformed rule"),
    ('{"version": 1, "networks": {"lab": {"backend": "nftables", "rules": [["ipv4", '
     '["insert", "rule", "ip", "filter", "input", "accept"]]]}}}', "malformed rule"),
    ('{"version": 1, "networks": {"lab": {"backend": "nftables", "indexes": {"br0": "7"}}}}',
     "is not a number"),
])
def test_a_record_this_code_did_not_write_is_refused_naming_it(tmp_path, text, reason):
    path = tmp_path / "net-1.json"
    path.write_text(text)
    with pytest.raises(FirewallError) as caught:
        NetworkRecord(str(path)).load()
    assert str(path) in str(caught.value) and reason in str(caught.value)
    assert "remove it to start over" in str(caught.value)


def test_a_link_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"version": 1, "networks": {}}))
    link = tmp_path / "net-1.json"
    link.symlink_to(target)
    with pytest.raises(FirewallError, match="cannot be read"):
        NetworkRecord(str(link)).load()


def test_the_record_of_a_gone_namespace_is_ignored(tmp_path):
    record = NetworkRecord(str(tmp_path / "net-1.json"))
    record.save({"lab": RecordedNetwork("lab", "virbr1", "iptables", [RULE])})
    other = NetworkRecord(record.path)
    assert other.cookie is not None, "Linux 5.14+ gives every network namespace a cookie"
    other.cookie += 1
    assert other.load() == {}
