"""A local fleet of libvirt hosts, each a podman container (systemd, libvirtd, polkitd, its own
network namespace), for `make demo` and the fleet tests. Images are built here, from the
machine's own apt mirror; no registry is used.

`podman_fleet.py demo` is `make demo`: it starts the fleet of playbooks/inventory/demo.yml, runs
playbooks/site.yml on it in check mode, for real, and again (nothing left to change), shows on
each host what the run made (a spoofed frame from a guest dropped by its NIC filter, the LXC
guest's /etc/os-release read through libvirt), prints a summary and removes the containers
(DEMO_KEEP=1 keeps them).
"""

import fcntl
import hashlib
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "localhost/virtkit-libvirt-host"
CONTAINERFILE = os.path.join(TOP, "hacking", "fleet", "Containerfile")
ANSIBLE_BIN = os.path.join(TOP, "build", "venv", "bin")
DEMO_INVENTORY = os.path.join(TOP, "playbooks", "inventory", "demo.yml")
SITE = os.path.join(TOP, "playbooks", "site.yml")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SUMMARY = re.compile(r"Fleet: (\d+) hosts? \((\d+) ok, (\d+) failed, (\d+) unreachable\), (\d+) change")
PARTS = re.compile(r"^Changes by part: (.*)$", re.M)


