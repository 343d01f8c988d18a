"""The virtkit.host.fleet stdout callback through ansible-playbook, on three local hosts: one
line per host, failures at once with their first line, rescued and ignored failures, serial
batches, check mode and diffs, -v task lines, the summary."""

import json
import os
import re
import subprocess
import sys

import pytest

from harness import checkout, require

sys.path.insert(0, os.path.join(checkout(), "hacking"))
import podman_fleet  # noqa: E402  pylint: disable=wrong-import-position,import-error

PLAY = """
- name: Fleet
  hosts: all
  gather_facts: false
  serial: "{{ batch | default('100%') }}"
  tasks:
    - name: Change something
      ansible.builtin.copy:
        content: "{{ inventory_hostname }}\\n"
        dest: "{{ workdir }}/{{ inventory_hostname }}"
        mode: "0644"
    - name: Break one host
      ansible.builtin.fail:
        msg: "broken on purpose\\nsecond line"
      when: inventory_hostname == 'h2'
    - name: Rescue one host
      block:
        - name: Fail on h3
          ansible.builtin.fail:
            msg: rescue me
          when: inventory_hostname == 'h3'
      rescue:
        - name: Rescued
          ansible.builtin.debug:
            msg: rescued
    - name: Ignore a failure
      ansible.builtin.command: /bin/false
      ignore_errors: true
      changed_when: true
      when: inventory_hostname == 'h1'
    - name: Clean up after a failure, without rescuing
      block:
        - name: Fail on h4
          ansible.builtin.fail:
            msg: no rescue here
          when: inventory_hostname == 'h4'
      always:
        - name: Always
          ansible.builtin.debug:
            msg: cleaning up
"""


# The newest and the oldest supported ansible-core (build/venv-oldest, made by make deps).
ANSIBLE_PLAYBOOKS = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                     os.path.join(checkout(), "build", "venv-oldest", "bin", "ansible-playbook")]


@pytest.fixture(params=ANSIBLE_PLAYBOOKS, ids=["newest", "oldest"])
def playbook(request, tmp_path):
    inventory = {"all": {"hosts": {name: None for name in ("h1", "h2", "h3", "h4")}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "workdir": str(tmp_path)}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(PLAY)

    def run(*options, terminal=False):
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="virtkit.host.fleet", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(checkout(), "build", "collections"),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
        require(request.param)
        argv = [request.param, "-i", str(tmp_path / "inventory.json"),
                str(tmp_path / "play.yml")] + list(options)
        if terminal:
            return podman_fleet.run_on_terminal(argv, env, echo=False)
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=env, check=False)
        return proc.returncode, proc.stdout
    run.workdir = tmp_path
    return run


def test_lines_failures_and_summary(playbook):
    code, output = playbook()
    assert code == 2, output
    assert "Fleet\n" in output, output
    assert '  h2  FAILED       at "Break one host": broken on purpose\n' in output, output
    assert '  h4  FAILED       at "Fail on h4": no rescue here\n' in output, output
    assert "second line" not in output
    # An ignored failure that changed something counts as a change.
    assert re.search(r"^  h1  ok\s+2 changes  \d+\.\d s \(1 ignored failures\)  Change something, "
                     r"Ignore a failure$", output, re.M), output
    # A failure that a rescue section catches is no failure of the host.
    assert "h3  FAILED" not in output
    assert re.search(r"^  h3  ok\s+1 change  \d+\.\d s \(1 rescued\)  Change something$",
                     output, re.M), output
    # The always section ran on h4, which still failed: no ok line.
    assert not re.search(r"^  h[24]  ok", output, re.M), output
    assert re.search(r"^Fleet: 4 hosts \(2 ok, 2 failed, 0 unreachable\), 5 changes, \d+\.\d s$",
                     output, re.M), output
    # The failure is reported before the other hosts' lines, which come when the play is done.
    assert output.index("h2  FAILED") < output.index("h1  ok")


def test_check_mode_diff_serial_batches_and_verbose(playbook):
    playbook()
    (playbook.workdir / "h1").unlink()
    code, output = playbook("--check", "--diff", "-e", "batch=1", "-v", "--limit", "h1,h3")
    assert code == 0, output
    assert "Fleet [check mode]\n" in output and "Fleet (batch 2) [check mode]\n" in output, output
    assert "--- h1: Change something\n" in output and "+h1\n" in output, output
    assert "    h1 | changed | Change something\n" in output, output
    assert "    h3 | ok | Change something\n" in output, output
    assert re.search(r"^  h1  ok\s+1 change to make  ", output, re.M), output
    assert re.search(r"^  h3  ok\s+0 changes to make  \d+\.\d s \(1 rescued\)$", output, re.M), output
    assert "2 hosts (2 ok, 0 failed, 0 unreachable), 1 change to make" in output
    assert not (playbook.workdir / "h1").exists()


def test_progress_line_on_a_terminal(playbook):
    code, output = playbook("--limit", "h1", terminal=True)
    assert code == 0, output
    # Each task on the same line, erased before the host's line.
    assert "\r\x1b[K  ... Change something" in output, repr(output)
    assert "\r\x1b[K  ... Ignore a failure" in output, repr(output)
    assert re.search(r"\r\x1b\[K(\x1b\[[0-9;]*m)?  h1  ok ", output), repr(output)
    # Without a terminal, no such line.
    code, output = playbook("--limit", "h1")
    assert "  ... " not in output and "\x1b" not in output, output
