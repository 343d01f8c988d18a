#!/usr/bin/env bash
# The collection's execution environment (EE), built with ansible-builder from
# meta/execution-environment.yml and checked (`make ee`). No registry is reachable here: the
# base image is built locally, on the debootstrap-made Debian 12 of hacking/molecule-image.sh.
#   1. build/venv-ee: ansible-builder and ansible-core (for `ansible-galaxy collection build`)
#   2. localhost/virtkit-ee-base: Debian 12 with python3 and pip, and hacking/ee/pkgmgr (the
#      dnf-like interface ansible-builder's scripts call, over apt-get)
#   3. build/ee/virtkit-host.tar.gz: the collection's tarball (the EE installs it)
#   4. localhost/virtkit-host-ee: `ansible-builder build`, podman under the cgroup wrapper
#   5. checks in the image: every module's ansible-doc renders, the Python libraries import,
#      and `ansible-playbook virtkit.host.site --check --diff` runs against localhost inside the
#      EE container itself (--network none: its own network namespace, so the firewall modules
#      read an empty ruleset and report the rules they would add; nothing is applied).
# Everything is reused when up to date; EE_REBUILD=1 rebuilds the EE image.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=hacking/molecule-env.sh
. "$top/hacking/molecule-env.sh"
python=${PYTHON:-python3}
venv=$top/build/venv-ee
ee_dir=$top/build/ee
base_image=localhost/virtkit-ee-base
ee_image=localhost/virtkit-host-ee
mkdir -p "$ee_dir"

step() { printf '== %s (%ds)\n' "$*" "$SECONDS"; }

step "ansible-builder venv"
if [ ! -f "$venv/stamp" ]; then
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check ansible-builder==3.2.0 bindep==2.14.0 \
    ansible-core==2.19.14
  touch "$venv/stamp"
fi

step "base image $base_image"
"$top/hacking/molecule-image.sh"
context=$ee_dir/base
rm -rf "$context" && mkdir -p "$context"
cp hacking/ee/Containerfile hacking/ee/pkgmgr "$context/"
cp /etc/ssl/certs/ca-certificates.crt "$context/"
digest=$(cat "$context"/* | sha256sum | cut -c1-16)
label=$(podman image inspect --format '{{ index .Labels "virtkit.build-context" }}' "$base_image" 2>/dev/null || true)
if [ "$label" != "$digest" ]; then
  podman_wrap podman build -q --network host --label "virtkit.build-context=$digest" \
    -t "$base_image" -f "$context/Containerfile" "$context"
fi

step "collection tarball"
rm -rf "$ee_dir/dist"
ANSIBLE_LOCAL_TEMP=$ee_dir/tmp "$venv/bin/ansible-galaxy" collection build -v --output-path "$ee_dir/dist" . >/dev/null
cp "$ee_dir"/dist/virtkit-host-*.tar.gz "$ee_dir/virtkit-host.tar.gz"

step "execution environment $ee_image (ansible-builder)"
# Rebuilt when the definition, the requirements, the base image's Containerfile or the
# collection's files change.
digest=$(cat meta/execution-environment.yml requirements.txt bindep.txt "$context/Containerfile" \
  | sha256sum | cut -c1-16)-$(tar -xzOf "$ee_dir/virtkit-host.tar.gz" | sha256sum | cut -c1-16)
label=$(podman image inspect --format '{{ index .Labels "virtkit.build-inputs" }}' "$ee_image" 2>/dev/null || true)
if [ "$label" != "$digest" ] || [ "${EE_REBUILD:-}" = 1 ]; then
  rm -rf "$ee_dir/context"
  podman_wrap "$venv/bin/ansible-builder" build -f meta/execution-environment.yml -t "$ee_image" \
    --container-runtime podman --context "$ee_dir/context" -v 2 \
    --extra-build-cli-args "--network host --label virtkit.build-inputs=$digest"
fi

step "checks in $ee_image"
run() { podman_wrap podman run --rm --network none "$@"; }
# Every module of plugins/modules renders with ansible-doc (one container for all of them).
mapfile -t modules < <(find plugins/modules -name '*.py' ! -name '__init__.py' -printf '%f\n' | sed 's/\.py$//' | sort)
# shellcheck disable=SC2016  # expanded in the container
docs=$(run -e ANSIBLE_NOCOLOR=1 "$ee_image" sh -c \
  'for m in "$@"; do echo "=== $m"; ansible-doc "virtkit.host.$m" 2>&1 || echo "=== failed: $m"; done' \
  _ "${modules[@]}")
for module in "${modules[@]}"; do
  doc=$(awk -v m="$module" '$0 == "=== " m {on = 1; next} /^=== / {on = 0} on' <<<"$docs")
  if ! grep -q "^> MODULE virtkit.host.$module " <<<"$doc" || grep -q "^=== failed: $module\$" <<<"$docs"; then
    echo "ansible-doc virtkit.host.$module did not render:"; echo "$doc"; exit 1
  fi
  echo "ansible-doc virtkit.host.$module: $(wc -l <<<"$doc") lines"
done
run "$ee_image" python3 -c 'import libvirt, dbus_next, ansible_runner; print("libvirt-python", libvirt.getVersion())'
run "$ee_image" ansible-runner --version

# site.yml in check mode against the EE container itself: a host with one NAT network. The
# container has its own network namespace (--network none), a bridge made for it, and
# NET_ADMIN in that namespace only; SYS_ADMIN for the modules' scratch namespace (unshare).
# As root: the image's user (1000, as ansible-builder makes it) is the controller's, and a
# managed host's firewall needs root.
cat > "$ee_dir/check-inventory.yml" <<'INVENTORY'
libvirt_hosts:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: /opt/ee/bin/python3
      site_become: false
      virt_networks:
        - name: default
          bridge: virbr0
          forward_mode: nat
          ips: [{address: 192.168.122.1, prefix: 24, dhcp: true}]
INVENTORY
# shellcheck disable=SC2016  # expanded in the container
out=$(run --user 0 --cap-add NET_ADMIN --cap-add SYS_ADMIN -v "$ee_dir/check-inventory.yml:/runner/inventory.yml:ro" \
  -e ANSIBLE_NOCOLOR=1 "$ee_image" sh -c \
  'ip link add virbr0 type bridge && ansible-playbook -i /runner/inventory.yml virtkit.host.site --check --diff \
   && echo "ruleset after the check: $(nft list ruleset | wc -l) lines"' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -25
grep -Eq '^localhost +: ok=[1-9][0-9]* +changed=[1-9][0-9]* +unreachable=0 +failed=0' <<<"$out" \
  || { echo "site.yml --check: expected changes and no failures on localhost"; exit 1; }
grep -q '^ruleset after the check: 0 lines' <<<"$out" || { echo "site.yml --check changed the ruleset"; exit 1; }
step "done"
