# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How playbooks/site.yml scales over a fleet of demo hosts (podman containers).

For each fleet size, N hosts with kvm3's settings of playbooks/inventory/demo.yml are started
(containers virtkit-bench-host01..NN, hacking/podman_fleet.py's image and Fleet class), and
site.yml runs on them in check mode, for real and again (the idempotent rerun), through each
connection asked for. Printed: wall time, time per host, CPU seconds (the whole machine from
/proc/stat, which counts detached helpers such as fleet_podman's channels; the controller's
processes; the containers' cgroups), memory per host (podman stats after the runs) and the
changes each run made (the virtkit.host.fleet summary line).

    build/venv/bin/python benchmarks/fleet.py [--hosts 3,10,25]
        [--connections fleet_podman,containers.podman] [--runs check,apply,rerun,rerun]
        [--forks N] [--env KEY=VALUE ...] [--arg=--ANSIBLE-OPTION ...] [--profile DIR]
        [--playbook FILE] [--collections DIR]

--env and --arg measure a candidate (ANSIBLE_STRATEGY=free, ANSIBLE_PIPELINING=False, ...) in
the same fleet as the baseline; --playbook/--collections point at a modified copy of the
checkout; --profile writes each run's output with the profile_tasks and timer callbacks.
--forks defaults to the number of hosts. Many systemd containers need more inotify instances
than this machine kind has (128: containers past about 22 exit 255 at boot): the fleet
(podman_fleet.Fleet) raises fs.inotify.max_user_instances / max_user_watches for its host count
(never lowers them) and says so.
"""

import argparse
import json
import os
import glob
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "hacking"))

import yaml  # noqa: E402  pylint: disable=wrong-import-position

from podman_fleet import SITE, SUMMARY, Fleet, kvm3_copies  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = "virtkit-bench-host"
# containers.podman comes with the pip ansible package of the Molecule venv.
MOLECULE_COLLECTIONS = os.path.join(TOP, "build", "venv-molecule", "lib",
                                    "python%d.%d" % sys.version_info[:2], "site-packages")
CONNECTIONS = {"fleet_podman": "fleet_podman", "containers.podman": "containers.podman.podman",
               # Mitogen (pip mitogen, --env ANSIBLE_STRATEGY_PLUGINS=... ANSIBLE_STRATEGY=
               # mitogen_linear) only takes over connections it knows by name: podman.
               "podman": "podman"}
MITOGEN = os.environ.get("MITOGEN_DIR", "/tmp/virtkit-bench-mitogen")  # pip install --target
# Candidates, each measured by idempotent reruns on the same converged fleet (--candidates),
# interleaved so that load from elsewhere falls on all of them alike.
CANDIDATES = {
    "baseline": {},
    # fleet_podman with a podman exec of its own per command (no persistent channel).
    "no-channel": {"env": {"FLEET_PODMAN_CHANNEL": "false"}},
    "forks2": {"forks": 2},
    "forks5": {"forks": 5},
    "free": {"env": {"ANSIBLE_STRATEGY": "free"}},
    "no-pipelining": {"env": {"ANSIBLE_PIPELINING": "False"}},
    "poll-0.01": {"env": {"ANSIBLE_INTERNAL_POLL_INTERVAL": "0.01"}},
    # Inventory settings that spare module runs: the checker is in the image, the version known.
    "fewer-tasks": {"arg": ["-e", "polkit_acl_install_validator=false",
                            "-e", "libvirt_logging_version=9.0.0"]},
    "mitogen": {"env": {"PYTHONPATH": MITOGEN,
                        "ANSIBLE_STRATEGY_PLUGINS": MITOGEN + "/ansible_mitogen/plugins/strategy",
                        "ANSIBLE_STRATEGY": "mitogen_linear"},
                "arg": ["-e", "ansible_connection=podman"]},
    "mitogen+fewer-tasks": {"env": {"PYTHONPATH": MITOGEN,
                                    "ANSIBLE_STRATEGY_PLUGINS": MITOGEN + "/ansible_mitogen/plugins/strategy",
                                    "ANSIBLE_STRATEGY": "mitogen_linear"},
                            "arg": ["-e", "ansible_connection=podman",
                                    "-e", "polkit_acl_install_validator=false",
                                    "-e", "libvirt_logging_version=9.0.0"]},
}


def inventory(hosts, connection, path, prefix=PREFIX, broken=0):
    """N hosts with kvm3's settings and the demo's group variables; host number ``broken``
    (if any) converges its networks with nftables, which the benchmark breaks."""
    data, copies = kvm3_copies(range(1, hosts + 1), "host%02d", prefix + "%02d")
    if broken:
        copies["host%02d" % broken]["virt_network_firewall_backend"] = "nftables"
    group = data["libvirt_hosts"]
    group["hosts"] = copies
    group["vars"]["ansible_connection"] = CONNECTIONS[connection]
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False)
    return [host["ansible_host"] for host in copies.values()]


def memory_per_host(fleet, containers):
    """Mean memory use of the containers in MB (podman stats, one sample)."""
    proc = fleet.run(["podman", "stats", "--no-stream", "--format", "json"] + containers,
                     check=False)
    try:
        stats = json.loads(proc.stdout[proc.stdout.index("["):])
    except ValueError:
        return None
    used = []
    for entry in stats:
        text = entry.get("mem_usage", "").split("/")[0].strip()
        match = re.match(r"([\d.]+)\s*([kKMG]?B)", text)
        if match:
            factor = {"B": 1e-6, "kB": 1e-3, "KB": 1e-3, "MB": 1, "GB": 1e3}[match.group(2)]
            used.append(float(match.group(1)) * factor)
    return sum(used) / len(used) if used else None


def container_cgroups(fleet, containers):
    """Each container's cgroup v1 cpuacct directory (cgroupfs manager)."""
    ids = fleet.run(["podman", "inspect", "--format", "{{.Id}}"] + containers).stdout.split()
    paths = []
    for ident in ids:
        found = glob.glob("/sys/fs/cgroup/cpuacct/**/libpod-%s*" % ident, recursive=True)
        paths.append(min(found, key=len) if found else None)
    return paths


def container_cpu(paths):
    """CPU seconds used so far by the containers (all of their processes)."""
    total = 0
    for path in paths:
        if path:
            with open(os.path.join(path, "cpuacct.usage")) as handle:
                total += int(handle.read()) / 1e9
    return total


def machine_cpu():
    """CPU seconds the whole machine has been busy (/proc/stat): the controller, its detached
    helpers (fleet_podman's channels), podman and the containers alike."""
    with open("/proc/stat") as handle:
        fields = [int(field) for field in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def controller_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(fleet, inventory_path, options, args, profile_path=None, candidate=None):
    """One ansible-playbook run in the fleet's namespace: (seconds, code, changes, output)."""
    env = dict(fleet.env, ANSIBLE_STDOUT_CALLBACK="virtkit.host.fleet",
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PIPELINING="True",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=args.collections + os.pathsep + MOLECULE_COLLECTIONS)
    if profile_path:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks,ansible.posix.timer"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
    env.update(args.env)
    candidate = candidate or {}
    env.update(candidate.get("env", {}))
    forks = candidate.get("forks") or args.forks or args.current_hosts
    argv = ["ansible-playbook", "-i", inventory_path, args.playbook, "--forks",
            str(forks)] + options + args.arg + candidate.get("arg", [])
    cpu, machine = controller_cpu(), machine_cpu()
    started = time.perf_counter()
    proc = subprocess.run(fleet._in_namespace(argv), stdout=subprocess.PIPE,  # pylint: disable=protected-access
                          stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          cwd=TOP, check=False)
    seconds = time.perf_counter() - started
    cpu = (controller_cpu() - cpu, machine_cpu() - machine)
    if profile_path:
        with open(profile_path, "w") as handle:
            handle.write(proc.stdout)
    match = SUMMARY.search(proc.stdout)
    changes = int(match.group(5)) if match else None
    failed = (int(match.group(3)) + int(match.group(4))) if match else None
    return seconds, cpu, proc.returncode, changes, failed, proc.stdout


def report(results, connection, hosts, label, seconds, cpu, host_cpu, code, changes, failed,
           mem, output):
    cpu, machine = cpu
    print("  %-18s %3d hosts %-24s %7.1f s %5.2f s/host  cpu: machine %6.1f s (%4.2f s/host),"
          " controller %6.1f s, hosts %6.1f s  %4s changes %s failed  %s MB/host"
          % (connection, hosts, label, seconds, seconds / hosts, machine, machine / hosts, cpu,
             host_cpu,
             "?" if changes is None else changes, "?" if failed is None else failed,
             "?" if mem is None else "%.0f" % mem), flush=True)
    if code != 0:
        print(output[-3000:])
    results.append({"connection": connection, "hosts": hosts, "run": label,
                    "seconds": round(seconds, 2), "machine_cpu": round(machine, 2),
                    "controller_cpu": round(cpu, 2),
                    "hosts_cpu": round(host_cpu, 2), "changes": changes, "failed": failed,
                    "exit": code, "mb_per_host": mem and round(mem, 1)})


def isolated(output, broken, hosts):
    """With a broken host: the others converge, the summary names it (printed)."""
    failed = re.findall(r"^  (host\d+)\s+FAILED\s+(.*)$", output, re.M)
    summary = SUMMARY.search(output)
    print("    failed: %s" % ("; ".join("%s %s" % (host, why[:160]) for host, why in failed)
                              or "none"))
    ok = (summary is not None and int(summary.group(2)) == hosts - 1
          and [host for host, _why in failed] == ["host%02d" % broken])
    verdict = ("isolated: the %d others converged" % (hosts - 1) if ok
               else "NOT isolated as expected")
    print("    the broken host is %s" % verdict, flush=True)


def bench(hosts, connection, args, results):
    directory = tempfile.mkdtemp(prefix="virtkit-bench-")
    inventory_path = os.path.join(directory, "inventory.yml")
    containers = inventory(hosts, connection, inventory_path, args.prefix,
                           args.broken if args.broken <= hosts else 0)
    args.current_hosts = hosts
    started = time.perf_counter()
    try:
        _bench(hosts, connection, args, results, containers, inventory_path, started)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _bench(hosts, connection, args, results, containers, inventory_path, started):
    with Fleet(containers, keep=args.keep) as fleet:
        boot = time.perf_counter() - started
        print("%d hosts booted in %.1f s (%s)" % (hosts, boot, connection), flush=True)
        cgroups = container_cgroups(fleet, containers)
        if 0 < args.broken <= hosts:
            # As test_fleet breaks kvm1: nftables' iif matches need the bridge, so the host's
            # firewall transaction fails after its first rules are in, and is rolled back.
            fleet.exec(containers[args.broken - 1], "ip", "link", "del", "virbr0")
            print("host%02d broken (no virbr0)" % args.broken, flush=True)
        counts = {}
        for run in args.runs:
            counts[run] = counts.get(run, 0) + 1
            label = run if counts[run] == 1 else "%s#%d" % (run, counts[run])
            profile = (os.path.join(args.profile, "%s-%d-%s.log" % (connection, hosts, label))
                       if args.profile else None)
            host_cpu = container_cpu(cgroups)
            seconds, cpu, code, changes, failed, output = playbook(
                fleet, inventory_path, ["--check"] if run == "check" else [], args, profile)
            host_cpu = container_cpu(cgroups) - host_cpu
            report(results, connection, hosts, label, seconds, cpu, host_cpu, code, changes,
                   failed, memory_per_host(fleet, containers), output)
            if 0 < args.broken <= hosts and run != "check":
                isolated(output, args.broken, hosts)
        # The candidates: idempotent reruns, round after round.
        for round_ in range(1, args.rounds + 1 if args.candidates else 1):
            for name in args.candidates:
                label = "rerun %s #%d" % (name, round_)
                profile = (os.path.join(args.profile, "%s-%d-%s-%d.log"
                                        % (connection, hosts, name, round_))
                           if args.profile else None)
                host_cpu = container_cpu(cgroups)
                seconds, cpu, code, changes, failed, output = playbook(
                    fleet, inventory_path, [], args, profile, CANDIDATES[name])
                host_cpu = container_cpu(cgroups) - host_cpu
                report(results, connection, hosts, label, seconds, cpu, host_cpu, code,
                       changes, failed, memory_per_host(fleet, containers), output)


def main():
    # A TERM (a timeout, kill) unwinds like Ctrl-C: the containers are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", default="3,10,25")
    parser.add_argument("--connections", default="fleet_podman,containers.podman")
    parser.add_argument("--runs", default="check,apply,rerun",
                        help="check, apply, rerun, in order (repeat one to measure it again)")
    parser.add_argument("--forks", type=int, default=0, help="default: as many as hosts")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for ansible")
    parser.add_argument("--arg", action="append", default=[], help="an ansible-playbook option")
    parser.add_argument("--playbook", default=SITE)
    parser.add_argument("--collections", default=os.path.join(TOP, "build", "collections"))
    parser.add_argument("--profile", help="directory for each run's profile_tasks output")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--candidates", default="",
                        help="after the runs, idempotent reruns with each of: "
                             + ", ".join(CANDIDATES))
    parser.add_argument("--rounds", type=int, default=2, help="reruns per candidate")
    parser.add_argument("--prefix", default=PREFIX, help="container names: PREFIX01...")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--broken", type=int, default=0, metavar="N",
                        help="break host N (its bridge removed, nftables backend) before the runs")
    args = parser.parse_args()
    args.env = dict(item.split("=", 1) for item in args.env)
    args.runs = args.runs.split(",")
    args.candidates = [name for name in args.candidates.split(",") if name]
    for name in args.candidates:
        if name not in CANDIDATES:
            parser.error("unknown candidate %s (%s)" % (name, ", ".join(CANDIDATES)))
    for connection in args.connections.split(","):
        if connection not in CONNECTIONS:
            parser.error("unknown connection %s (%s)" % (connection, ", ".join(CONNECTIONS)))
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    results = []
    print("%s %s" % (" ".join("%s=%s" % item for item in sorted(args.env.items())),
                     " ".join(args.arg)), flush=True)
    for connection in args.connections.split(","):
        for hosts in [int(item) for item in args.hosts.split(",")]:
            bench(hosts, connection, args, results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 1 if any(result["exit"] != 0 for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
