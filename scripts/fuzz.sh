#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (libFuzzer), a bounded time
# per target, one target at a time:
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     # defaults: 60 s, every target
#
# Installs the nightly toolchain and cargo-fuzz when missing. Each target starts from
# its committed seeds (fuzz/corpus/<target>/) and keeps what it finds in
# fuzz/target/work-corpus/<target>/ (not committed; reused by the next run).
# Exits non-zero if any target crashes (a panic, a timeout or running out of memory);
# the input is then in fuzz/artifacts/<target>/. After fixing the bug, commit that
# input to fuzz/regressions/<target>/ so `cargo test` replays it for good.
#
# Environment:
#   FUZZ_MERGE=1         merge new coverage from the work corpus into fuzz/corpus/
#                        (libFuzzer -merge=1 -use_counters=0 keeps only inputs that add
#                        edge coverage, which keeps the committed corpus small)
#   FUZZ_SANITIZER=name  cargo-fuzz sanitizer (default: none; the project forbids unsafe
#                        code, so the panics and invariants are what is being looked for)
#   FUZZ_JOBS=n          libFuzzer processes per target (default 1; the machines have 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
if [ "$#" -gt 0 ]; then shift; fi
case "$seconds" in
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2
    exit 2
    ;;
esac
sanitizer="${FUZZ_SANITIZER:-none}"
jobs="${FUZZ_JOBS:-1}"

if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  echo "fuzz: cargo and rustup are needed; install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
cargo +nightly fuzz build --sanitizer "$sanitizer"

failed=()
for target in "${targets[@]}"; do
  work="target/work-corpus/$target"
  mkdir -p "$work" "corpus/$target"
  echo "== fuzzing $target for ${seconds}s"
  if cargo +nightly fuzz run --sanitizer "$sanitizer" --jobs "$jobs" "$target" "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    echo "== $target: no crash in ${seconds}s"
  else
    echo "== $target: CRASH (input in fuzz/artifacts/$target/)" >&2
    failed+=("$target")
  fi
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    echo "== merging new coverage of $target into fuzz/corpus/$target/"
    cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" "$work" -- -merge=1 -use_counters=0
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s), no crash"
