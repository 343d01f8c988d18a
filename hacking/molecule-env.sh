#!/usr/bin/env bash
# Podman for the Molecule scenarios on this machine kind (see shared/notes/test-environment.md):
# private containers.conf and storage under build/, no network for containers (the default
# bridge would add rules to the root namespace's firewall), cgroupfs, crun, file events.
# Source it: `. hacking/molecule-env.sh`; then run podman/molecule through `podman_wrap`.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=$top/build/podman
mkdir -p "$state/storage" "$state/run" "$state/home"
cat > "$state/containers.conf" <<CONF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
CONF
cat > "$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
export CONTAINERS_CONF=$state/containers.conf
export CONTAINERS_STORAGE_CONF=$state/storage.conf
export HOME=$state/home

# crun refuses this machine's hybrid cgroups: start containers in a mount namespace where the
# cgroup2 mount that holds only hugetlb is hidden.
podman_wrap() {
  unshare -m --propagation private sh -c \
    'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; exec "$@"' _ "$@"
}