def podman_environment():
    """The environment hacking/molecule-env.sh sets up for podman on this machine kind (its
    private containers.conf and storage), read from the script so that there is one recipe."""
    dump = subprocess.run(["bash", "-c", '. "$1" >/dev/null && env -0', "env",
                           os.path.join(TOP, "hacking", "molecule-env.sh")],
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    return dict(item.split("=", 1) for item in dump.split("\0") if "=" in item)


class Fleet:
    """Containers named after an inventory's ansible_host values, all handled from one private
    mount namespace: containers/storage mounts its graphroot in the namespace that first uses
    it, and crun only starts containers where the hybrid cgroup mount is hidden (podman_wrap)."""

    def __init__(self, containers, keep=False, privileged=()):
        self.containers = list(containers)
        self.keep = keep
        # Containers that run libvirt's LXC driver: privileged (it makes namespaces and
        # cgroups), with a user-mode network of their own (slirp4netns: nothing in the machine's
        # network namespace) to reach the apt mirror.
        self.privileged = set(privileged)
        self.env = podman_environment()
        self.env["PATH"] = ANSIBLE_BIN + os.pathsep + self.env.get("PATH", "")
        self.env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(TOP, "build", "collections")
        self.env["ANSIBLE_CONNECTION_PLUGINS"] = os.path.join(TOP, "hacking", "fleet", "connection_plugins")
        self.env["ANSIBLE_LOCAL_TEMP"] = os.path.join(TOP, "build", "podman", "ansible-tmp")
        self._holder = None
        self._namespace_pid = ""

    # -- the mount namespace -------------------------------------------------------------------

    def __enter__(self):
        # A session of its own: Ctrl-C in the terminal must not kill the namespace before the
        # containers in it are removed.
        self._holder = subprocess.Popen(
            ["bash", "-c", '. "$1" && podman_wrap sh -c \'echo $$; exec sleep infinity\'', "wrap",
             os.path.join(TOP, "hacking", "molecule-env.sh")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env, start_new_session=True)
        self._namespace_pid = self._holder.stdout.readline().decode().strip()
        try:
            if not self._namespace_pid.isdigit():
                raise RuntimeError("could not start the podman mount namespace")
            self.build_image()
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if not self.keep and self._namespace_pid.isdigit():
                proc = self.run(["podman", "rm", "-f", "-t", "0"] + self.containers, check=False)
                if proc.returncode != 0:
                    sys.stderr.write("could not remove the fleet's containers (%s): %s\n"
                                     % (" ".join(self.containers), proc.stdout.strip()))
        finally:
            if self._namespace_pid.isdigit():
                try:
                    os.kill(int(self._namespace_pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._holder.kill()
            self._holder.wait()
            self._holder.stdout.close()

    def _in_namespace(self, argv):
        return ["nsenter", "-t", self._namespace_pid, "-m", "--"] + list(argv)

    def run(self, argv, check=True):
        """argv inside the fleet's mount namespace, output captured."""
        proc = subprocess.run(self._in_namespace(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, env=self.env,
                              cwd=TOP, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), proc.returncode,
                                                        proc.stdout[-4000:]))
        return proc

    # -- images and containers -----------------------------------------------------------------

    def build_image(self):
        """The base image (debootstrap), then the libvirt host image on it; rebuilt only when
        a file of its build context (hacking/fleet/*) changes."""
        subprocess.run([os.path.join(TOP, "hacking", "molecule-image.sh")], env=self.env,
                       check=True, stdout=subprocess.DEVNULL)
        context = os.path.dirname(CONTAINERFILE)
        digest = hashlib.sha256()
        for name in sorted(os.listdir(context)):
            if os.path.isfile(os.path.join(context, name)):
                with open(os.path.join(context, name), "rb") as handle:
                    digest.update(name.encode() + b"\0" + handle.read())
        digest = digest.hexdigest()[:16]
        label = self.run(["podman", "image", "inspect", "--format",
                          '{{ index .Labels "virtkit.build-context" }}', IMAGE], check=False)
        if label.returncode == 0 and label.stdout.strip() == digest:
            return
        print("Building %s from hacking/fleet/Containerfile" % IMAGE, flush=True)
        self.run(["podman", "build", "--network", "host", "--label", "virtkit.build-context=" + digest,
                  "-t", IMAGE, "-f", CONTAINERFILE, context])

    def start(self):
        raise_inotify_limits(len(self.containers))
        self.run(["podman", "rm", "-f", "-t", "0"] + self.containers, check=False)
        for name in self.containers:
            # NET_ADMIN: the firewall work happens in the container's own network namespace;
            # SYS_ADMIN: the modules compare rules in a scratch network namespace (unshare).
            options = (["--privileged", "--network", "slirp4netns"] if name in self.privileged
                       else ["--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN"])
            self.run(["podman", "run", "-d", "--name", name, "--hostname", name, "--systemd=always",
                      "--label", "virtkit.fleet=1"] + options + [IMAGE])
        deadline = time.time() + 60
        waiting = list(self.containers)
        while waiting:
            state = self.run(["podman", "exec", waiting[0], "systemctl", "is-system-running"],
                             check=False).stdout.strip()
            if state in ("running", "degraded"):
                waiting.pop(0)
            elif time.time() > deadline:
                raise RuntimeError("%s did not boot: %s" % (waiting[0], state))
            else:
                time.sleep(0.2)

    def exec(self, container, *argv, check=True, stdin=None):
        if stdin is None:
            return self.run(["podman", "exec", container] + list(argv), check=check)
        proc = subprocess.run(self._in_namespace(["podman", "exec", "-i", container] + list(argv)),
                              input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=self.env, cwd=TOP, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), proc.returncode,
                                                        proc.stdout[-4000:]))
        return proc

    def playbook(self, inventory, *options, playbook=SITE, echo=False):
        """ansible-playbook with the fleet callback: (exit code, output without colours). With
        echo, each line is printed as it comes (in colour on a terminal)."""
        colour = echo and sys.stdout.isatty()
        env = dict(self.env, ANSIBLE_STDOUT_CALLBACK="virtkit.host.fleet",
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PIPELINING="True",
                   ANSIBLE_FORCE_COLOR="1" if colour else "0", ANSIBLE_NOCOLOR="0" if colour else "1")
        argv = self._in_namespace(["ansible-playbook", "-i", inventory, playbook] + list(options))
        if colour:
            code, output = run_on_terminal(argv, env)
        else:
            lines = []
            with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                  cwd=TOP, universal_newlines=True) as proc:
                for line in proc.stdout:
                    if echo:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                    lines.append(line)
            code, output = proc.returncode, "".join(lines)
        # What a terminal would show: no colours, a line's text after its last carriage return.
        lines = ANSI.sub("", output).split("\n")
        return code, "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


# Each host's systemd, dbus, polkitd and libvirtd take inotify instances of the machine's
# root user: past about 22 hosts at the default of 128 the containers stop booting.
INOTIFY_INSTANCES_PER_HOST = 16
INOTIFY_WATCHES_PER_HOST = 4096


def raise_inotify_limits(hosts):
    """Raise (never lower) the machine's inotify limits to what ``hosts`` containers need."""
    for name, per_host, floor in (("max_user_instances", INOTIFY_INSTANCES_PER_HOST, 128),
                                  ("max_user_watches", INOTIFY_WATCHES_PER_HOST, 65536)):
        path = "/proc/sys/fs/inotify/" + name
        with open(path) as handle:
            current = int(handle.read())
        wanted = floor + hosts * per_host
        if current < wanted:
            with open(path, "w") as handle:
                handle.write(str(wanted))
            print("fs.inotify.%s: %d -> %d for %d hosts" % (name, current, wanted, hosts),
                  flush=True)


