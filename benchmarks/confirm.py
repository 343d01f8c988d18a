# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The added cost of a confirmed change (confirm_timeout) over an unconfirmed one, over real SSH:
a 'host' network namespace runs sshd, ansible-playbook runs in a 'controller' namespace (the
integration tests' SshHost). Each play applies N one-rule changes with virtkit.host.firewall;
the confirmed play adds confirm_timeout. Reported: the plays' wall time per task, the difference
per task, and the action plugin's own measure of the confirmation (connection reset, new
connection, firewall_confirm), with and without SSH pipelining.

    python benchmarks/confirm.py [--tasks 10] [--repeat 3]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

# pylint: disable=wrong-import-position
from test_confirmed_changes import HOST_ADDRESS, PORT, SshHost, play  # noqa: E402


def tasks(count, offset, confirm):
    text = ""
    for index in range(count):
        text += ("    - virtkit.host.firewall:\n        backend: iptables\n%s"
                 "        rules:\n          - {chain: INPUT, rule: -s 10.%d.%d.%d -j DROP}\n"
                 "      register: change\n    - debug: {msg: 'confirm_seconds={{ change.revert."
                 "confirm_seconds | default(0) }}'}\n"
                 % ("        confirm_timeout: 30\n" if confirm else "", 60 + offset // 250,
                    offset % 250, index + 1))
    return text


def ssh_floor(directory, controller, repeat=5):
    """A new SSH connection that runs ``true``, alone: the floor of a confirmation."""
    times = []
    for _repeat in range(repeat):
        started = time.monotonic()
        subprocess.run(["ip", "netns", "exec", controller, "ssh", "-o", "ControlMaster=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                        "-o", "LogLevel=ERROR", "-i", os.path.join(directory, "ssh", "id"),
                        "-p", str(PORT), "root@" + HOST_ADDRESS, "true"], check=True)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        with SshHost(directory) as (_host, controller, inventory):
            floor = ssh_floor(directory, controller)
            run = 0
            for pipelining in ("False", "True"):
                for confirm in (False, True):
                    times, confirms = [], []
                    for _repeat in range(args.repeat):
                        run += 1
                        started = time.monotonic()
                        code, out = play(directory, controller, inventory,
                                         tasks(args.tasks, run, confirm),
                                         ANSIBLE_PIPELINING=pipelining)
                        elapsed = time.monotonic() - started
                        if code != 0:
                            sys.exit("play failed:\n" + out)
                        times.append(elapsed / args.tasks)
                        confirms += [float(value) for value
                                     in re.findall(r"confirm_seconds=([0-9.]+)", out)]
                    results[pipelining, confirm] = (statistics.median(times),
                                                    statistics.median(confirms))
    print("%-12s %-22s %-22s %-14s %s" % ("pipelining", "per task, unconfirmed",
                                          "per task, confirmed", "difference",
                                          "confirmation (plugin)"))
    report = {}
    for pipelining in ("False", "True"):
        plain, confirmed = results[pipelining, False][0], results[pipelining, True]
        print("%-12s %-22s %-22s %-14s %s" % (
            pipelining, "%.3f s" % plain, "%.3f s" % confirmed[0],
            "%+.3f s" % (confirmed[0] - plain), "%.3f s" % confirmed[1]))
        report[pipelining] = dict(unconfirmed=plain, confirmed=confirmed[0],
                                  confirm_seconds=confirmed[1])
    print("a new SSH connection running true, alone: %.3f s" % floor)
    report["ssh_floor"] = floor
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
