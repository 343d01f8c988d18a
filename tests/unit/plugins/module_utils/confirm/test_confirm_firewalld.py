"""The firewalld module's journal: DBus values through JSON, and the undo of the calls made."""

import json

from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config import planner as real
from ansible_collections.virtkit.host.plugins.module_utils.firewall import _confirm_firewalld


class Variant(object):
    def __init__(self, signature, value):
        self.signature = signature
        self.value = value

    def __eq__(self, other):
        return (self.signature, self.value) == (other.signature, other.value)


class Call(object):
    def __init__(self, member, body):
        self.interface, self.member, self.signature, self.path = "i", member, "s", "/p"
        self.body = body


class Step(object):
    def __init__(self, name):
        self.name = name
        self.undo = lambda reply: Call("undo-" + name, [reply, {"ports": Variant(
            "a(ss)", [["22", "tcp"]])}])


class Planner(object):
    """What apply() left: each changed step with its call's reply, in the order they ran."""

    undo_calls = real.Planner.undo_calls

    def __init__(self, done):
        self.done = done


def test_values_survive_json():
    value = ["public", {"ports": Variant("a(ss)", [["80", "tcp"]]),
                        "target": Variant("s", "default"),
                        "nested": Variant("v", Variant("b", True))}]
    text = json.dumps(_confirm_firewalld.encode(value))
    assert _confirm_firewalld.decode(Variant, json.loads(text)) == value


def test_undo_is_every_step_newest_first_with_its_reply():
    planner = Planner([(Step("a"), "/path/a"), (Step("b"), "/path/b"), (Step("c"), None)])
    undo = _confirm_firewalld.undo_calls(planner)
    assert [entry["member"] for entry in undo] == ["undo-c", "undo-b", "undo-a"]
    assert undo[1]["body"][0] == "/path/b"
    assert undo[0]["body"][1] == {"dict": [["ports", {"variant": ["a(ss)", [["22", "tcp"]]]}]]}
