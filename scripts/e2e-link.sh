#!/usr/bin/env bash
# End-to-end check of cluster linking with the command-line clients a user would
# run (mosquitto_pub, mosquitto_sub): builds the debug `meridian`, starts two
# brokers `aliyun` and `huawei` on free local ports, each with a [[link]] to the
# other, and checks that a `from-cluster` message published on either cluster
# reaches the subscribers on both exactly once, and that a topic outside the
# link's topics stays in its own cluster.
#
# Prints `ok - <what>` / `not ok - <what>: expected … got …` per check, then
# `N passed, M failed`; exits non-zero on any failure. Every client and every wait
# is bounded, so the whole script stays well under a minute; the brokers are
# always killed on exit.
set -uo pipefail

cd "$(dirname "$0")/.."

passed=0
failed=0
broker_pids=()
client_pids=()
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-e2e-link.XXXXXX")"
host=127.0.0.1

cleanup() {
    local pid
    for pid in "${client_pids[@]}"; do
        kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for pid in "${broker_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${broker_pids[@]}"; do
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$failed" -gt 0 ]; then
        local log
        for log in "$work"/*.log; do
            [ -s "$log" ] || continue
            echo "--- last lines of $log ---" >&2
            tail -n 20 "$log" >&2
        done
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

# pick_port VAR: sets VAR to a TCP port nobody listens on: asked from the kernel
# when python3 exists, otherwise the first port from 21000 up that refuses a
# connection and was not picked before.
picked=" "
pick_port() {
    local port
    if command -v python3 >/dev/null 2>&1; then
        port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    else
        for port in $(seq 21000 21999); do
            case "$picked" in *" $port "*) continue ;; esac
            (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || break
        done
    fi
    picked="$picked$port "
    printf -v "$1" '%s' "$port"
}

accepts_connections() {
    (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

# http_get PORT PATH: the body of a GET to the admin API (bash's /dev/tcp, no curl).
http_get() {
    (
        exec 3<>"/dev/tcp/$host/$1" || exit 1
        printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$2" "$host" >&3
        timeout 5 cat <&3 | sed '1,/^\r$/d'
    ) 2>/dev/null
}

# wait_json ADMIN_PORT PATH TEXT: waits up to 10 s for the JSON at PATH to contain TEXT.
wait_json() {
    for _ in $(seq 1 100); do
        http_get "$1" "$2" | grep -q "$3" && return 0
        sleep 0.1
    done
    echo "# $2 on admin port $1 never contained $3: $(http_get "$1" "$2")" >&2
    return 1
}

cargo build --quiet --bin meridian || die "cargo build --bin meridian failed"
cores=2
cpus="$(nproc 2>/dev/null || echo 1)"
[ "$cpus" -lt "$cores" ] && cores="$cpus"
pick_port aliyun_port
pick_port aliyun_admin
pick_port huawei_port
pick_port huawei_admin

# config NAME PORT ADMIN REMOTE REMOTE_PORT: one cluster's file, linked to REMOTE.
config() {
    cat >"$work/$1.toml" <<TOML
[node]
cluster = "$1"
cores = $cores

[[listener]]
bind = "$host:$2"

[admin]
bind = "$host:$3"

[[link]]
name = "$4"
server = "$host:$5"
clientid_prefix = "from-$1"
username = "link"
password = "secret"
topics = ["from-cluster", "global/#"]
pool_size = 2
keepalive = 2
reconnect_min_ms = 100
reconnect_max_ms = 1000
TOML
}
config aliyun "$aliyun_port" "$aliyun_admin" huawei "$huawei_port"
config huawei "$huawei_port" "$huawei_admin" aliyun "$aliyun_port"

for name in aliyun huawei; do
    target/debug/meridian --config "$work/$name.toml" >"$work/$name.log" 2>&1 &
    broker_pids+=($!)
done
for port in "$aliyun_port" "$huawei_port" "$aliyun_admin" "$huawei_admin"; do
    for _ in $(seq 1 100); do
        accepts_connections "$port" && break
        sleep 0.1
    done
    accepts_connections "$port" || die "nothing accepts connections on $host:$port after 10 s"
done
echo "# aliyun on $host:$aliyun_port (admin $aliyun_admin), huawei on $host:$huawei_port (admin $huawei_admin)"
wait_json "$aliyun_admin" /api/v1/links/huawei/metrics '"state":"connected"' || die "aliyun's link to huawei did not connect"
wait_json "$huawei_admin" /api/v1/links/aliyun/metrics '"state":"connected"' || die "huawei's link to aliyun did not connect"

# sub NAME PORT ARGS…: starts mosquitto_sub in the background (output in
# $work/NAME.out) and returns once the broker has acknowledged its subscriptions.
sub() {
    local name="$1" port="$2"
    shift 2
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
# then sets $got to its messages, sorted (the lines our -F formats tag with "msg> ").
received() {
    local pid_var="${1}_pid"
    wait "${!pid_var}" 2>/dev/null
    got="$(sed -n 's/^msg> //p' "$work/$1.out" | sort)"
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

pub() {
    local port="$1"
    shift
    timeout 10 mosquitto_pub -h "$host" -p "$port" "$@"
}

# 1. Both ways, exactly once: each subscriber waits 3 s for a third message, so a
# duplicate would show.
if sub on_aliyun "$aliyun_port" -q 1 -t from-cluster -C 3 -W 3 -F 'msg> %t %p' &&
    sub on_huawei "$huawei_port" -q 1 -t from-cluster -C 3 -W 3 -F 'msg> %t %p'; then
    # Each cluster has asked the other for from-cluster.
    wait_json "$aliyun_admin" /api/v1/links/huawei/metrics '"routes_in":1' &&
        wait_json "$huawei_admin" /api/v1/links/aliyun/metrics '"routes_in":1'
    check "routes: each cluster installed the other's from-cluster route" 0 "$?"
    pub "$aliyun_port" -q 1 -t from-cluster -m 'hello from aliyun'
    pub "$huawei_port" -q 1 -t from-cluster -m 'hello from huawei'
    both="$(printf 'from-cluster hello from aliyun\nfrom-cluster hello from huawei')"
    received on_aliyun
    check "link: the subscriber on aliyun gets both clusters' messages once" "$both" "$got"
    received on_huawei
    check "link: the subscriber on huawei gets both clusters' messages once" "$both" "$got"
else
    check "link: subscribers subscribed" "SUBACK" "none"
fi

# 2. A topic outside the link's topics stays in its cluster.
if sub local_aliyun "$aliyun_port" -q 1 -t local/door -C 1 -W 3 -F 'msg> %t %p' &&
    sub local_huawei "$huawei_port" -q 1 -t local/door -C 1 -W 2 -F 'msg> %t %p'; then
    pub "$aliyun_port" -q 1 -t local/door -m open
    received local_aliyun
    check "local: the subscriber on aliyun gets local/door" "local/door open" "$got"
    received local_huawei
    check "local: local/door does not cross to huawei" "" "$got"
else
    check "local: subscribers subscribed" "SUBACK" "none"
fi

for i in "${!broker_pids[@]}"; do
    kill -0 "${broker_pids[$i]}" 2>/dev/null || check "broker $i still running after the checks" "running" "exited"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
