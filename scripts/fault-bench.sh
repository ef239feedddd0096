#!/usr/bin/env bash
# The crash-and-fault suite at scale: a release server killed at each chosen crash point
# (between a WAL write and its fsync, before and after a fold's commit, inside a compaction)
# for ROUNDS rounds per point, with BATCH events per request; then a full disk on a tmpfs
# (needs root) and racing retries. Every round counts the lake against the client's 200s and
# prints the totals. Defaults: 5 rounds x 4 points = 20 rounds, 1000-event batches (> 1M events).
# It runs the test build (warm after `cargo test`); RELEASE=1 runs an optimised build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}" BATCH="${BATCH:-1000}" MAX_HITS="${MAX_HITS:-12}"
export FAULTS_ROUNDS="$ROUNDS" FAULTS_BATCH="$BATCH" FAULTS_MAX_HITS="$MAX_HITS"
export FAULTS_REQUIRE_TMPFS=1
cargo test ${RELEASE:+--release} --locked --workspace --test faults -- --nocapture --test-threads=1 2>&1 |
  grep -E 'fault suite|retries were answered|^test |test result'
