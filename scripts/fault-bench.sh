#!/usr/bin/env bash
# The crash-and-fault suite at scale: a release server killed at each chosen crash point
# (between a WAL write and its fsync, before and after a fold's commit, inside a compaction)
# for ROUNDS rounds per point, with BATCH events per request; then a full disk on a tmpfs
# (needs root) and racing retries. Every round counts the lake against the client's 200s and
# prints the totals. Defaults: 5 rounds x 4 points = 20 rounds, 1000-event batches (> 1M events).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}" BATCH="${BATCH:-1000}" MAX_HITS="${MAX_HITS:-12}"
export STOREPULSE_FAULT_ROUNDS="$ROUNDS" STOREPULSE_FAULT_BATCH="$BATCH" STOREPULSE_FAULT_MAX_HITS="$MAX_HITS"
export STOREPULSE_REQUIRE_TMPFS=1
cargo test --release --locked -p storepulse --test faults -- --nocapture --test-threads=1 2>&1 |
  grep -E 'fault suite|retries were answered|^test |test result'
