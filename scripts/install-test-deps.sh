#!/usr/bin/env bash
# Installs what Meridian's tests need on a fresh Debian/Ubuntu machine (run as root):
# the mosquitto command-line clients used by scripts/e2e.sh, and rustfmt/clippy
# (through rustup) for .ci/run. Checks that cargo exists.
# Idempotent and fast when everything is already installed.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "install-test-deps: cargo not found; install Rust from https://rustup.rs" >&2
    exit 1
fi

# rustfmt and clippy are needed by .ci/run; rustup installs them when missing.
for component in rustfmt clippy; do
    subcommand="${component/rustfmt/fmt}"
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            rustup component add "$component"
        else
            echo "install-test-deps: cargo $subcommand not found and rustup is not available" >&2
            exit 1
        fi
    fi
done

if command -v mosquitto_pub >/dev/null 2>&1 && command -v mosquitto_sub >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: mosquitto_pub/mosquitto_sub missing and apt-get not available;" \
         "install the mosquitto clients with your package manager" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends mosquitto-clients >/dev/null
echo "install-test-deps: installed mosquitto-clients"
