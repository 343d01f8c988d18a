#!/usr/bin/env bash
# Runs `ansible-test units` (tests/unit/) on a copy of the collection under
# build/units/ansible_collections/ (ansible-test needs that path, and resolves symlinks, so the
# symlink tree will not do). The tests run in a virtual environment that ansible-test makes
# (--venv) with its own requirements (pytest, pytest-xdist, pytest-mock, mock) from PyPI, so the
# project's venvs are left as they are.
#
# Interpreters: ansible-test looks for pythonX.Y on PATH. PYTHON38 (default: the Makefile's
# pyenv 3.8) is put first on PATH as python3.8 for `--python 3.8` (module and module_utils tests
# only: 3.8 is a managed-host Python for ansible-core 2.19).
#
# Usage: hacking/ansible-test-units.sh VENV [ansible-test units options...]
#   e.g. hacking/ansible-test-units.sh build/venv --python 3.11
set -euo pipefail
venv=$(cd "$1" && pwd); shift
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$top/build/units/ansible_collections/virtkit/host
# shellcheck source=hacking/ansible-test-common.sh
. "$top/hacking/ansible-test-common.sh"

copy_collection "$top" "$dest"
install_pip_standin "$venv" "$top"

pythons=$top/build/units/pythons
rm -rf "$pythons" && mkdir -p "$pythons"
python38=${PYTHON38:-$(compgen -G '/root/.pyenv/versions/3.8.*/bin/python3.8' | tail -n 1 || true)}
if [ -n "$python38" ] && [ -x "$python38" ]; then
    ln -s "$python38" "$pythons/python3.8"
fi
export PATH="$pythons:$venv/bin:$PATH"

cd "$dest"
exec "$venv/bin/ansible-test" units --color no --venv --requirements "$@"
