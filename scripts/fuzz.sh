#!/usr/bin/env bash
# Builds the fuzz targets with plain cargo, as `cargo fuzz build --sanitizer none` does (so
# stable Rust and a C++ compiler suffice: no cargo-fuzz, no nightly), and runs each for a
# bounded time from a scratch copy of its seeds (fuzz/seeds/<target>/) and kept regressions
# (fuzz/regressions/<target>/). A crash fails the script; its input is copied to
# fuzz/regressions/<target>/, which the next run and `cargo test --manifest-path
# fuzz/Cargo.toml` replay. docs/fuzzing.md explains the output and longer campaigns.
#
#   bash scripts/fuzz.sh [--asan] [SECONDS_PER_TARGET (default 30)] [TARGET...]
#
# --asan builds with AddressSanitizer (needs nightly, or RUSTC_BOOTSTRAP=1 on stable) in a
# target directory of its own. Extra libFuzzer flags go in FUZZ_ARGS (e.g. "-jobs=2
# -workers=2", or "-print_coverage=1" with FUZZ_LOG_DIR set to keep each target's log there).
# The build's target directory is FUZZ_TARGET_DIR, by default
# ${CARGO_TARGET_DIR:-target}/fuzz (or fuzz-asan). FUZZ_PARALLEL targets run at a time (by
# default one per core).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer=none
if [[ "${1:-}" == "--asan" ]]; then
    sanitizer=address
    shift
fi
seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh [--asan] [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
shift || true
# The targets, in the order of their [[bin]] block in fuzz/Cargo.toml.
mapfile -t all_targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml |
    grep -v '^steward-fuzz$')
if [[ "$#" -gt 0 ]]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
# The flags of cargo-fuzz (src/project.rs, `FuzzProject::cargo`) for a release build with
# debug assertions: SanitizerCoverage feeding libFuzzer (8-bit counters, PC table, compare
# tracing, stack depth), no branch folding, `cfg(fuzzing)`, one codegen unit.
rustflags="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
--cfg fuzzing -Clink-dead-code -Cdebug-assertions -Ccodegen-units=1"
if [[ "$host" == *-linux-* ]]; then
    rustflags="$rustflags -Cllvm-args=-sanitizer-coverage-stack-depth"
fi
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"
if [[ "$sanitizer" == address ]]; then
    rustflags="$rustflags -Zsanitizer=address"
    target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz-asan}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
fi

bins=()
for target in "${targets[@]}"; do
    bins+=(--bin "$target")
done
# `--target` keeps the flags off build scripts and proc macros, as cargo-fuzz does. Line tables
# (file and line in a crash's backtrace) rather than full debug info: the build is shorter,
# and a kept crash input is replayed with full debug info by `cargo test` in fuzz/.
RUSTFLAGS="$rustflags ${RUSTFLAGS:-}" cargo build --manifest-path fuzz/Cargo.toml \
    --release --config 'profile.release.debug="line-tables-only"' --target "$host" \
    --target-dir "$target_dir" "${bins[@]}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/steward-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# Runs one target; writes its summary line to $scratch/<target>/summary and returns libFuzzer's
# status.
run_target() {
    local target="$1"
    local corpus="$scratch/$target/corpus" artifacts="$scratch/$target/artifacts"
    local log="$scratch/$target/log" status=0
    mkdir -p "$corpus" "$artifacts"
    if [[ -d "fuzz/seeds/$target" ]]; then
        cp -R "fuzz/seeds/$target/." "$corpus/"
    fi
    local dirs=("$corpus")
    if [[ -d "fuzz/regressions/$target" ]]; then
        dirs+=("fuzz/regressions/$target")
    fi
    echo "== $target: ${seconds}s from $(find "${dirs[@]}" -type f | wc -l) inputs"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$target_dir/$host/release/$target" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "${dirs[@]}" > "$log" 2>&1 || status=$?
    if [[ -n "${FUZZ_LOG_DIR:-}" ]]; then
        mkdir -p "$FUZZ_LOG_DIR"
        cp "$log" "$FUZZ_LOG_DIR/$target.log"
    fi
    # The last status line of the run: "#<runs> DONE cov: <edges> ft: <features> corp: ...".
    local done_line cov ft execs per_second
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    per_second="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    printf '%-16s cov %6s  ft %7s  execs %10s  (%s/s)\n' "$target" \
        "${cov:--}" "${ft:--}" "${execs:--}" "${per_second:--}" > "$scratch/$target/summary"
    return "$status"
}

# Reports a failed target and keeps its crash inputs.
keep_failure() {
    local target="$1" artifacts="$scratch/$1/artifacts" crash kept
    failed+=("$target")
    tail -n 60 "$scratch/$target/log" >&2
    for crash in "$artifacts"/*; do
        [[ -e "$crash" ]] || continue
        mkdir -p "fuzz/regressions/$target"
        kept="fuzz/regressions/$target/$(basename "$crash")"
        cp "$crash" "$kept"
        echo "$target failed: input kept as $kept" >&2
        echo "  reproduce: $target_dir/$host/release/$target $kept" >&2
        echo "  as a test: fix the bug, commit $kept; cargo test --manifest-path" \
            "fuzz/Cargo.toml replays it (and every fuzz run starts from it)" >&2
    done
}

# One target per core at a time (FUZZ_PARALLEL), each single-threaded: CI's two cores run
# the targets in half the time.
parallel="${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}"
failed=()
declare -A running=()
# Waits for one running target and keeps its failure, if it failed.
reap() {
    local finished="" status=0
    wait -n -p finished || status=$?
    if [[ "$status" -ne 0 ]]; then
        keep_failure "${running[$finished]}"
    fi
    unset "running[$finished]"
}
for target in "${targets[@]}"; do
    while [[ "${#running[@]}" -ge "$parallel" ]]; do
        reap
    done
    run_target "$target" &
    running[$!]="$target"
done
while [[ "${#running[@]}" -gt 0 ]]; do
    reap
done

echo "== coverage after ${seconds}s per target (sanitizer: $sanitizer)"
for target in "${targets[@]}"; do
    cat "$scratch/$target/summary" 2>/dev/null || echo "$target: no summary"
done
if [[ "${#failed[@]}" -ne 0 ]]; then
    echo "fuzzing found failures in: ${failed[*]}" >&2
    exit 1
fi
