from ansible_collections.virtkit.host.plugins.module_utils.firewall._planner import first_repeated


def test_first_repeated():
    assert first_repeated(["virbr0", "virbr1", "virbr0", "virbr1"]) == "virbr0"
    assert first_repeated(iter(["vnet0", "vnet1", "vnet1"])) == "vnet1"
    assert first_repeated(["vnet0", "vnet1"]) is None
    assert first_repeated([]) is None
