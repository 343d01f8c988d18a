#!/usr/bin/env bash
# Builds the Molecule base image localhost/virtkit-bookworm (no registry is reachable): a
# minimal Debian root made by debootstrap from the machine's own apt mirror, with Python (for
# Ansible) and what the roles' checks use. Does nothing when the image exists.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hacking/molecule-env.sh
. "$top/hacking/molecule-env.sh"
image=localhost/virtkit-bookworm
if podman image exists "$image"; then
  exit 0
fi
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
fi
root=$top/build/molecule-root
rm -rf "$root"
debootstrap --variant=minbase --include=python3,node-acorn bookworm "$root" "$mirror"
tar -C "$root" -c . | podman import - "$image"
rm -rf "$root"
