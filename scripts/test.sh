#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests of the whole workspace,
# then the end-to-end check with the mosquitto clients (scripts/e2e.sh).
# Both always run; the exit status is non-zero if either failed.
set -uo pipefail

cd "$(dirname "$0")/.."

status=0
echo "== cargo test --workspace"
cargo test --workspace --no-fail-fast || status=1
echo "== scripts/e2e.sh"
bash scripts/e2e.sh || status=1

if [ "$status" -eq 0 ]; then
    echo "== all tests passed"
else
    echo "== some tests FAILED (see above)"
fi
exit "$status"
