#!/usr/bin/env bash
# Fails when what users get (plugins/, roles/, playbooks/, meta/) changed since the last release
# and no changelog fragment was added since then. Changes users do not notice still need one: a
# fragment with only a `trivial:` section (antsibull-changelog leaves it out of the changelog).
#
# The last release is the tag of the newest version in changelogs/changelog.yaml (X.Y.Z or
# vX.Y.Z) when it exists, else the last commit that added or removed a version there, else the
# last commit that touched the file. FRAGMENT_BASE=<commit> overrides that.
# Uncommitted and untracked files count, so it can run before a commit.
# Exit status: 0 fine, 1 a fragment is missing, 2 it cannot tell (no git history to compare with,
# e.g. a shallow clone that does not reach the release: fetch it with `git fetch --unshallow`).
set -euo pipefail
cd "$(dirname "$0")/.."

watched=(plugins roles playbooks meta)
fragments=changelogs/fragments
changelog=changelogs/changelog.yaml

undecided() {
    echo "check-fragments: cannot tell whether a changelog fragment is missing: $*" >&2
    exit 2
}

git rev-parse --git-dir >/dev/null 2>&1 || undecided "not a git checkout"
[ -f "$changelog" ] || undecided "no $changelog"

base=${FRAGMENT_BASE:-}
how="FRAGMENT_BASE"
if [ -z "$base" ]; then
    # Release versions are the keys two spaces in under `releases:`.
    version=$(sed -n 's/^  \([0-9][0-9]*\.[0-9][0-9]*\.[0-9][^:]*\):$/\1/p' "$changelog" \
              | sort -V | tail -n 1)
    [ -n "$version" ] || undecided "no release in $changelog"
    for tag in "$version" "v$version"; do
        if commit=$(git rev-parse -q --verify "refs/tags/$tag^{commit}"); then
            base=$commit how="tag $tag"
            break
        fi
    done
fi
if [ -z "$base" ]; then
    base=$(git log -1 --format=%H -G '^  [0-9]+\.[0-9]+\.[0-9]' -- "$changelog")
    how="the last commit that added a release to $changelog ($version)"
fi
if [ -z "$base" ]; then
    base=$(git log -1 --format=%H -- "$changelog")
    how="the last commit that touched $changelog"
fi
[ -n "$base" ] || undecided "no commit of $changelog in this clone's history"
base=$(git rev-parse -q --verify "$base^{commit}") || undecided "$how is not in this clone"

# In a shallow clone the oldest commit present looks as if it added every file: if that is what
# was found, the real release lies beyond the history this clone has.
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    shallow_file=$(git rev-parse --git-path shallow)
    if [ -f "$shallow_file" ] && grep -qx "$base" "$shallow_file"; then
        undecided "the clone is shallow and its history stops at $base, before the last release" \
                  "(run 'git fetch --unshallow', or set FRAGMENT_BASE)"
    fi
fi

changed=$( { git diff --name-only "$base" -- "${watched[@]}";
             git ls-files --others --exclude-standard -- "${watched[@]}"; } | sort -u)
if [ -z "$changed" ]; then
    echo "check-fragments: nothing under ${watched[*]} changed since the last release ($how)"
    exit 0
fi

released=$(git ls-tree --name-only "$base" -- "$fragments/" | sort -u)
new=$(find "$fragments" -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort \
      | comm -23 - <(printf '%s\n' "$released"))
if [ -n "$new" ]; then
    echo "check-fragments: changes since the last release ($how) come with fragments: ${new//$'\n'/ }"
    exit 0
fi

count=$(printf '%s\n' "$changed" | wc -l)
{
    echo "check-fragments: $count file(s) under ${watched[*]} changed since the last release"
    echo "($how, ${base:0:12}) and no changelog fragment was added to $fragments/:"
    printf '%s\n' "$changed" | head -n 20 | sed 's/^/  /'
    [ "$count" -le 20 ] || echo "  ..."
    echo "Add $fragments/SHORT-NAME.yml (antsibull-changelog format: bugfixes, minor_changes, ...;"
    echo "a change users do not notice: a 'trivial:' section)."
} >&2
exit 1
