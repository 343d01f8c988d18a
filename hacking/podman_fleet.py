"""A local fleet of libvirt hosts, each a podman container (systemd, libvirtd, polkitd, its own
network namespace), for `make demo` and the fleet tests. Images are built here, from the
machine's own apt mirror; no registry is used.

`podman_fleet.py demo` is `make demo`: it starts the fleet of playbooks/inventory/demo.yml, runs
playbooks/site.yml on it in check mode, for real, and again (nothing left to change), prints a
summary and removes the containers (DEMO_KEEP=1 keeps them).
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

    def __init__(self, containers, keep=False):
        self.containers = list(containers)
        self.keep = keep
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
        self.run(["podman", "rm", "-f", "-t", "0"] + self.containers, check=False)
        for name in self.containers:
            # NET_ADMIN: the firewall work happens in the container's own network namespace;
            # SYS_ADMIN: the modules compare rules in a scratch network namespace (unshare).
            self.run(["podman", "run", "-d", "--name", name, "--hostname", name, "--systemd=always",
                      "--label", "virtkit.fleet=1",
                      "--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN", IMAGE])
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

    def exec(self, container, *argv, check=True):
        return self.run(["podman", "exec", container] + list(argv), check=check)

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


def inventory_containers(path):
    """ansible_host of every host in a YAML inventory file (the container names)."""
    return re.findall(r"^\s+ansible_host:\s*(\S+)\s*$", open(path).read(), re.M)


def demo():
    # A TERM (a CI timeout, kill) unwinds like Ctrl-C: the containers are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = os.environ.get("DEMO_KEEP", "") not in ("", "0")
    names = inventory_containers(DEMO_INVENTORY)
    print("Starting the demo fleet: %s (podman containers, image built locally)"
          % ", ".join(names), flush=True)
    runs = []
    with Fleet(names, keep=keep) as fleet:
        for title, options in (("check mode", ["--check"]), ("apply", []), ("apply again", [])):
            print("\n== %s: ansible-playbook -i playbooks/inventory/demo.yml playbooks/site.yml%s"
                  % (title, "".join(" " + option for option in options)), flush=True)
            started = time.time()
            code, output = fleet.playbook(DEMO_INVENTORY, *options, echo=True)
            if code != 0:
                print("ansible-playbook failed (exit code %d)" % code)
                return code
            match = SUMMARY.search(output)
            runs.append((title, int(match.group(5)) if match else None, time.time() - started))
    print("\n== Summary: %d hosts" % len(names))
    for title, changes, elapsed in runs:
        print("  %-12s %3s changes %6.1f s" % (title, "?" if changes is None else changes, elapsed))
    if any(changes is None for _title, changes, _elapsed in runs):
        print("A run printed no summary line.")
        return 1
    if runs[-1][1] != 0:
        print("The second apply changed something: not idempotent.")
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
