# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewalld backend: iptables-syntax rules sent as ``direct.passthrough`` calls over one
DBus connection (dbus-next), never through firewall-cmd."""

import os

from ansible_collections.virtkit.host.plugins.module_utils._dbus import SystemBus
from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallError,
    FirewallUnavailableError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    TOOLS,
    IptablesSyntaxBackend,
    undo_args,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (
    LAYER_ETHERNET,
    LAYER_IPV4,
    LAYER_IPV6,
    Command,
)

BUS_NAME = "org.fedoraproject.FirewallD1"
OBJECT_PATH = "/org/fedoraproject/FirewallD1"
DIRECT_INTERFACE = "org.fedoraproject.FirewallD1.direct"
ZONE_INTERFACE = "org.fedoraproject.FirewallD1.zone"
IPV = {LAYER_ETHERNET: "eb", LAYER_IPV4: "ipv4", LAYER_IPV6: "ipv6"}
PIPELINE_WINDOW = 32  # passthrough calls in flight at once


class FirewalldClient(SystemBus):
    """A system-bus connection that speaks to firewalld."""

    def __init__(self, address=None):
        super(FirewalldClient, self).__init__(address, "the firewalld backend")

    def firewalld_running(self):
        return self.name_has_owner(BUS_NAME)

    def zone_call(self, member, signature="", body=None):
        """A method of firewalld's zone interface; a DBus error becomes a FirewallError."""
        error, reply = self.call(BUS_NAME, OBJECT_PATH, ZONE_INTERFACE, member, signature, body)
        if error is not None:
            text = reply[0] if reply and isinstance(reply[0], str) else ""
            raise FirewallError("firewalld %s%s failed: %s: %s"
                                % (member, tuple(body or ()), error, text), dbus_error=error)
        return reply[0] if reply else None

    def passthrough(self, ipv, args):
        return self.passthrough_many([(ipv, args)])[0]

    def passthrough_many(self, calls):
        """Every ``(ipv, args)`` call pipelined (firewalld handles them in order);
        ``(error_name, body)`` per call."""
        return self.call_all([self.message(BUS_NAME, OBJECT_PATH, DIRECT_INTERFACE, "passthrough",
                                           "sas", [ipv, list(args)]) for ipv, args in calls],
                             PIPELINE_WINDOW)


def firewalld_process():
    """Whether a firewalld process runs: the question asked when there is no DBus client."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if b"firewalld" in [os.path.basename(arg) for arg in argv[:2]]:
            return True
    return False


def firewalld_running(address=None):
    """True when firewalld owns its name on the system bus; False when it does not or the bus
    cannot be reached. Without dbus-next: MissingLibraryError if a firewalld process runs
    (going around it would be wrong), else False."""
    try:
        client = FirewalldClient(address)
    except MissingLibraryError:
        if firewalld_process():
            raise
        return False
    except FirewallUnavailableError:
        return False
    try:
        return client.firewalld_running()
    finally:
        client.close()


class FirewalldBackend(IptablesSyntaxBackend):
    """Passthrough rules; one connection for a whole apply, checked once for a running firewalld.

    Runs of rules are pipelined (all calls sent, then all replies read) when running past a
    failure cannot change the outcome: every failure in the run is ignored anyway, or the group
    records undos and each rule has one, so rules that ran after the failing one are rolled back
    with the rest of the group.
    """

    name = "firewalld"
    atomic_batches = False

    def __init__(self, runner, bus_address=None, client_factory=FirewalldClient, batch=True):
        super(FirewalldBackend, self).__init__(runner)
        self._batch = batch
        self._address = bus_address
        self._client_factory = client_factory
        self._client = None

    def _connect(self):
        if self._client is None:
            client = self._client_factory(self._address)
            if not client.firewalld_running():
                client.close()
                raise FirewallUnavailableError(
                    "firewalld is not running: nothing owns %s on the system bus" % BUS_NAME)
            self._client = client
        return self._client

    def batch_key(self, rule, ignored, undoable):
        if not self._batch:
            return None
        if ignored:
            return "ignored"
        if undoable and (rule.undo_args is not None or undo_args(rule.args) is not None):
            return "undoable"
        return None

    def run_one(self, rule, echo):
        command, outcome = self.run_batch([rule], echo)[0]
        if isinstance(outcome, FirewallError):
            raise outcome
        return command, outcome

    def run_batch(self, rules, echo):
        commands = [Command([TOOLS[rule.layer][0]] + list(rule.args), transport="firewalld")
                    for rule in rules]
        if self.dry_run:
            return [(command, "") for command in commands]
        try:
            replies = self._connect().passthrough_many(
                [(IPV[rule.layer], rule.args) for rule in rules])
        except FirewallUnavailableError as exc:
            exc.command = commands[0]
            raise
        return [(command, self._outcome(command, error, body))
                for command, (error, body) in zip(commands, replies)]

    @staticmethod
    def _outcome(command, error, body):
        """The passthrough's output, or the FirewallError its DBus error stands for."""
        if error is None:
            return body[0] if body else ""
        text = body[0] if body and isinstance(body[0], str) else ""
        if error in ("org.freedesktop.DBus.Error.ServiceUnknown",
                     "org.freedesktop.DBus.Error.NameHasNoOwner"):
            return FirewallUnavailableError("firewalld stopped during the transaction: %s" % text,
                                            command=command, dbus_error=error)
        return FirewallError("%s failed: %s: %s" % (command, error, text),
                             command=command, stderr=text, dbus_error=error)

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
