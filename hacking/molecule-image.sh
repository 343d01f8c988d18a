#!/usr/bin/env bash
# Builds the Molecule images locally (no registry is reachable). Does nothing when the image is
# there and up to date.
#   molecule-image.sh           localhost/virtkit-bookworm: a minimal Debian root made by
#                               debootstrap from the machine's own apt mirror, with Python (for
#                               Ansible) and what the roles' checks use.
#   molecule-image.sh lxc-host  localhost/virtkit-lxc-host, on it: a libvirt host for the
#                               lxc_guest scenario (systemd as PID 1, libvirtd with its LXC
#                               driver, libvirt-python, osinfo-db, dnf and rpm); rebuilt when this
#                               script changes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hacking/molecule-env.sh
. "$top/hacking/molecule-env.sh"
image=localhost/virtkit-bookworm
if ! podman image exists "$image"; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  fi
  root=$top/build/molecule-root
  rm -rf "$root"
  debootstrap --variant=minbase --include=python3,node-acorn bookworm "$root" "$mirror"
  tar -C "$root" -c . | podman import - "$image"
  rm -rf "$root"
fi
[ "${1:-}" = lxc-host ] || exit 0

lxc_image=localhost/virtkit-lxc-host
digest=$(sha256sum "$0" | cut -c1-16)
label=$(podman image inspect --format '{{ index .Labels "virtkit.build-script" }}' "$lxc_image" 2>/dev/null || true)
if [ "$label" = "$digest" ]; then
  exit 0
fi
# systemd-machined's DBus activation file is removed: libvirt registers a started LXC domain
# with machined when it can be activated, and machined inside a container refuses it ("PID ...
# does not belong to any known machine"); without it libvirt makes the domain's cgroups itself.
context=$top/build/podman/lxc-host
mkdir -p "$context"
cat > "$context/Containerfile" <<'CONTAINERFILE'
FROM localhost/virtkit-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus libvirt-daemon-system libvirt-daemon-driver-lxc libvirt-clients \
      python3 python3-libvirt osinfo-db dnf rpm \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && rm -f /usr/share/dbus-1/system-services/org.freedesktop.machine1.service
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
CONTAINERFILE
podman_wrap podman build -q --network host --label "virtkit.build-script=$digest" -t "$lxc_image" \
  -f "$context/Containerfile" "$context"
