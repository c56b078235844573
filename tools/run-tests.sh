#!/usr/bin/env bash
# The one test command: installs the dependencies, then configures, builds and runs the
# whole test suite twice, as a release build (build-release) and as an ASan+UBSan build
# (build-sanitize). Existing build directories are reused. Ends with one line,
# `N passed, N failed`, summed over both builds (tools/test-summary.py tells how tests
# are counted); exits non-zero if anything failed.
#
# usage: tools/run-tests.sh [release|sanitize]...     (default: both)
# Environment: REEF_JOBS (default 2) for ninja; REEF_SKIP_DEPS=1 skips install-deps.sh.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
jobs=${REEF_JOBS:-2}
started=$SECONDS

log() { printf '\n=== %s\n' "$*"; }

if [[ ${REEF_SKIP_DEPS:-0} != 1 ]]; then
    log "installing dependencies (tools/install-deps.sh)"
    if ! tools/install-deps.sh </dev/null; then
        echo "run-tests: tools/install-deps.sh failed" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

common_setup=(--native-file tools/clang16.ini --wrap-mode=nodownload)
release_setup=(-Dbuildtype=release)
sanitize_setup=(-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
    -Dcpp_args=-fno-sanitize-recover=undefined)
# halt_on_error makes the first report fatal even where recovery was compiled in.
sanitize_env=(ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
symbolizer=/usr/lib/llvm-16/bin/llvm-symbolizer
if [[ -x $symbolizer ]]; then
    sanitize_env+=(ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer)
fi

failed_steps=0
tested_dirs=()

# run_build NAME TIMEOUT_MULTIPLIER -- SETUP_ARGS... -- ENV...
run_build() {
    local name=$1 mult=$2
    shift 3
    local setup=() env=()
    while (($#)) && [[ $1 != -- ]]; do setup+=("$1"); shift; done
    (($#)) && shift
    env=("$@")
    local dir=build-$name t0=$SECONDS

    log "$dir: configure"
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        if ! meson setup --reconfigure "$dir" "${common_setup[@]}" "${setup[@]}"; then
            echo "run-tests: reconfiguring $dir failed; configuring it from scratch"
            meson setup --wipe "$dir" "${common_setup[@]}" "${setup[@]}" ||
                { echo "run-tests: FAILED to configure $dir" >&2; failed_steps=$((failed_steps + 1)); return; }
        fi
    else
        rm -rf "$dir"
        meson setup "$dir" "${common_setup[@]}" "${setup[@]}" ||
            { echo "run-tests: FAILED to configure $dir" >&2; failed_steps=$((failed_steps + 1)); return; }
    fi

    log "$dir: build (ninja -j$jobs)"
    if ! ninja -C "$dir" -j"$jobs"; then
        echo "run-tests: FAILED to build $dir" >&2
        failed_steps=$((failed_steps + 1))
        return
    fi
    local t_build=$((SECONDS - t0))

    log "$dir: test"
    rm -f "$dir/meson-logs/testlog.json"
    env "${env[@]}" meson test -C "$dir" --print-errorlogs --no-rebuild \
        --timeout-multiplier "$mult" --num-processes "$jobs" </dev/null
    tested_dirs+=("$dir")
    echo "run-tests: $dir: configure+build ${t_build}s, total $((SECONDS - t0))s"
}

builds=("$@")
((${#builds[@]})) || builds=(release sanitize)
for b in "${builds[@]}"; do
    case $b in
    release) run_build release 2 -- "${release_setup[@]}" -- ;;
    sanitize) run_build sanitize 4 -- "${sanitize_setup[@]}" -- "${sanitize_env[@]}" ;;
    *) echo "run-tests: unknown build '$b' (release, sanitize)" >&2; exit 2 ;;
    esac
done

log "summary (wall time $((SECONDS - started))s)"
if ((${#tested_dirs[@]})); then
    python3 tools/test-summary.py --failed-steps "$failed_steps" "${tested_dirs[@]}"
    exit $?
fi
echo "0 passed, $failed_steps failed"
exit 1
