"""Module tests: exit_json and fail_json raise (see utils.py) instead of leaving the process.

They need ansible-core's module_utils: a bare Python without it (make compat's Python 3.8
venv) skips this directory, visibly; `ansible-test units --python 3.8` runs it on 3.8."""

import pytest

pytest.importorskip("ansible.module_utils.basic",
                    reason="ansible-core is not installed for this Python")

from ansible.module_utils import basic  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import (  # noqa: E402  pylint: disable=wrong-import-position
    exit_json,
    fail_json,
)


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
