#!/usr/bin/env bash
# Runs `ansible-test integration` (tests/integration/targets/) on a copy of the collection under
# build/integration/ansible_collections/ (ansible-test needs that path and resolves symlinks).
#
# Every target runs in a network namespace of its own: one `ansible-test integration --local`
# process per target under `unshare --net` (loopback up), so every firewall command of the
# target's tasks (they run on localhost, in ansible-test's namespace) hits only that namespace.
# The root namespace's firewall is never touched; each target's first task (setup_private_netns)
# refuses to run when its namespace is PID 1's.
#
# Each target lists the tools it needs in vars/main.yml (required_tools). A target whose tools
# are missing fails under CI=true; otherwise it is reported as SKIPPED, loudly, and the run
# exits 1 after the others.
#
# No --requirements: the targets run with VENV's Python and its libraries (libvirt-python,
# dbus-next), and nothing is fetched from inside the namespaces (they have no network).
#
# Usage: hacking/ansible-test-integration.sh VENV [TARGET...] [-- ansible-test options...]
set -euo pipefail
venv=$(cd "$1" && pwd); shift
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$top/build/integration/ansible_collections/virtkit/host

targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
options=("$@")

if [ "$(id -u)" != 0 ]; then
    echo "ansible-test-integration: the targets need root (network namespaces, netfilter)" >&2
    exit 1
fi
command -v unshare >/dev/null || { echo "ansible-test-integration: unshare is missing" >&2; exit 1; }

# shellcheck source=hacking/ansible-test-common.sh
. "$top/hacking/ansible-test-common.sh"
copy_collection "$top" "$dest"
# The namespace this script runs in, for the targets' guard (setup_private_netns): each target
# must run in another one.
printf 'virtkit_outer_netns: "%s"\n' "$(readlink /proc/self/ns/net)" \
    >"$dest/tests/integration/integration_config.yml"
git -C "$dest" add tests/integration/integration_config.yml

if [ ${#targets[@]} -eq 0 ]; then
    for dir in "$dest"/tests/integration/targets/*/; do
        name=$(basename "$dir")
        case $name in setup_*|prepare_*) continue ;; esac
        targets+=("$name")
    done
fi

# The tools a target needs (vars/main.yml: required_tools), one a line.
required_tools() {
    "$venv/bin/python" - "$dest/tests/integration/targets/$1/vars/main.yml" <<'PY'
import os, sys, yaml
path = sys.argv[1]
if os.path.exists(path):
    for tool in (yaml.safe_load(open(path)) or {}).get("required_tools", []):
        print(tool)
PY
}

export PATH="$venv/bin:$PATH:/usr/sbin:/sbin"
failed=() skipped=()
cd "$dest"
for target in "${targets[@]}"; do
    missing=()
    while read -r tool; do
        [ -n "$tool" ] || continue
        command -v "$tool" >/dev/null 2>&1 || [ -e "$tool" ] || missing+=("$tool")
    done < <(required_tools "$target")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "=== $target: missing ${missing[*]} (make deps installs them)" >&2
        if [ "${CI:-}" = true ]; then failed+=("$target"); else skipped+=("$target"); fi
        continue
    fi
    echo "=== $target (own network namespace)"
    start=$SECONDS
    # shellcheck disable=SC2016  # $@ is expanded by the inner shell
    log=$top/build/integration/$target.log
    # ansible-test exits 0 when it skips every target given: a skip counts as a failure here.
    if unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
        "$venv/bin/ansible-test" integration --local --python 3.11 --color no \
        --allow-destructive "${options[@]}" "$target" 2>&1 | tee "$log" &&
        ! grep -q "^WARNING: All targets skipped" "$log"; then
        echo "=== $target passed in $((SECONDS - start)) s"
    else
        echo "=== $target FAILED in $((SECONDS - start)) s" >&2
        failed+=("$target")
    fi
done

[ ${#skipped[@]} -eq 0 ] || echo "SKIPPED (missing tools, see above): ${skipped[*]}" >&2
[ ${#failed[@]} -eq 0 ] || echo "FAILED: ${failed[*]}" >&2
[ ${#failed[@]} -eq 0 ] && [ ${#skipped[@]} -eq 0 ]
