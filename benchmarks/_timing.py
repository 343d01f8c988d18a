# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks time: a module as Ansible runs it, and a whole ansible-playbook run on
localhost (this checkout's collection by default, or another venv's collections)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

from harness import checkout, run_module  # noqa: E402  pylint: disable=wrong-import-position


def timed_module(name, args, env=None):
    """Run module ``name`` (harness.run_module); returns (seconds, result). A failure ends the
    benchmark."""
    start = time.perf_counter()
    result = run_module(name, args, env=env)
    seconds = time.perf_counter() - start
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return seconds, result


def timed_playbook(text, variables, venv=None, interpreter=None, collections=None, env=None):
    """ansible-playbook (from ``venv``, default this Python's) on localhost with the play
    ``text``; the tasks run on ``interpreter`` (default this Python). Returns (seconds, output);
    a failure ends the benchmark."""
    bindir = os.path.join(venv, "bin") if venv else os.path.dirname(sys.executable)
    directory = tempfile.mkdtemp(prefix="virtkit-bench-")
    book = os.path.join(directory, "play.yml")
    extra = os.path.join(directory, "vars.json")
    with open(book, "w") as handle:
        handle.write(text)
    with open(extra, "w") as handle:
        json.dump(dict(variables, ansible_python_interpreter=interpreter or sys.executable),
                  handle)
    env = dict(os.environ if env is None else env,
               ANSIBLE_COLLECTIONS_PATH=collections or os.path.join(checkout(), "build",
                                                                    "collections"),
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=os.path.join(directory, "tmp"))
    try:
        start = time.perf_counter()
        proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", "localhost,",
                               book, "-e", "@" + extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=env, check=False)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook failed:\n" + proc.stdout[-3000:])
    return seconds, proc.stdout
