"""100 ports and 100 sources in one firewalld zone, in a fresh network namespace each.

Compares, in one run (firewalld on a private bus, inside a network namespace of its own):
  * ansible.posix.firewalld in a loop of 200 items (permanent and immediate, as its users run
    it), one ansible-playbook run, from the community `ansible` package in a venv of its own
    (build/venv-bench-posix, benchmarks/requirements-posix.txt);
  * virtkit.host.firewalld, one task with the same content (persist: both): first apply and
    rerun, as a whole ansible-playbook run and as module time (the module process as Ansible
    runs it); measured only when plugins/modules/firewalld.py exists;
  * dbus-next against dbus-fast for the same DBus exchange (getZoneSettings2, 200 add, query
    and remove calls pipelined), each in a venv that has it
    (build/venv-bench-dbusfast{,38}, benchmarks/requirements-dbusfast.txt).

    python benchmarks/firewalld.py [--skip-posix] [--repeat 5] [--backend nftables]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
BUILD = os.path.join(CHECKOUT, "build")
MODULE = os.path.join(CHECKOUT, "plugins", "modules", "firewalld.py")
POSIX_VENV = os.path.join(BUILD, "venv-bench-posix")
DBUS_VENVS = [
    # label, python, library
    ("dbus-next, Python 3.11 (build/venv)", os.path.join(BUILD, "venv", "bin", "python"),
     "dbus_next"),
    ("dbus-fast, Python 3.11 (build/venv-bench-dbusfast)",
     os.path.join(BUILD, "venv-bench-dbusfast", "bin", "python"), "dbus_fast"),
    ("dbus-next, Python 3.8 (build/venv-py38)",
     os.path.join(BUILD, "venv-py38", "bin", "python"), "dbus_next"),
    ("dbus-fast, Python 3.8 (build/venv-bench-dbusfast38)",
     os.path.join(BUILD, "venv-bench-dbusfast38", "bin", "python"), "dbus_fast"),
]
ZONE = "public"
COUNT = 100


def ports(count=COUNT):
    return ["%d/tcp" % (20000 + i) for i in range(count)]


def sources(count=COUNT):
    return ["10.1.%d.%d/32" % (i // 250, 1 + i % 250) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# The DBus exchange, run by each venv's Python (`--dbus-worker LIBRARY`): standard library and
# the DBus library only, Python 3.8 syntax. Prints one JSON object.
# ---------------------------------------------------------------------------------------------

def dbus_worker(library, repeat):
    start = time.perf_counter()
    if library == "dbus_fast":
        # pylint: disable=import-outside-toplevel,import-error
        from dbus_fast import BusType, Message, MessageType, Variant
        from dbus_fast.aio import MessageBus
        import dbus_fast as lib
    else:
        # pylint: disable=import-outside-toplevel
        from dbus_next import BusType, Message, MessageType, Variant
        from dbus_next.aio import MessageBus
        import dbus_next as lib
    import asyncio  # pylint: disable=import-outside-toplevel
    import_time = time.perf_counter() - start
    try:
        from importlib.metadata import version as dist_version  # pylint: disable=import-outside-toplevel
        version = dist_version(library.replace("_", "-"))
    except Exception:  # pylint: disable=broad-except
        version = getattr(lib, "__version__", "?")

    bus_name, path = "org.fedoraproject.FirewallD1", "/org/fedoraproject/FirewallD1"
    zone_iface = "org.fedoraproject.FirewallD1.zone"

    def message(member, signature, body):
        return Message(destination=bus_name, path=path, interface=zone_iface, member=member,
                       signature=signature, body=body)

    async def pipelined(bus, messages, window=32):
        limit = asyncio.Semaphore(window)

        async def call(msg):
            async with limit:
                return await bus.call(msg)

        replies = await asyncio.gather(*[call(msg) for msg in messages])
        for reply in replies:
            if reply.message_type == MessageType.ERROR:
                raise SystemExit("DBus error: %s %s" % (reply.error_name, reply.body))
        return replies

    port_args = [p.split("/") for p in ports()]

    async def exchange(bus):
        phases = {}
        t0 = time.perf_counter()
        await pipelined(bus, [message("getZoneSettings2", "s", [ZONE])])
        phases["getZoneSettings2 (empty zone)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await pipelined(bus, [message("addPort", "sssi", [ZONE, p, proto, 0])
                              for p, proto in port_args] +
                        [message("addSource", "ss", [ZONE, s]) for s in sources()])
        phases["200 add calls, pipelined"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        replies = await pipelined(bus, [message("queryPort", "sss", [ZONE, p, proto])
                                        for p, proto in port_args] +
                                  [message("querySource", "ss", [ZONE, s]) for s in sources()])
        phases["200 query calls, pipelined"] = time.perf_counter() - t0
        if not all(reply.body[0] for reply in replies):
            raise SystemExit("benchmark bug: a query answered false")
        t0 = time.perf_counter()
        for _i in range(20):
            reply = (await pipelined(bus, [message("getZoneSettings2", "s", [ZONE])]))[0]
        phases["getZoneSettings2 (200 entries), per call"] = (time.perf_counter() - t0) / 20
        settings = reply.body[0]
        if len(settings["ports"].value) != COUNT or len(settings["sources"].value) != COUNT:
            raise SystemExit("benchmark bug: zone settings %r" % settings)
        t0 = time.perf_counter()
        await pipelined(bus, [message("removePort", "sss", [ZONE, p, proto])
                              for p, proto in port_args] +
                        [message("removeSource", "ss", [ZONE, s]) for s in sources()])
        phases["200 remove calls, pipelined"] = time.perf_counter() - t0
        # What virtkit.host.firewalld sends per zone and layer: one setZoneSettings2 with every
        # element (firewalld's own floor for the runtime change), then one that empties them.
        t0 = time.perf_counter()
        await pipelined(bus, [message("setZoneSettings2", "sa{sv}", [ZONE, {
            "ports": Variant("a(ss)", port_args), "sources": Variant("as", sources())}])])
        phases["setZoneSettings2, 200 entries in one call"] = time.perf_counter() - t0
        await pipelined(bus, [message("setZoneSettings2", "sa{sv}", [ZONE, {
            "ports": Variant("a(ss)", []), "sources": Variant("as", [])}])])
        return phases

    async def main():
        t0 = time.perf_counter()
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        connect = time.perf_counter() - t0
        rounds = [await exchange(bus) for _round in range(repeat)]
        bus.disconnect()
        return connect, rounds

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    connect, rounds = loop.run_until_complete(main())
    loop.close()
    result = {"version": version, "python": "%d.%d" % sys.version_info[:2],
              "import": import_time, "connect": connect}
    for phase in rounds[0]:
        result[phase] = statistics.median(r[phase] for r in rounds)
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The controller side.
# ---------------------------------------------------------------------------------------------

POSIX_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: One ansible.posix.firewalld task per port or source
      ansible.posix.firewalld:
        zone: "{{ zone }}"
        port: "{{ item.port | default(omit) }}"
        source: "{{ item.source | default(omit) }}"
        permanent: true
        immediate: true
        state: enabled
      loop: "{{ items }}"
"""

