#!/usr/bin/env bash
# What one revocation costs an instance with 300,000 tokens in its introspection cache
# (release build): revocations, key and user changes through the cache's indexes, and a
# full walk of the cache (what each revocation cost before the indexes).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q --release --example revocation_cost
