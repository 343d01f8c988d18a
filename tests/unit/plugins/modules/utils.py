"""Running a module's main() in-process, set_module_args style: the module's arguments are
patched in, exit_json and fail_json raise AnsibleExitJson / AnsibleFailJson with the result."""

import contextlib
import json

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # older: the module reads basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


class AnsibleExitJson(Exception):
    """exit_json was called; ``result`` is what the module returned."""

    def __init__(self, result):
        super(AnsibleExitJson, self).__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """fail_json was called; ``result`` holds msg and the other keys."""

    def __init__(self, result):
        super(AnsibleFailJson, self).__init__(result)
        self.result = result


def exit_json(self, **kwargs):  # pylint: disable=unused-argument
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):  # pylint: disable=unused-argument
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


def module_args(args, check_mode=False, diff=False, verbosity=0):
    """The arguments as the controller sends them (check mode, diff and verbosity included)."""
    args = dict(args)
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff,
                _ansible_verbosity=verbosity)
    return args


def run(main, args, check_mode=False, diff=False, verbosity=0):
    """Run ``main`` with ``args``: the result of exit_json, or AnsibleFailJson raised."""
    with patch_module_args(module_args(args, check_mode, diff, verbosity)):
        try:
            main()
        except AnsibleExitJson as exc:
            return exc.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


def fail(main, args, check_mode=False, diff=False):
    """Run ``main`` with ``args``, which must fail: fail_json's result."""
    with patch_module_args(module_args(args, check_mode, diff)):
        try:
            main()
        except AnsibleFailJson as exc:
            return exc.result
        except AnsibleExitJson as exc:
            raise AssertionError("the module succeeded: %r" % (exc.result,))
    raise AssertionError("the module returned without calling exit_json or fail_json")
