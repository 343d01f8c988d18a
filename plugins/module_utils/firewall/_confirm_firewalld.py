# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confirmed changes of the firewalld module: its undo calls (the inverse of every call that
ran, newest first, as its rollback would send them) in a journal, and the reverter's side that
sends them to firewalld over a new DBus connection."""

from ansible_collections.virtkit.host.plugins.module_utils._firewalld_config.planner import (
    Call,
    Client,
)


def encode(value):
    """A DBus value as JSON data: Variants and dicts tagged, structs as lists."""
    if hasattr(value, "signature") and hasattr(value, "value"):
        return {"variant": [value.signature, encode(value.value)]}
    if isinstance(value, dict):
        return {"dict": [[key, encode(element)] for key, element in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode(element) for element in value]
    return value


def decode(variant, value):
    """The inverse of encode(); ``variant(signature, value)`` makes a Variant."""
    if isinstance(value, dict):
        if "variant" in value:
            signature, inner = value["variant"]
            return variant(signature, decode(variant, inner))
        return dict((key, decode(variant, element)) for key, element in value["dict"])
    if isinstance(value, list):
        return [decode(variant, element) for element in value]
    return value


def undo_calls(planner):
    """The calls that undo a successful ``planner.apply()``, newest first, as data for the
    journal."""
    return [dict(interface=call.interface, member=call.member, path=call.path,
                 signature=call.signature, body=encode(call.body))
            for call in planner.undo_calls()]


def apply_undo(data):
    """Send the journal's undo calls to firewalld (pipelined, in order); returns the
    [member, error text] of those that failed."""
    client = Client(data.get("bus_address"))
    try:
        calls = [Call(entry["interface"], entry["member"], entry["signature"],
                      decode(client.variant, entry["body"]), entry["path"])
                 for entry in data["undo"]]
        replies = client.send(calls)
    finally:
        client.close()
    return [[call.member, text] for call, (error, text) in zip(calls, replies)
            if error is not None]
