import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Firewalld, NetworkNamespace, PrivateBus, require  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def netns():
    """A fresh network namespace for this test: netfilter commands run there."""
    require("nft", "iptables", "ip6tables", "ebtables")
    with NetworkNamespace() as namespace:
        yield namespace


@pytest.fixture(scope="session")
def private_bus():
    bus = PrivateBus()
    yield bus
    bus.stop()


@pytest.fixture(params=["nftables", "iptables"])
def firewalld(request, netns, private_bus):  # pylint: disable=redefined-outer-name,unused-argument
    """firewalld (FirewallBackend=nftables, then iptables) in this test's namespace."""
    daemon = Firewalld(private_bus, request.param)
    yield daemon
    daemon.stop()
