"""The demo fleet's connection (hacking/fleet/connection_plugins/fleet_podman.py): its
persistent channel per host. `podman exec -i CONTAINER ARGV...` is a stand-in here that runs
ARGV on this machine, so that the channel's own parts (the detached master, its socket, the
agent, the framing) are what is tested; the fleet tests (test_fleet, test_make_demo,
test_ansible_runner) run the same connection against real containers."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(TOP, "hacking", "fleet", "connection_plugins")

# Runs the connection as ansible-playbook does: tasks in worker processes of the "playbook"
# process (the driver), which is the channel's owner. Prints one JSON line per step.
DRIVER = textwrap.dedent(r'''
    import json, os, sys
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    def connection(channel=True):
        conn = connection_loader.get("fleet_podman", PlayContext(), None)
        conn.set_options(var_options={"inventory_hostname": "ctr1",
                                      "fleet_podman_channel": channel})
        return conn

    def run(conn, cmd, data=None):
        code, out, err = conn.exec_command(cmd, in_data=data)
        return [code, out.decode("latin-1"), err.decode("latin-1")]

    def step(function):
        """function() in a worker process forked as ansible-playbook forks its workers
        (multiprocessing); its result on stdout."""
        import multiprocessing
        reader, writer = multiprocessing.Pipe(duplex=False)

        def worker():
            try:
                result = function()
            except Exception as error:  # the test shows it
                result = {"error": "%s: %s" % (type(error).__name__, error)}
            writer.send(json.dumps(result))

        process = multiprocessing.get_context("fork").Process(target=worker)
        process.start()
        writer.close()
        try:
            result = reader.recv()
        except EOFError:
            result = "null"  # the worker died before it answered
        process.join()
        print(result, flush=True)

    exec(sys.stdin.read())
''')


@pytest.fixture
def fake_podman(tmp_path):
    """`podman exec [-i] CONTAINER ARGV...` -> ARGV here; every call's first words are logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "podman.log"
    podman = bin_dir / "podman"
    podman.write_text(textwrap.dedent('''\
        #!/bin/sh
        echo "$1 $2 $3 $4" >> %s
        [ "$1" = exec ] || exit 125
        shift
        [ "$1" = -i ] && shift
        [ "$1" = ctr1 ] || { echo "no container $1" >&2; exit 125; }
        shift
        exec "$@"
        ''' % log))
    podman.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]),
               ANSIBLE_CONNECTION_PLUGINS=PLUGINS,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"))
    return env, log


