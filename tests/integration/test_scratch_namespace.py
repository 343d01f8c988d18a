"""The scratch network namespace the modules compare rules in: empty, and a clear error
where it cannot be made (a container without CAP_SYS_ADMIN)."""

import os
import subprocess
import sys

from harness import checkout, require

from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import run_isolated

PROBE = """
from ansible_collections.virtkit.host.plugins.module_utils.firewall._state import run_isolated
try:
    run_isolated([(["iptables", "-S"], None)])
except Exception as exc:  # the message the module would fail with
    print(type(exc).__name__, exc)
"""


def test_scratch_namespace_starts_empty_and_goes_away():
    require("iptables")
    results = run_isolated([(["iptables", "-N", "SCRATCH_ONLY"], None), (["iptables", "-S"], None)])
    assert results[0][0] == 0
    assert results[1] == [0, "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N SCRATCH_ONLY\n", ""]
    assert run_isolated([(["iptables", "-S"], None)])[0][1].count("\n") == 3


def test_without_cap_sys_admin_the_error_says_what_is_missing():
    require("setpriv", "iptables")
    proc = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", sys.executable, "-c", PROBE],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False,
        env=dict(os.environ, PYTHONPATH=os.path.join(checkout(), "build", "collections")))
    assert proc.stdout.strip() == (
        "FirewallUnavailableError cannot compare rules in a scratch network namespace: [Errno 1] "
        "unshare(CLONE_NEWNET): Operation not permitted (needs CAP_SYS_ADMIN; a container must be "
        "given it)"), proc.stdout
