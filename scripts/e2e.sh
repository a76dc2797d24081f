#!/usr/bin/env bash
# End-to-end test with the command-line clients a user would run (mosquitto_pub,
# mosquitto_sub): builds the debug `meridian`, starts it on a free local port with
# `cores = 2`, and checks wildcards, retained messages, QoS 2, wills, persistent
# sessions and MQTT 5 user properties.
#
# Prints `ok - <what>` / `not ok - <what>: expected … got …` per check, then
# `N passed, M failed`; exits non-zero on any failure. Every client runs with a
# timeout, so the whole script stays well under a minute.
#
# E2E_BROKER=host:port runs the same checks against an already running broker
# (for example mosquitto, to compare) instead of building and starting meridian.
set -uo pipefail

cd "$(dirname "$0")/.."

passed=0
failed=0
broker_pid=""
client_pids=()
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-e2e.XXXXXX")"

cleanup() {
    local pid
    for pid in "${client_pids[@]}"; do
        kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null
        for _ in $(seq 1 20); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$broker_pid" 2>/dev/null
        wait "$broker_pid" 2>/dev/null
    fi
    if [ "$failed" -gt 0 ] && [ -s "$work/broker.log" ]; then
        echo "--- last lines of the broker log ($work/broker.log) ---" >&2
        tail -n 40 "$work/broker.log" >&2
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# die WHAT: a set-up step failed, so no check can run.
die() {
    echo "not ok - $*"
    failed=$((failed + 1))
    echo "$passed passed, $failed failed"
    exit 1
}

for tool in mosquitto_pub mosquitto_sub stdbuf timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/install-test-deps.sh"
done

# A TCP port nobody listens on: asked from the kernel when python3 exists,
# otherwise the first port from 20000 up that refuses a connection.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local port
    for port in $(seq 20000 20999); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port in 20000..20999"
}

