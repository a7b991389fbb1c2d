#!/usr/bin/env bash
# Runs the whole test suite the way CI does: format, lints, one build, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build (once; the tests run the binary built here)"
cargo build --workspace --all-targets --locked
echo "== tests"
cargo test --workspace --locked --no-fail-fast
