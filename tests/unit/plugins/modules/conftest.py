"""Module tests: exit_json and fail_json raise (see utils.py) instead of leaving the process."""

import pytest

from ansible.module_utils import basic

from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import (
    exit_json,
    fail_json,
)


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