def run_on_terminal(argv, env, echo=True):
    """argv on a pseudo-terminal the size of ours, if we have one (ansible-playbook then shows
    colours and its progress line); with echo, its output is echoed as it comes. Returns (exit
    code, raw output)."""
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env,
                          cwd=TOP) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            if echo:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            chunks.append(chunk)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def inventory_hosts(path):
    """{inventory host: its variables} of a YAML inventory file's libvirt_hosts group (group
    variables merged under the host's)."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(path) as handle:
        group = yaml.safe_load(handle)["libvirt_hosts"]
    common = group.get("vars") or {}
    return {name: dict(common, **(variables or {}))
            for name, variables in (group.get("hosts") or {}).items()}


def inventory_containers(path):
    """ansible_host of every host in a YAML inventory file (the container names)."""
    return [variables["ansible_host"] for variables in inventory_hosts(path).values()]


def apt_mirror():
    """The machine's Debian mirror (as hacking/molecule-image.sh reads it)."""
    for path, pattern in (("/etc/apt/sources.list.d/debian.sources", r"^URIs:\s*(\S+)"),
                          ("/etc/apt/sources.list", r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)")):
        try:
            with open(path) as handle:
                match = re.search(pattern, handle.read(), re.M)
        except OSError:
            continue
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


# Run on a demo host (python3 from stdin): from the guest's end of vnet0, one frame with the MAC
# and IP its filter binding allows, one with a spoofed source MAC, one with a spoofed source IP;
# a raw socket on the bridge says which got through vnet0's filter.
SPOOF_PROBE = r"""
import json, socket, struct, sys, time
guest_mac, guest_ip = sys.argv[1], sys.argv[2]

def frame(mac, ip, marker):
    payload = marker.encode()
    udp = struct.pack("!HHHH", 40000, 40000, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         socket.inet_aton(ip), socket.inet_aton("192.168.122.1"))
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
    return b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) + b"\x08\x00" + header + udp

listen = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
listen.bind(("virbr0", 0))
listen.settimeout(0.2)
send = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
send.bind(("vnet0-guest", 0))
probes = {"allowed": (guest_mac, guest_ip), "spoofed MAC": ("52:54:00:de:ad:01", guest_ip),
          "spoofed IP": (guest_mac, "192.168.122.99")}
for marker, (mac, ip) in probes.items():
    send.send(frame(mac, ip, "virtkit-probe:" + marker))
seen = set()
deadline = time.time() + 1.5
while time.time() < deadline:
    try:
        data = listen.recv(2048)
    except socket.timeout:
        continue
    for marker in probes:
        if ("virtkit-probe:" + marker).encode() in data:
            seen.add(marker)
print(json.dumps({marker: marker in seen for marker in probes}))
"""


# Run on a demo host (python3 from stdin): a guest's /etc/os-release read through libvirt's LXC
# API, in the guest's namespaces (virDomainLxcOpenNamespace, then setns in a child, as virsh
# lxc-enter-namespace does without its cgroup step, which fails in a nested container).
OS_RELEASE_PROBE = r"""
import ctypes, os, sys
import libvirt, libvirt_lxc
libc = ctypes.CDLL(None, use_errno=True)
conn = libvirt.open("lxc:///system")
dom = conn.lookupByName(sys.argv[1])
fds = libvirt_lxc.lxcOpenNamespace(dom, 0)
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read_end)
    mine = {os.stat("/proc/self/ns/" + kind).st_ino for kind in os.listdir("/proc/self/ns")}
    for fd in fds:
        if os.fstat(fd).st_ino in mine:
            continue  # a namespace the guest shares with the host (its user namespace)
        if libc.setns(fd, 0) != 0:
            os.write(write_end, b"setns: " + os.strerror(ctypes.get_errno()).encode())
            os._exit(1)
    with open("/etc/os-release", "rb") as handle:
        os.write(write_end, handle.read())
    os._exit(0)
os.close(write_end)
chunks = []
while True:
    chunk = os.read(read_end, 65536)
    if not chunk:
        break
    chunks.append(chunk)
os.waitpid(pid, 0)
sys.stdout.write(b"".join(chunks).decode())
"""


def show_results(fleet, hosts):
    """What the run made, seen on each host: the NIC filter drops spoofed frames (and lets the
    guest's own through); the LXC guests' /etc/os-release read through libvirt. Returns the
    problems found."""
    import json  # pylint: disable=import-outside-toplevel
    problems = []
    print("\n== What the hosts now do")
    for name, variables in sorted(hosts.items()):
        container = variables["ansible_host"]
        for binding in variables.get("nwfilter_bindings") or ():
            ip = (binding.get("parameters") or {}).get("IP")
            if binding.get("interface") != "vnet0" or not ip:
                continue
            proc = fleet.exec(container, "python3", "-", binding["mac"], ip, stdin=SPOOF_PROBE,
                              check=False)
            try:
                passed = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                problems.append("%s: the frame probe failed: %s" % (name, proc.stdout[-500:]))
                continue
            print("  %s  vnet0 (%s): %s" % (name, binding["filter"], ", ".join(
                "%s frame %s" % (marker, "delivered" if ok else "dropped")
                for marker, ok in passed.items())))
            if passed != {"allowed": True, "spoofed MAC": False, "spoofed IP": False}:
                problems.append("%s: vnet0's filter did not do its work: %s" % (name, passed))
        for guest in variables.get("lxc_guest_containers") or ():
            if guest.get("state") != "running":
                continue
            proc = fleet.exec(container, "python3", "-", guest["name"], stdin=OS_RELEASE_PROBE,
                              check=False)
            pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', proc.stdout, re.M)
            if proc.returncode != 0 or not pretty:
                problems.append("%s: could not read %s's /etc/os-release through libvirt: %s"
                                % (name, guest["name"], proc.stdout[-500:]))
                continue
            print("  %s  LXC guest %s, its /etc/os-release through libvirt: %s"
                  % (name, guest["name"], pretty.group(1)))
    return problems


def kvm3_copies(numbers, name, container):
    """The demo inventory (parsed) and, for each of ``numbers``, a host ``name % number`` with
    kvm3's settings in container ``container % number``: how the fleet grows."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(DEMO_INVENTORY) as handle:
        data = yaml.safe_load(handle)
    kvm3 = data["libvirt_hosts"]["hosts"]["kvm3"]
    return data, {name % number: dict(kvm3, ansible_host=container % number)
                  for number in numbers}


def demo_inventory(count):
    """The demo inventory's path and hosts; with ``count`` above its three hosts, one of
    kvm4... per extra host, each with kvm3's settings (a file under build/)."""
    hosts = inventory_hosts(DEMO_INVENTORY)
    if count <= len(hosts):
        return DEMO_INVENTORY, hosts
    import json  # pylint: disable=import-outside-toplevel
    data, copies = kvm3_copies(range(len(hosts) + 1, count + 1), "kvm%d", "virtkit-demo-kvm%d")
    data["libvirt_hosts"]["hosts"].update(copies)
    path = os.path.join(TOP, "build", "podman", "demo-%d-hosts.json" % count)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1)
    return path, inventory_hosts(path)


