#!/usr/bin/env bash
# Cost of one argon2id verification and of one access-token signature per algorithm,
# in a release build on this machine. Usage: bench/crypto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example crypto_costs