accepts_connections() {
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

if [ -n "${E2E_BROKER:-}" ]; then
    host="${E2E_BROKER%:*}"
    port="${E2E_BROKER##*:}"
    accepts_connections || die "nothing accepts connections on $E2E_BROKER"
    echo "# against the broker at $host:$port"
else
    cargo build --quiet --bin meridian || die "cargo build --bin meridian failed"
    host=127.0.0.1
    port="$(free_port)"
    cores=2
    cpus="$(nproc 2>/dev/null || echo 1)"
    [ "$cpus" -lt "$cores" ] && cores="$cpus"
    cat >"$work/meridian.toml" <<EOF
[node]
cluster = "e2e"
cores = $cores

[[listener]]
bind = "$host:$port"
EOF
    target/debug/meridian --config "$work/meridian.toml" >"$work/broker.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 1 100); do
        accepts_connections && break
        kill -0 "$broker_pid" 2>/dev/null || die "meridian exited during start-up: $(tail -n 5 "$work/broker.log")"
        sleep 0.1
    done
    accepts_connections || die "meridian does not accept connections on $host:$port after 10 s"
    echo "# meridian (pid $broker_pid, cores = $cores) on $host:$port"
fi

pub() { timeout 10 mosquitto_pub -h "$host" -p "$port" "$@"; }

# sub NAME ARGS…: starts mosquitto_sub in the background (output in $work/NAME.out,
# messages formatted by the caller's -F) and returns once the broker has
# acknowledged its subscriptions, so a publish that follows cannot miss them.
sub() {
    local name="$1"
    shift
    stdbuf -oL mosquitto_sub -h "$host" -p "$port" -d "$@" >"$work/$name.out" 2>&1 &
    local pid=$!
    client_pids+=("$pid")
    eval "${name}_pid=$pid"
    for _ in $(seq 1 50); do
        grep -q 'received SUBACK' "$work/$name.out" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "# subscriber $name did not get a SUBACK: $(tr '\n' ' ' <"$work/$name.out")" >&2
    return 1
}

# received NAME: waits for subscriber NAME to exit (its -C count or -W timeout),
# then sets $got to its messages (the lines our -F formats tag with "msg> ").
received() {
    local pid_var="${1}_pid"
    wait "${!pid_var}" 2>/dev/null
    got="$(sed -n 's/^msg> //p' "$work/$1.out")"
}

# check WHAT EXPECTED GOT
check() {
    if [ "$2" == "$3" ]; then
        echo "ok - $1"
        passed=$((passed + 1))
    else
        echo "not ok - $1: expected $(printf '%q' "$2") got $(printf '%q' "$3")"
        failed=$((failed + 1))
    fi
}

# 1. Wildcards: `+` matches one level, `#` any number [MQTT-4.7.1-2, MQTT-4.7.1-3].
# Each subscriber waits up to 2 s for a second message, so a duplicate would show.
if sub plus -t 'e2e/+/temp' -C 2 -W 2 -F 'msg> %t %p' && sub hash -t 'e2e/#' -C 2 -W 2 -F 'msg> %t %p'; then
    pub -t e2e/kitchen/temp -m 21.5
    received plus
    check "wildcard: e2e/+/temp receives e2e/kitchen/temp once" "e2e/kitchen/temp 21.5" "$got"
    received hash
    check "wildcard: e2e/# receives e2e/kitchen/temp once" "e2e/kitchen/temp 21.5" "$got"
else
    check "wildcard: subscribers subscribed" "SUBACK" "none"
fi

# 2. Retained: a new subscriber gets the retained message with the retain flag set
# [MQTT-3.3.1-6]; an empty retained payload deletes it [MQTT-3.3.1-10].
pub -r -q 1 -t e2e/retained/door -m open
got="$(timeout 10 mosquitto_sub -h "$host" -p "$port" -t e2e/retained/door -C 1 -W 3 -F 'retain=%r %p' 2>&1)"
check "retained: a new subscriber gets the retained message" "retain=1 open" "$got"
pub -r -q 1 -t e2e/retained/door -n
got="$(timeout 10 mosquitto_sub -h "$host" -p "$port" -t e2e/retained/door -C 1 -W 1 -F 'retain=%r %p' 2>&1 | grep -v '^Timed out$')"
check "retained: an empty retained payload deletes it" "" "$got"

# 3. QoS 2 is delivered exactly once [MQTT-4.3.3-1]; the subscriber waits 2 s for a duplicate.
if sub qos2 -q 2 -t e2e/qos2 -C 2 -W 2 -F 'msg> qos=%q %p'; then
    pub -q 2 -t e2e/qos2 -m once
    received qos2
    check "qos 2: delivered exactly once at QoS 2" "qos=2 once" "$got"
else
    check "qos 2: subscriber subscribed" "SUBACK" "none"
fi

# 4. Will: a client that vanishes without DISCONNECT has its will published [MQTT-3.1.2-8].
if sub will_watch -t e2e/will/status -C 1 -W 5 -F 'msg> %t %p' &&
    sub will_client -i e2e-will-client -t e2e/will/unused --will-topic e2e/will/status --will-payload gone; then
    kill -9 "$will_client_pid" 2>/dev/null
    wait "$will_client_pid" 2>/dev/null
    received will_watch
    check "will: a killed client's will reaches a subscriber" "e2e/will/status gone" "$got"
else
    check "will: clients subscribed" "SUBACK" "none"
fi

# 5. Persistent session: with clean session off, QoS 1 messages published while the
# client is offline are kept and delivered when it reconnects [MQTT-3.1.2-4, MQTT-3.1.2-5].
timeout 10 mosquitto_sub -h "$host" -p "$port" -c -i e2e-persist -q 1 -t e2e/persist -E >/dev/null 2>&1
pub -q 1 -t e2e/persist -m while-offline
got="$(timeout 10 mosquitto_sub -h "$host" -p "$port" -c -i e2e-persist -q 1 -t e2e/persist -C 1 -W 3 -F '%p' 2>&1)"
check "persistent session: a QoS 1 message sent while offline arrives on reconnect" "while-offline" "$got"
timeout 10 mosquitto_sub -h "$host" -p "$port" -i e2e-persist -t e2e/persist -E >/dev/null 2>&1

# 6. MQTT 5 user properties are forwarded unaltered [MQTT-3.3.2-18].
if sub props -V mqttv5 -t e2e/props -C 1 -W 3 -F 'msg> %P %p'; then
    pub -V mqttv5 -t e2e/props -m hello -D publish user-property k v
    received props
    check "mqtt 5: a user property reaches the subscriber" "k:v hello" "$got"
else
    check "mqtt 5: subscriber subscribed" "SUBACK" "none"
fi

if [ -n "$broker_pid" ] && ! kill -0 "$broker_pid" 2>/dev/null; then
    check "broker still running after the checks" "running" "exited"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