def demo():
    # A TERM (a CI timeout, kill) unwinds like Ctrl-C: the containers are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = os.environ.get("DEMO_KEEP", "") not in ("", "0")
    inventory, hosts = demo_inventory(int(os.environ.get("HOSTS") or 0))
    names = [variables["ansible_host"] for variables in hosts.values()]
    privileged = [variables["ansible_host"] for variables in hosts.values()
                  if variables.get("demo_lxc_host")]
    mirror = apt_mirror()
    print("Starting the demo fleet: %s (podman containers, image built locally)"
          % ", ".join(names), flush=True)
    runs = []
    with Fleet(names, keep=keep, privileged=privileged) as fleet:
        for title, options in (("check mode", ["--check"]), ("apply", []), ("apply again", [])):
            print("\n== %s: ansible-playbook -i %s playbooks/site.yml%s"
                  % (title, os.path.relpath(inventory, TOP),
                     "".join(" " + option for option in options)), flush=True)
            started = time.time()
            code, output = fleet.playbook(inventory, "-e", "demo_apt_mirror=" + mirror,
                                          "--forks", str(max(5, len(names))), *options,
                                          echo=True)
            if code != 0:
                print("ansible-playbook failed (exit code %d)" % code)
                return code
            match = SUMMARY.search(output)
            parts = PARTS.search(output)
            runs.append((title, int(match.group(5)) if match else None, time.time() - started,
                         parts.group(1) if parts else "none"))
        problems = show_results(fleet, hosts)
    print("\n== Summary: %d hosts" % len(names))
    for title, changes, elapsed, parts in runs:
        print("  %-12s %3s changes %6.1f s   %s" % (
            title, "?" if changes is None else changes, elapsed, parts))
    for problem in problems:
        print("PROBLEM: " + problem)
    if any(changes is None for _title, changes, _elapsed, _parts in runs):
        print("A run printed no summary line.")
        return 1
    if runs[-1][1] != 0:
        print("The second apply changed something: not idempotent.")
        return 1
    if problems:
        return 1
    if keep:
        print("\nThe containers are still running (DEMO_KEEP=1). For example:\n"
              "  . hacking/molecule-env.sh && podman exec %s nft list ruleset" % names[0])
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["demo"]:
        sys.exit("usage: podman_fleet.py demo")
    try:
        sys.exit(demo())
    except KeyboardInterrupt:
        sys.exit(130)  # the containers are gone already
