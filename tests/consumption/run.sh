#!/usr/bin/env bash
# Consumption test: uses Reef the way a user does, through one [wrap-file] in a fresh
# project, and proves that asking for reef-core-future configures and builds nothing
# else of Reef (no other module, no tests, benchmarks or examples).
#
# usage: tests/consumption/run.sh [REEF_SOURCE_ROOT]
# The Reef tree is packed from the working tree (tracked and untracked, non-ignored
# files), so uncommitted work is what gets tested. REEF_KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "${1:-$here/../..}" && pwd)
native=$root/tools/clang16.ini
pkg=reef-src

fail() {
    echo "consumption: FAIL: $*" >&2
    exit 1
}
step() { echo "consumption: $*"; }

[[ -f $root/meson.build && -f $native ]] || fail "$root is not a Reef source tree"
for tool in meson ninja tar sha256sum python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (run tools/install-deps.sh)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/reef-consumption.XXXXXX")
ok=0
cleanup() {
    if [[ $ok == 1 && ${REEF_KEEP_TMP:-0} != 1 ]]; then
        rm -rf "$work"
    else
        echo "consumption: files kept in $work" >&2
    fi
}
trap cleanup EXIT

consumer=$work/consumer
cache=$consumer/subprojects/packagecache
mkdir -p "$cache" "$work/stage/$pkg"
cp "$here/meson.build" "$here/consumer.cc" "$consumer/"

# 1. Pack the Reef tree. Symlinks (subprojects/reef-* -> ../modules/*) stay symlinks.
step "packing $root"
list=$work/files
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files still present, plus untracked files that .gitignore does not exclude.
    git -C "$root" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            if [[ -e $root/$f || -L $root/$f ]]; then printf '%s\0' "$f"; fi
        done | sort -zu >"$list"
else
    (cd "$root" && find . -path './build*' -prune -o \( -type f -o -type l \) -print0 |
        sed -z 's,^\./,,' | sort -z) >"$list"
fi
[[ -s $list ]] || fail "no files to pack in $root"
tar -C "$root" --null -T "$list" -cf - | tar -C "$work/stage/$pkg" -xf -
[[ -L $work/stage/$pkg/subprojects/reef-core-future ]] ||
    fail "subprojects/reef-core-future is not a symlink in the packed tree"
tarball=$cache/$pkg.tar.gz
tar -C "$work/stage" --sort=name --owner=0 --group=0 --numeric-owner -czf "$tarball" "$pkg"
hash=$(sha256sum "$tarball" | cut -d' ' -f1)

cat >"$consumer/subprojects/reef.wrap" <<WRAP
[wrap-file]
directory = $pkg
source_url = https://reef.invalid/$pkg.tar.gz
source_filename = $pkg.tar.gz
source_hash = $hash
WRAP

# 2. Configure, build and run the consumer. An installed Reef would be found by
#    pkg-config before the wrap is tried, and then this test would prove nothing.
if command -v pkg-config >/dev/null && pkg-config --exists reef-core-future 2>/dev/null; then
    fail "an installed reef-core-future ($(pkg-config --variable=pcfiledir reef-core-future)) would be" \
        "used instead of the wrap: uninstall it or set PKG_CONFIG_PATH/PKG_CONFIG_LIBDIR to exclude it"
fi
cd "$consumer"
step "configuring the consumer"
if ! meson setup build --native-file "$native" --wrap-mode=nodownload >"$work/setup.log" 2>&1; then
    cat "$work/setup.log" >&2
    fail "meson setup of the consumer failed (is the wrap usable with --wrap-mode=nodownload?)"
fi
step "building the consumer"
if ! ninja -C build -j2 >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    fail "building the consumer failed"
fi
grep -E '^\[[0-9]+/[0-9]+\]' "$work/build.log" | sed 's/^/  /' || true
out=$(./build/consumer) || fail "the consumer exited with status $?"
echo "  ./build/consumer: $out"
[[ $out == "consumer: 42" ]] || fail "the consumer printed '$out', expected 'consumer: 42'"

# 3. Prove that only reef and reef-core-future were configured, and that nothing but
#    the module's library was built.
step "checking what was configured"
python3 - "$consumer/build" "$pkg" <<'PY' || fail "the consumer configured more of Reef than it asked for (see above)"
import json, pathlib, subprocess, sys

build, pkg = sys.argv[1], sys.argv[2]

def intro(what):
    out = subprocess.run(["meson", "introspect", build, "--" + what],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)

errors = []
subs = sorted(s["name"] for s in intro("projectinfo")["subprojects"])
print(f"  subprojects: {', '.join(subs)}")
if subs != ["reef", "reef-core-future"]:
    errors.append(f"subprojects are {subs}, expected exactly ['reef', 'reef-core-future']")

src = pathlib.Path(build).resolve().parent
for t in intro("targets"):
    sub = t.get("subproject")
    where = pathlib.Path(t["defined_in"]).resolve()
    try:
        rel = where.relative_to(src)
    except ValueError:
        rel = where
    print(f"  target {t['name']} ({t['type']}) of {sub or 'consumer'}, defined in {rel}")
    if sub is None:
        if t["name"] != "consumer":
            errors.append(f"unexpected consumer target {t['name']}")
        continue
    if sub != "reef-core-future":
        errors.append(f"target {t['name']} belongs to subproject {sub}, not reef-core-future")
    parts = set(rel.parts[:-1])
    if parts & {"tests", "benchmarks", "examples"}:
        errors.append(f"target {t['name']} comes from Reef's {sorted(parts & {'tests', 'benchmarks', 'examples'})[0]}/ ({rel})")

for what in ("tests", "benchmarks"):
    declared = intro(what)
    if declared:
        errors.append(f"{len(declared)} {what} declared: " + ", ".join(d["name"] for d in declared))

for e in errors:
    print(f"  error: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

ok=1
step "PASS: reef-core-future consumed through a wrap; nothing else of Reef was built"
