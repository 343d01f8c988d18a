"""For the pytest integration tests (tests/conftest.py puts this directory on sys.path): the
libvirt reference data now lives in the collection, tests/unit/data/libvirt, read through
tests/unit/utils/libvirt_reference.py."""

from ansible_collections.virtkit.host.tests.unit.utils.libvirt_reference import (  # noqa: F401  pylint: disable=unused-import
    LXC,
    NETWORKS,
    NWFILTER,
    ROOT,
    read_commands,
)