def drive(env, script):
    proc = subprocess.run([sys.executable, "-c", DRIVER], input=textwrap.dedent(script),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def podman_calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_commands_share_one_channel_and_keep_their_bytes(fake_podman):
    env, log = fake_podman
    results = drive(env, r'''
        conn = connection()
        big = bytes(range(256)) * 4096  # 1 MiB, every byte value
        step(lambda: run(conn, "echo agent=$PPID; printf 'out\\0put'; echo err >&2; exit 3"))
        step(lambda: run(conn, "echo agent=$PPID"))
        step(lambda: run(conn, "cat", big)[1] == big.decode("latin-1"))
        step(lambda: run(conn, "cat"))
        step(lambda: run(conn, "echo \0"))
        step(lambda: run(conn, "echo still here"))
    ''')
    first, second, round_trip, no_input, nul, after = results
    assert first[0] == 3 and first[1].startswith("agent=") and first[1].endswith("out\0put")
    assert first[2] == "err\n"
    # The same agent (the shell's parent) answered both commands: one podman exec in all.
    assert first[1].split("\n")[0] == second[1].strip()
    assert round_trip is True
    assert no_input == [0, "", ""]
    # A command no shell can take is answered with an error; the channel goes on.
    assert nul[0] == 127 and "null byte" in nul[2] and after == [0, "still here\n", ""]
    calls = podman_calls(log)
    assert calls == ["exec -i ctr1 /usr/bin/python3"], calls


def test_reset_opens_a_new_channel(fake_podman):
    env, log = fake_podman
    before, after = drive(env, r'''
        conn = connection()
        step(lambda: run(conn, "echo $PPID"))
        step(lambda: (conn.reset(), run(conn, "echo $PPID"))[1])
    ''')
    assert before[0] == after[0] == 0 and before[1] != after[1]
    assert len(podman_calls(log)) == 2


def test_files_go_both_ways_with_hostile_names(fake_podman, tmp_path):
    env, _log = fake_podman
    source = tmp_path / "source"
    source.write_bytes(b"\0\n'\"$(x)\xff" * 1000)
    odd = tmp_path / "it's a $(name); `x`"
    back = tmp_path / "back"
    [done] = drive(env, r'''
        conn = connection()
        def both():
            conn.put_file(%r, %r)
            conn.fetch_file(%r, %r)
            return True
        step(both)
    ''' % (str(source), str(odd), str(odd), str(back)))
    assert done is True
    assert odd.read_bytes() == source.read_bytes() == back.read_bytes()


def test_the_channel_ends_with_the_run(fake_podman):
    env, _log = fake_podman
    [[agent, driver]] = drive(env, r'''
        conn = connection()
        step(lambda: [run(conn, "echo $PPID")[1].strip(), os.getppid()])
    ''')
    # The driver (the playbook process) has exited: its channel goes within a second or two.
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%s" % agent) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists("/proc/%s" % agent)
    # Its abstract socket is gone with it.
    with open("/proc/net/unix") as handle:
        assert "@virtkit-fleet-podman/%d/%d/" % (os.getuid(), driver) not in handle.read()


def test_without_a_channel_each_command_is_a_podman_exec(fake_podman):
    env, log = fake_podman
    first, second = drive(env, r'''
        conn = connection(channel=False)
        step(lambda: run(conn, "echo hello", b""))
        step(lambda: run(conn, "exit 4"))
    ''')
    assert first == [0, "hello\n", ""] and second[0] == 4
    assert podman_calls(log) == ["exec -i ctr1 /bin/sh", "exec ctr1 /bin/sh -c"]


def test_a_host_without_an_agent_falls_back_to_podman_exec(fake_podman):
    env, log = fake_podman
    [result] = drive(env, r'''
        conn = connection()
        conn.set_options(var_options={"inventory_hostname": "gone", "fleet_podman_channel": True})
        step(lambda: run(conn, "true"))
    ''')
    # podman's own answer, as without a channel: the task fails with it.
    assert result[0] == 125 and "no container gone" in result[2]
    assert podman_calls(log) == ["exec -i gone /usr/bin/python3", "exec gone /bin/sh -c"]


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to become another user")
def test_another_user_gets_nothing_from_the_channel(fake_podman):
    env, _log = fake_podman
    [_first, answer, still] = drive(env, r'''
        import socket
        conn = connection()
        step(lambda: run(conn, "true"))
        def as_nobody():
            name = conn._channel_name()  # root's channel, asked for by nobody
            os.setgid(65534)
            os.setuid(65534)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(b"\0" + name.encode())
            stream = client.makefile("rwb")
            try:
                stream.write(b"\0\0\0\5id -u\0\0\0\0")
                stream.flush()
                return "closed" if stream.read() == b"" else "answered"
            except (BrokenPipeError, ConnectionResetError):
                return "closed"
        step(as_nobody)
        step(lambda: run(conn, "echo ok"))
    ''')
    # The request of a process of another user is never read: the socket is closed.
    assert answer == "closed"
    assert still == [0, "ok\n", ""]


def test_an_asker_that_goes_away_before_asking_does_not_end_the_channel(fake_podman):
    env, log = fake_podman
    before, after = drive(env, r'''
        import socket
        conn = connection()
        step(lambda: run(conn, "echo $PPID"))
        def gone_before_asking():
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(
                b"\0" + conn._channel_name().encode())
            return None  # closed unasked
        step(gone_before_asking)
        step(lambda: run(conn, "echo $PPID"))
    ''')[::2]
    assert before[0] == after[0] == 0 and before[1] == after[1]
    assert len(podman_calls(log)) == 1


def test_an_agent_that_dies_fails_its_command_and_the_next_gets_a_new_channel(fake_podman):
    env, log = fake_podman
    before, killed, after = drive(env, r'''
        conn = connection()
        step(lambda: run(conn, "echo $PPID"))
        step(lambda: run(conn, "kill -9 $PPID"))
        step(lambda: run(conn, "echo $PPID"))
    ''')
    # The command may have run: it is reported as a connection failure, never run again.
    assert killed == {"error": "AnsibleConnectionFailure: the channel to ctr1 failed during a "
                               "command (closed)"}
    assert before[0] == after[0] == 0 and before[1] != after[1]
    assert len(podman_calls(log)) == 2


def test_reset_from_the_playbook_process_ends_the_channel(fake_podman):
    env, log = fake_podman
    before, after = drive(env, r'''
        conn = connection()
        step(lambda: run(conn, "echo $PPID"))
        conn.reset()  # meta: reset_connection runs in ansible-playbook itself
        step(lambda: run(conn, "echo $PPID"))
    ''')
    assert before[0] == after[0] == 0 and before[1] != after[1]
    assert len(podman_calls(log)) == 2


def test_a_command_whose_asker_goes_away_is_ended_with_the_channel(fake_podman, tmp_path):
    env, log = fake_podman
    marker = tmp_path / "marker"
    [first, timed_out, after] = drive(env, r'''
        import signal
        conn = connection()
        step(lambda: run(conn, "echo $PPID"))
        def killed_worker():
            signal.alarm(1)  # as a task's timeout: the worker goes while its command runs
            return run(conn, "sleep 20; touch %s")
        step(killed_worker)
        step(lambda: run(conn, "echo $PPID"))
    ''' % marker)
    assert timed_out is None
    # The next task did not wait behind the old command: a new channel; the command is gone.
    assert after[0] == 0 and after[1] != first[1]
    assert len(podman_calls(log)) == 2
    time.sleep(1)
    assert not marker.exists()


def test_an_agent_gone_while_idle_is_noticed_and_nothing_is_lost(fake_podman, tmp_path):
    env, log = fake_podman
    marker = tmp_path / "marker"
    [answer] = drive(env, r'''
        import time
        conn = connection()
        def kill_agent_then_run():
            agent = run(conn, "echo $PPID")[1].strip()
            os.kill(int(agent), 9)  # here the container's process is this machine's
            time.sleep(1.5)  # the channel notices within a second
            return run(conn, "touch %s; echo ran")
        step(kill_agent_then_run)
    ''' % marker)
    # The command ran once, over a new channel: not lost, not counted as unreachable.
    assert answer == [0, "ran\n", ""] and marker.exists()
    assert podman_calls(log) == ["exec -i ctr1 /usr/bin/python3"] * 2


def test_a_file_name_that_is_not_utf8_goes_through(fake_podman, tmp_path):
    env, _log = fake_podman
    source = tmp_path / "source"
    source.write_bytes(b"data")
    odd = os.path.join(str(tmp_path), os.fsdecode(b"caf\xe9 \xff.txt"))
    [done] = drive(env, r'''
        conn = connection()
        step(lambda: (conn.put_file(%r, %r), True)[1])
    ''' % (str(source), odd))
    assert done is True
    assert os.path.exists(os.fsencode(odd)) and open(odd, "rb").read() == b"data"
