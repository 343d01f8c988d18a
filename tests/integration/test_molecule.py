"""The collection's Molecule scenarios (extensions/molecule/ROLE, one per role): a Debian
container (podman, built locally), converge, idempotence, testinfra verification, then check
mode with --diff on the converged container must report no change. lxc_guest's platform is a
privileged libvirt host whose LXC driver starts the guest the role bootstraps."""

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
export SCENARIO=$1
podman_wrap bash -c '
  molecule destroy -s "$SCENARIO" >/dev/null 2>&1
  for step in create prepare converge idempotence verify; do
    molecule $step -s "$SCENARIO" || {
      echo "STEP FAILED: $step"; molecule destroy -s "$SCENARIO" >/dev/null 2>&1; exit 1; }
  done
  echo "=== CHECK MODE ==="
  molecule converge -s "$SCENARIO" -- --check --diff; code=$?
  molecule destroy -s "$SCENARIO" >/dev/null 2>&1
  exit $code'
"""


def molecule(scenario):
    proc = subprocess.run(["bash", "-c", SCRIPT, "molecule", scenario],
                          cwd=checkout(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout


@pytest.fixture(scope="module")
def image():
    require("podman", "debootstrap", "crun")
    venv = os.path.join(checkout(), "build", "venv-molecule", "bin", "molecule")
    if not os.path.exists(venv):
        require(venv)
    # lxc-host: the lxc_guest scenario's libvirt host, on the base image.
    proc = subprocess.run([os.path.join(checkout(), "hacking", "molecule-image.sh"), "lxc-host"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_every_role_has_a_scenario():
    roles = sorted(os.listdir(os.path.join(checkout(), "roles")))
    scenarios = sorted(os.listdir(os.path.join(checkout(), "extensions", "molecule")))
    assert roles == scenarios == sorted(SCENARIOS)
    # The ecosystem's place for a collection's scenarios; none left under the roles.
    assert not [role for role in roles
                if os.path.exists(os.path.join(checkout(), "roles", role, "molecule"))]


SCENARIOS = ["polkit_acl", "libvirt_logging", "lxc_guest"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(image, scenario):  # pylint: disable=unused-argument,redefined-outer-name
    if scenario == "lxc_guest":
        require("rpmbuild", "createrepo_c", "/bin/busybox")
    code, out = molecule(scenario)
    assert code == 0, out[-6000:]
    check = out.split("=== CHECK MODE ===", 1)[1]
    recap = re.findall(r"changed=(\d+)", check)
    assert recap and all(count == "0" for count in recap), check[-3000:]
