#!/usr/bin/env bash
# The bounded fuzz run of `make fuzz-ci` (part of `make test-all`, so of CI): installs the pinned
# cargo-fuzz when it is missing, builds every target once, then runs each for FUZZ_SECS seconds,
# FUZZ_JOBS targets at a time, from fuzz/corpus/<target> (kept out of git), the committed seeds
# and the regression inputs. A crash, a timeout, an out-of-memory or a build failure fails the
# run, printing the saved input (path, hex dump, base64) and how to reproduce it.
# Usage: fuzz/ci.sh [target...]   (default: every target in fuzz/Cargo.toml)
# Environment: FUZZ_SECS (40), FUZZ_JOBS (cores), FUZZ_BUILD_FLAGS, FUZZ_ARGS, CARGO_FUZZ_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
FUZZ_SECS=${FUZZ_SECS:-40}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
# How the targets are built: see SECURITY.md "Fuzzing" for the measured choice.
read -r -a BUILD_FLAGS <<<"${FUZZ_BUILD_FLAGS:---sanitizer none --debug-assertions}"
# Every input gets at most 20 s (a slower one is reported as a timeout) and 2 GB of memory.
# FUZZ_ARGS: more libFuzzer flags, after these (the last of a flag wins).
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"
LIBFUZZER_FLAGS=(-max_total_time="$FUZZ_SECS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "${EXTRA[@]}")
# cargo-fuzz uses nightly-only rustc flags; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx clawmetry-fuzz)
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-ci: no targets found in fuzz/Cargo.toml" >&2; exit 1; }

secs() { echo $(($(date +%s) - $1)); }

t0=$(date +%s)
have=$($CARGO fuzz --version 2>/dev/null || true)
if [ "$have" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION (found: ${have:-none})"
    $CARGO install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
    echo "== cargo-fuzz installed in $(secs "$t0") s"
fi

t0=$(date +%s)
echo "== cargo fuzz build ${BUILD_FLAGS[*]}"
$CARGO fuzz build "${BUILD_FLAGS[@]}"
echo "== fuzz targets built in $(secs "$t0") s"

logs=$(mktemp -d /tmp/clawmetry-fuzz-ci.XXXXXX)
trap 'rm -rf "$logs"' EXIT

# One target: its log in $logs/<t>.log, the artifacts present before in $logs/<t>.before.
run_one() {
    local t=$1
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    ls "fuzz/artifacts/$t" >"$logs/$t.before"
    local seeds=("fuzz/seeds/$t")
    [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
    # TMPDIR: the router target's state dir (fuzz_entry::router_dir) goes away with the logs.
    TMPDIR="$logs" $CARGO fuzz run "${BUILD_FLAGS[@]}" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- "${LIBFUZZER_FLAGS[@]}" \
        >"$logs/$t.log" 2>&1
}

# A failed target: the end of its log and every input it saved.
report() {
    local t=$1
    echo "!! fuzz target $t FAILED; end of its log:"
    tail -n 60 "$logs/$t.log" | sed 's/^/   | /'
    local found=0
    while read -r f; do
        grep -qx "$f" "$logs/$t.before" && continue
        found=1
        local p="fuzz/artifacts/$t/$f"
        echo "!! input: $p ($(stat -c %s "$p") bytes)"
        echo "   hex (first 512 bytes):"
        head -c 512 "$p" | od -A x -t x1z -v | sed 's/^/     /'
        echo "   base64: $(base64 -w0 "$p")"
        echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${BUILD_FLAGS[*]} $t $p"
        echo "   then fix the bug and copy the file to fuzz/regressions/$t/ (tests/it/fuzz_regressions.rs)"
    done < <(ls "fuzz/artifacts/$t")
    [ $found = 1 ] || echo "!! no input was saved (the fuzzer itself failed to run)"
}

failed=()
i=0
while [ $i -lt ${#targets[@]} ]; do
    batch=("${targets[@]:i:FUZZ_JOBS}")
    i=$((i + FUZZ_JOBS))
    t0=$(date +%s)
    echo "== fuzzing ${batch[*]} for ${FUZZ_SECS} s each"
    pids=()
    for t in "${batch[@]}"; do
        run_one "$t" &
        pids+=($!)
    done
    for k in "${!batch[@]}"; do
        t=${batch[$k]}
        if wait "${pids[$k]}"; then
            # libFuzzer's final stats: how many inputs ran and how much coverage they reached.
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
            cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -1)
            echo "   $t: ok, ${runs:-?} inputs, ${cov:-cov: ?} (corpus $(find "fuzz/corpus/$t" -type f | wc -l) files)"
        else
            failed+=("$t")
            report "$t"
        fi
    done
    echo "   (${batch[*]}: $(secs "$t0") s)"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "!! fuzz-ci: crash or error in: ${failed[*]}" >&2
    exit 1
fi
echo "== fuzz-ci: no crash in ${targets[*]}"
