#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests (the
# differential suite against real rsync included).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets --release -- -D warnings
cargo test --release --all-targets
