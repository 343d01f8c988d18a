"""Recording stand-ins for processes and firewalld, for tests of the commands the engine issues."""

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._firewalld import (
    FirewalldBackend,
)

ALL_TOOLS = ("iptables", "ip6tables", "ebtables", "iptables-restore", "ip6tables-restore",
             "ebtables-restore", "nft")


class FakeRunner(object):
    """Records every argv; ``fail(argv, text)`` returning a message makes a command fail;
    ``output(argv)`` gives a command's stdout."""

    dry_run = False

    def __init__(self, fail=None, output=None, installed=ALL_TOOLS, ebtables="nf_tables"):
        self.calls = []
        self._fail = fail or (lambda argv, text: None)
        self._output = output or (lambda argv: "")
        self._installed = installed
        self._ebtables = ebtables

    def which(self, tool):
        return "/usr/sbin/" + tool if tool in self._installed else None

    def run(self, argv, stdin_text=None):
        if self.which(argv[0]) is None:
            raise FirewallUnavailableError("%s: command not found" % argv[0])
        self.calls.append((list(argv), stdin_text))
        message = self._fail(argv, stdin_text)
        if message:
            return 1, "", message
        return 0, self._output(argv), ""

    def probe(self, argv):
        return 0, "ebtables 1.8.9 (%s)" % self._ebtables, ""


class FakeFirewalldClient(object):
    """Answers like firewalld's direct.passthrough; records (ipv, args) per call."""

    def __init__(self, fail=None, output=None, running=True):
        self.calls = []
        self.batches = []
        self.closed = False
        self._fail = fail or (lambda args: None)
        self._output = output or (lambda args: "")
        self._running = running

    def firewalld_running(self):
        return self._running

    def passthrough_many(self, calls):
        self.batches.append(len(calls))
        replies = []
        for ipv, args in calls:
            self.calls.append((ipv, list(args)))
            message = self._fail(list(args))
            if message:
                replies.append(("org.fedoraproject.FirewallD1.Exception",
                                ["COMMAND_FAILED: " + message]))
            else:
                replies.append((None, [self._output(list(args))]))
        return replies

    def close(self):
        self.closed = True


def firewalld_backend(client, runner=None, batch=True):
    return FirewalldBackend(runner or FakeRunner(), client_factory=lambda address: client,
                            batch=batch)
