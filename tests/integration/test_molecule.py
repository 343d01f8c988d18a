"""Each role's Molecule scenario: a Debian container (podman, built locally), converge,
idempotence, testinfra verification, then check mode with --diff on the converged container
must report no change."""

import os
import re
import subprocess

import pytest

from harness import checkout, require

# All steps of a scenario run in one mount namespace (the one where containers can start):
# containers/storage mounts its graphroot privately in the namespace that first uses it, and
# a container started in one namespace and written to from another loses its upper layer.
SCRIPT = """. hacking/molecule-env.sh
export PATH="$PWD/build/venv-molecule/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/build/collections"
cd "roles/$1" || exit 2
podman_wrap bash -c '
  molecule destroy >/dev/null 2>&1
  for step in create prepare converge idempotence verify; do
    molecule $step || { echo "STEP FAILED: $step"; molecule destroy >/dev/null 2>&1; exit 1; }
  done
  echo "=== CHECK MODE ==="
  molecule converge -- --check --diff; code=$?
  molecule destroy >/dev/null 2>&1
  exit $code'
"""


def molecule(role):
    proc = subprocess.run(["bash", "-c", SCRIPT, "molecule", role],
                          cwd=checkout(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout


@pytest.fixture(scope="module")
def image():
    require("podman", "debootstrap", "crun")
    venv = os.path.join(checkout(), "build", "venv-molecule", "bin", "molecule")
    if not os.path.exists(venv):
        require(venv)
    proc = subprocess.run([os.path.join(checkout(), "hacking", "molecule-image.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize("role", ["polkit_acl", "libvirt_logging"])
def test_scenario(image, role):  # pylint: disable=unused-argument,redefined-outer-name
    code, out = molecule(role)
    assert code == 0, out[-6000:]
    check = out.split("=== CHECK MODE ===", 1)[1]
    recap = re.findall(r"changed=(\d+)", check)
    assert recap and all(count == "0" for count in recap), check[-3000:]
