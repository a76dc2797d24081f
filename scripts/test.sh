#!/usr/bin/env bash
# Runs every test: installs the test tools if missing (scripts/install-test-deps.sh),
# then the Rust unit and integration tests of the whole workspace, then the
# end-to-end checks with the mosquitto clients (scripts/e2e.sh, then the
# cluster-link scenario in scripts/e2e-link.sh).
# Every stage always runs; the exit status is non-zero if any failed.
set -uo pipefail

cd "$(dirname "$0")/.."

status=0
bash scripts/install-test-deps.sh || status=1
echo "== cargo test --workspace"
cargo test --workspace --no-fail-fast || status=1
echo "== scripts/e2e.sh"
bash scripts/e2e.sh || status=1
echo "== scripts/e2e-link.sh"
bash scripts/e2e-link.sh || status=1

if [ "$status" -eq 0 ]; then
    echo "== all tests passed"
else
    echo "== some tests FAILED (see above)"
fi
exit "$status"
