#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection under build/sanity/ansible_collections/
# (ansible-test needs that path, and resolves symlinks, so the symlink tree will not do).
# Usage: hacking/sanity.sh VENV [ansible-test options...]
set -euo pipefail
venv=$(cd "$1" && pwd); shift
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$top/build/sanity/ansible_collections/virtkit/host
# shellcheck source=hacking/ansible-test-common.sh
. "$top/hacking/ansible-test-common.sh"

copy_collection "$top" "$dest"
install_pip_standin "$venv" "$top"

cd "$dest"
exec "$venv/bin/ansible-test" sanity --color no --requirements "$@"
