"""For plain pytest runs from the checkout (`make unit`, `make integration`).

ansible-test units provides the collection itself (its collection loader, on a copy under
ansible_collections/virtkit/host) and loads this file too: then nothing here is done. The unit
tests import everything as ansible_collections.virtkit.host...; only the integration tests
import the helpers in tests/support by their bare names."""
import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
# ansible-test loads its pytest plugin (PYTEST_PLUGINS) before any conftest.
_UNDER_ANSIBLE_TEST = "ansible_pytest_collections" in sys.modules

if not _UNDER_ANSIBLE_TEST:
    # The checkout seen as ansible_collections/virtkit/host, as the Makefile makes it (for runs
    # without the Makefile's PYTHONPATH).
    _COLLECTIONS = os.path.join(os.path.dirname(_TESTS), "build", "collections")
    _LINK = os.path.join(_COLLECTIONS, "ansible_collections", "virtkit", "host")
    if not os.path.exists(_LINK):
        os.makedirs(os.path.dirname(_LINK), exist_ok=True)
        os.symlink(os.path.dirname(_TESTS), _LINK)
    if _COLLECTIONS not in sys.path:
        sys.path.insert(0, _COLLECTIONS)
    # Helpers of the integration tests (tests/support).
    sys.path.insert(0, os.path.join(_TESTS, "support"))
