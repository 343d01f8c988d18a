"""Make the checkout importable as ansible_collections.virtkit.host, as the Makefile does."""
import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "build", "collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "virtkit", "host")
if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.dirname(os.path.dirname(_COLLECTIONS)), _LINK)
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
# Helpers shared by unit and integration tests (tests/support).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