MODULE_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The zone's ports and sources, one task
      virtkit.host.firewalld:
        zones: "{{ zones }}"
        persist: both
"""


def module_zones():
    return [{"name": ZONE, "ports": ports(), "sources": sources()}]


def check_zone(daemon):
    """Both the runtime and the permanent configuration hold exactly the 200 entries."""
    for permanent in ((), ("--permanent",)):
        listed_ports = daemon.firewall_cmd("--zone", ZONE, "--list-ports", *permanent).split()
        listed_sources = daemon.firewall_cmd("--zone", ZONE, "--list-sources", *permanent).split()
        if sorted(listed_ports) != sorted(ports()) or sorted(listed_sources) != sorted(sources()):
            raise SystemExit("benchmark bug: zone %s%s holds %d ports and %d sources"
                             % (ZONE, " (permanent)" if permanent else "", len(listed_ports),
                                len(listed_sources)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-posix", action="store_true",
                        help="skip the ansible.posix.firewalld loop (minutes)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the DBus exchange")
    parser.add_argument("--backend", default="nftables", choices=("nftables", "iptables"))
    parser.add_argument("--dbus-worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.dbus_worker:
        dbus_worker(options.dbus_worker, options.repeat)
        return

    sys.path.insert(0, HERE)
    from _firewalld_env import FirewalldEnvironment  # pylint: disable=import-outside-toplevel
    from _timing import timed_module, timed_playbook  # pylint: disable=import-outside-toplevel

    results = {}

    def report(label, seconds, note=""):
        results[label] = seconds
        print("%-64s %9.3f s%s" % (label, seconds, ("  " + note) if note else ""), flush=True)

    print("%d ports and %d sources in zone %s; firewalld backend %s\n"
          % (COUNT, COUNT, ZONE, options.backend), flush=True)

    posix = "ansible.posix.firewalld loop (200 items), ansible-playbook"
    if options.skip_posix:
        print("ansible.posix.firewalld loop: skipped (--skip-posix)")
    elif not os.path.exists(os.path.join(POSIX_VENV, "bin", "ansible-playbook")):
        print("ansible.posix.firewalld loop: not available (create %s with "
              "benchmarks/requirements-posix.txt)" % POSIX_VENV)
    else:
        site = subprocess.run([os.path.join(POSIX_VENV, "bin", "python"), "-c",
                               "import ansible_collections, os; "
                               "print(os.path.dirname(list(ansible_collections.__path__)[0]))"],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
        items = [{"port": p} for p in ports()] + [{"source": s} for s in sources()]
        with FirewalldEnvironment(options.backend) as env:
            # ansible.posix.firewalld needs firewalld's own Python bindings: Debian's python3.
            seconds, _out = timed_playbook(POSIX_PLAYBOOK, {"zone": ZONE, "items": items},
                                           POSIX_VENV, "/usr/bin/python3", site.stdout.strip(),
                                           env.firewalld.env)
            report(posix, seconds)
            check_zone(env.firewalld)

    if not os.path.exists(MODULE):
        print("virtkit.host.firewalld: module not available (plugins/modules/firewalld.py)")
    else:
        args = {"zones": module_zones(), "persist": "both"}
        with FirewalldEnvironment(options.backend) as env:
            seconds, first = timed_module("firewalld", args, env.firewalld.env)
            if not first.get("changed"):
                raise SystemExit("benchmark bug: first apply changed nothing")
            report("virtkit.host.firewalld: first apply, module", seconds,
                   "(%s DBus calls)" % len(first.get("calls") or []))
            check_zone(env.firewalld)
            seconds, again = timed_module("firewalld", args, env.firewalld.env)
            if again.get("changed"):
                raise SystemExit("benchmark bug: the rerun changed something: %s" % again)
            report("virtkit.host.firewalld: rerun, module", seconds,
                   "(%s DBus calls)" % len(again.get("calls") or []))
        with FirewalldEnvironment(options.backend) as env:
            playbook_env = env.firewalld.env
            seconds, _out = timed_playbook(MODULE_PLAYBOOK, {"zones": module_zones()},
                                           env=playbook_env)
            report("virtkit.host.firewalld: first apply, ansible-playbook", seconds)
            check_zone(env.firewalld)
            seconds, out = timed_playbook(MODULE_PLAYBOOK, {"zones": module_zones()},
                                          env=playbook_env)
            if "changed=0" not in out:
                raise SystemExit("benchmark bug: the rerun playbook changed something:\n" + out)
            report("virtkit.host.firewalld: rerun, ansible-playbook", seconds)

    print("\nDBus exchange, median of %d rounds (runtime only; one connection):" % options.repeat)
    dbus = {}
    with FirewalldEnvironment(options.backend) as env:
        for label, python, library in DBUS_VENVS:
            if not os.path.exists(python):
                print("  %s: not available (%s)" % (label, python))
                continue
            proc = subprocess.run([python, os.path.abspath(__file__), "--dbus-worker", library,
                                   "--repeat", str(options.repeat)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, env=env.firewalld.env, check=False)
            if proc.returncode != 0:
                print("  %s: failed: %s" % (label, (proc.stderr or proc.stdout).strip()[-500:]))
                continue
            figures = json.loads(proc.stdout)
            dbus[label] = figures
            print("  %s %s (Python %s)" % (library.replace("_", "-"), figures.pop("version"),
                                           figures.pop("python")))
            for phase, seconds in figures.items():
                print("      %-50s %8.2f ms" % (phase, 1000 * seconds))

    print("\nRatios (same run, same machine):")
    playbook = "virtkit.host.firewalld: first apply, ansible-playbook"
    if posix in results and playbook in results:
        print("  %-60s %7.1fx  (target >= 50x)"
              % ("ansible.posix loop playbook / our playbook", results[posix] / results[playbook]))
        module = results["virtkit.host.firewalld: first apply, module"]
        title = "ansible.posix loop playbook / our module, first apply"
        print("  %-60s %7.1fx" % (title, results[posix] / module))
        fixed = (results["virtkit.host.firewalld: rerun, ansible-playbook"]
                 - results["virtkit.host.firewalld: rerun, module"])
        title = "ansible-playbook's own cost (rerun playbook - rerun module)"
        print("  %-60s %7.3f s" % (title, fixed))
    rerun = "virtkit.host.firewalld: rerun, module"
    if rerun in results:
        print("  %-60s %7.3f s  (target < 0.5 s)" % ("rerun, module time", results[rerun]))
    for python in ("3.11", "3.8"):
        nxt = [f for label, f in dbus.items() if label.startswith("dbus-next, Python " + python)]
        fst = [f for label, f in dbus.items() if label.startswith("dbus-fast, Python " + python)]
        if nxt and fst:
            for phase in nxt[0]:
                print("  Python %-4s dbus-next / dbus-fast, %-42s %6.2fx"
                      % (python, phase, nxt[0][phase] / fst[0][phase]))


if __name__ == "__main__":
    main()
