#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection under build/sanity/ansible_collections/
# (ansible-test needs that path, and resolves symlinks, so the symlink tree will not do).
# Usage: hacking/sanity.sh VENV [ansible-test options...]
set -euo pipefail
venv=$(cd "$1" && pwd); shift
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$top/build/sanity/ansible_collections/virtkit/host

rm -rf "$dest" && mkdir -p "$dest"
(cd "$top" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -x -C "$dest"
# ansible-test lists files with git when it finds a repository: give the copy its own.
git -C "$dest" init -q && git -C "$dest" add -A

# ansible-test bootstraps pip in its venvs with a script from a host this machine cannot reach;
# hand it a stand-in that installs pip from PyPI instead (see get_pip_offline.py).
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test._internal.python_requirements as r
print(re.search(r"pip='([0-9.]+)'", open(r.__file__).read()).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$top/hacking/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

cd "$dest"
exec "$venv/bin/ansible-test" sanity --color no --requirements "$@"
