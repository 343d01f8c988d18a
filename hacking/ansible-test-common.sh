# shellcheck shell=bash
# Shared by the ansible-test runners (hacking/sanity.sh, hacking/ansible-test-units.sh); source it.

# copy_collection TOP DEST: the checkout's files (tracked and untracked, not ignored) copied to
# DEST, which must end in ansible_collections/NAMESPACE/NAME (ansible-test needs that path and
# resolves symlinks, so the symlink tree under build/collections will not do).
copy_collection() {
    local top=$1 dest=$2
    rm -rf "$dest" && mkdir -p "$dest"
    (cd "$top" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -x -C "$dest"
    # ansible-test lists files with git when it finds a repository: give the copy its own.
    git -C "$dest" init -q && git -C "$dest" add -A
}

# install_pip_standin VENV TOP: ansible-test bootstraps pip in its venvs with a script from a
# host this machine cannot reach; hand it a stand-in that installs pip from PyPI instead (see
# hacking/get_pip_offline.py), cached under the name ansible-test looks for.
install_pip_standin() {
    local venv=$1 top=$2 pip_version
    pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test._internal.python_requirements as r
print(re.search(r"pip='([0-9.]+)'", open(r.__file__).read()).group(1))
PY
)
    mkdir -p ~/.ansible/test/cache
    cp "$top/hacking/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
}
