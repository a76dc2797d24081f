#!/usr/bin/env bash
# Side-by-side comparison: Meridian vs Mosquitto (and rumqttd when it builds here),
# driven by the same meridian-loadgen scenarios in one run, plus cluster links vs a
# Mosquitto bridge, directly and through a 15 ms-each-way WAN proxy.
#
#   benches/compare.sh            full run (~45 min), appends to benches/RESULTS.md
#   benches/compare.sh --quick    short runs for iterating; prints the table and writes
#                                 target/compare/last.md (append with --out FILE)
#
# Options: --quick, --out FILE, --no-install (skip apt/cargo install), --no-rumqttd,
# --only single|coalesce|links (one part of the run: the single-broker scenarios, the
# write-coalescing window curve, or links vs bridge).
# Environment: RUMQTTD_BUILD_TIMEOUT (seconds, default 900), MQTT_VERSION (default
# 3.1.1: the version every broker here speaks fully), BASE_PORT (default 21880),
# REPEAT (runs per low-rate and QoS 1 row, median CPU reported; 3, or 1 with --quick),
# KEEP_WORK=1 (keep the temporary directory with every config, log and JSON).
#
# Every broker listens on 127.0.0.1 on its own port. For the like-for-like rows the
# broker is pinned to CPU 0 (`taskset -c 0`, Meridian with `cores = 1`) and the load
# generator to CPU 1 (`--cores 1 --pin-from 1`); one extra row runs Meridian with
# `cores = 2` unpinned. The link rows run two brokers (and the proxies) unpinned.
# Broker CPU is the utime+stime delta of its process from /proc/PID/stat over the
# whole loadgen run (connect, publish, drain), divided by the messages delivered to
# subscribers; RSS is VmRSS from /proc/PID/status at the end of the run.
# Every process this script starts is stopped by its pid when it exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
OUT=""
INSTALL=1
RUMQTTD=1
ONLY=all
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) OUT="$2"; shift ;;
        --no-install) INSTALL=0 ;;
        --no-rumqttd) RUMQTTD=0 ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done

MQTT_VERSION=${MQTT_VERSION:-3.1.1}
RUMQTTD_BUILD_TIMEOUT=${RUMQTTD_BUILD_TIMEOUT:-900}
BASE_PORT=${BASE_PORT:-21880}
if [[ $QUICK == 1 ]]; then
    REPEAT=${REPEAT:-1}
    DUR=3s; DRAIN=1s
    HIGH_RATES="2000 5000 20000 40000"
    LINK_RATES="1000 20000 100000 200000"
    CONNS=2000
else
    REPEAT=${REPEAT:-3}
    DUR=10s; DRAIN=2s
    HIGH_RATES="2000 3000 5000 10000 20000 40000 50000 60000 80000 100000 120000 160000 200000 240000"
    LINK_RATES="1000 5000 20000 50000 100000 200000 300000 400000 500000"
    CONNS=10000
fi
[[ -z "$OUT" && $QUICK == 0 ]] && OUT="$ROOT/benches/RESULTS.md"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/meridian-compare.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_WORK:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[compare] $*" >&2; }
COMMANDS=()   # every loadgen command, for RESULTS.md
ROWS=()       # markdown table rows

# ---------------------------------------------------------------- dependencies
if [[ $INSTALL == 1 ]]; then
    missing=()
    command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
    command -v jq >/dev/null || missing+=(jq)
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing ${missing[*]} with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[[ -x "$MOSQUITTO" ]] || { log "mosquitto is not installed"; exit 1; }
command -v jq >/dev/null || { log "jq is not installed"; exit 1; }

RUMQTTD_BIN=$(command -v rumqttd || echo "$HOME/.cargo/bin/rumqttd")
RUMQTTD_STATUS="not tried (--no-rumqttd)"
if [[ $RUMQTTD == 1 ]]; then
    if [[ -x "$RUMQTTD_BIN" ]]; then
        RUMQTTD_STATUS="installed"
    elif [[ $INSTALL == 1 ]]; then
        log "cargo install rumqttd (time limit ${RUMQTTD_BUILD_TIMEOUT}s)"
        if timeout "$RUMQTTD_BUILD_TIMEOUT" cargo install rumqttd >"$WORK/rumqttd-build.log" 2>&1; then
            RUMQTTD_STATUS="built by cargo install"
        else
            RUMQTTD_STATUS="cargo install rumqttd failed or timed out: $(tail -n 2 "$WORK/rumqttd-build.log" | tr '\n' ' ' | cut -c1-160)"
        fi
    else
        RUMQTTD_STATUS="not installed (--no-install)"
    fi
    [[ -x "$RUMQTTD_BIN" ]] || RUMQTTD=0
fi
log "rumqttd: $RUMQTTD_STATUS"

log "cargo build --release --workspace"
(cd "$ROOT" && cargo build --release --workspace >&2)
MERIDIAN="$ROOT/target/release/meridian"
LG="$ROOT/target/release/meridian-loadgen"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- process helpers
# Meridian binds with SO_REUSEPORT, so a second process on a port already in use does
# not fail: the kernel splits the connections between the two. Refuse busy ports.
for port in $(seq "$BASE_PORT" $((BASE_PORT + 12))); do
    if [[ -n $(ss -Hltn "( sport = :$port )") ]]; then
        log "port $port is in use (ss -ltnp 'sport = :$port'); choose another BASE_PORT"
        exit 1
    fi
done

wait_port() {
    local port=$1 i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    log "nothing listens on port $port after 10 s"
    return 1
}

# start VAR PIN CMD... : starts CMD (pinned to CPU 0 when PIN=pin), sets VAR to its pid.
start() {
    local var=$1 pin=$2; shift 2
    if [[ $pin == pin ]]; then
        taskset -c 0 "$@" >"$WORK/$var.log" 2>&1 &
    else
        "$@" >"$WORK/$var.log" 2>&1 &
    fi
    local pid=$!
    PIDS+=("$pid")
    printf -v "$var" '%s' "$pid"
}

stop() {
    local pid keep=() p
    for pid in "$@"; do
        [[ -n $pid ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        keep=()
        for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
        PIDS=("${keep[@]}")
    done
}

alive() { kill -0 "$1" 2>/dev/null; }

# utime+stime in clock ticks, summed over the given pids.
cpu_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
        total=$((total + t))
    done
    echo "$total"
}

rss_kib() {
    local pid total=0 r
    for pid in "$@"; do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
        total=$((total + r))
    done
    echo "$total"
}

meridian_config() { # FILE PORT CORES CLUSTER [extra toml]
    local cores_line=""
    [[ $3 != all ]] && cores_line="cores = $3"
    cat >"$1" <<EOF
[node]
cluster = "$4"
$cores_line

[[listener]]
bind = "127.0.0.1:$2"

[log]
level = "warn"
${5:-}
EOF
}

mosquitto_config() { # FILE PORT [extra]
    cat >"$1" <<EOF
listener $2 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
${3:-}
EOF
}

rumqttd_config() { # FILE PORT
    cat >"$1" <<EOF
id = 0

[router]
id = 0
max_connections = 20010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$2"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
EOF
}

# ---------------------------------------------------------------- measuring
# run_lg NAME PINNED(pin|free) BROKER_PIDS(csv) LOADGEN-ARGS... ; writes $WORK/NAME.{json,err,time,cpu,rss}
run_lg() {
    local name=$1 pinned=$2 pids_csv=$3; shift 3
    local pids
    IFS=, read -r -a pids <<<"$pids_csv"
    local lgpin=()
    [[ $pinned == pin ]] && lgpin=(--cores 1 --pin-from 1)
    local cmd=("$LG" "$@" "${lgpin[@]}" --json)
    COMMANDS+=("${cmd[*]#"$ROOT/"}")
    local t0 t1
    t0=$(cpu_ticks "${pids[@]}")
    local TIMEFORMAT='%U %S %R'
    { time timeout 600 "${cmd[@]}" >"$WORK/$name.json" 2>"$WORK/$name.err"; } 2>"$WORK/$name.time" || true
    t1=$(cpu_ticks "${pids[@]}")
    echo $((t1 - t0)) >"$WORK/$name.cpu"
    rss_kib "${pids[@]}" >"$WORK/$name.rss"
}

CLK_TCK=$(getconf CLK_TCK)

# row SCENARIO BROKER NAME OFFERED NOTE : one table row from run_lg's files.
row() {
    local scen=$1 broker=$2 name=$3 offered=$4 note=${5:-}
    local j="$WORK/$name.json"
    if ! jq -e .received "$j" >/dev/null 2>&1; then
        local why
        why=$(tail -n 1 "$WORK/$name.err" 2>/dev/null | cut -c1-120)
        ROWS+=("| $scen | $broker | $offered | – | – | – | – | – | – | – | run failed: ${why:-no output} $note |")
        return
    fi
    local ticks rss lgcpu
    ticks=$(cat "$WORK/$name.cpu"); rss=$(cat "$WORK/$name.rss")
    lgcpu=$(awk '{ if ($3 > 0) printf "%.0f", 100 * ($1 + $2) / $3; else print "?" }' "$WORK/$name.time")
    ROWS+=("$(jq -r --arg s "$scen" --arg b "$broker" --arg o "$offered" --arg n "$note" \
        --argjson ticks "$ticks" --argjson hz "$CLK_TCK" --argjson rss "$rss" --arg lg "$lgcpu" '
        def r(x): (x * 100 | round) / 100;
        "| \($s) | \($b) | \($o) | \(.recv_rate | round) | \(.lost) | \(r(.latency_us.p50 / 1000)) | \(r(.latency_us.p99 / 1000)) | " +
        (if .received > 0 then "\(r($ticks * 1000000 / $hz / .received))" else "–" end) +
        " | \(r($rss / 1024)) | \($lg) | \($n) |"' "$j")")
}

# median_row SCEN BROKER NAME OFFERED PINNED PIDS -- LOADGEN-ARGS : runs the scenario
# $REPEAT times (NAME-1, NAME-2, ...) and writes the row of the run with the median
# broker CPU per message; the note lists every run's CPU/msg and p99. Sets
# MEDIAN_NAME to that run's name.
median_row() {
    local scen=$1 broker=$2 name=$3 offered=$4 pinned=$5 pids=$6; shift 7
    local i runs=() stats=()
    for ((i = 1; i <= REPEAT; i++)); do
        run_lg "$name-$i" "$pinned" "$pids" "$@"
        runs+=("$name-$i")
    done
    local scored=()
    for n in "${runs[@]}"; do
        local cpu
        cpu=$(jq -r --argjson t "$(cat "$WORK/$n.cpu")" --argjson hz "$CLK_TCK" \
            'if .received > 0 then $t * 1000000 / $hz / .received else 1e9 end' "$WORK/$n.json" 2>/dev/null || echo 1e9)
        scored+=("$cpu $n")
        stats+=("$(jq -r --argjson t "$(cat "$WORK/$n.cpu")" --argjson hz "$CLK_TCK" \
            'if .received > 0 then "\($t * 1000000 / $hz / .received * 100 | round / 100) µs, p99 \(.latency_us.p99 / 10 | round / 100) ms" else "failed" end' \
            "$WORK/$n.json" 2>/dev/null || echo failed)")
    done
    MEDIAN_NAME=$(printf '%s\n' "${scored[@]}" | sort -g | awk -v k=$(((REPEAT + 1) / 2)) 'NR == k {print $2}')
    local note=""
    ((REPEAT > 1)) && note="median CPU of $REPEAT runs: $(IFS=';'; echo "${stats[*]}" | sed 's/;/; /g')"
    row "$scen" "$broker" "$MEDIAN_NAME" "$offered" "$note"
}

# Passed when nothing was lost and the publishers sent ≥ 95 % of the offered rate.
held() { # NAME RATE
    jq -e --argjson rate "$2" '.lost == 0 and .received > 0 and (.sent / .duration_s) >= 0.95 * $rate' \
        "$WORK/$1.json" >/dev/null 2>&1
}

# ladder SCEN BROKER PINNED PIDS_CSV RATES -- LOADGEN-ARGS (without --rate)
# Runs rising rates until one is not held; the row is the highest rate held. A step
# not held is run once more before the ladder stops (the machine is shared and noisy:
# one stall of a few hundred ms loses QoS 0 messages at these rates).
ladder() {
    local scen=$1 broker=$2 pinned=$3 pids=$4 rates=$5; shift 6
    local best="" best_rate="" rate name note=""
    for rate in $rates; do
        name="$scen-$broker-$rate"; name=${name//[^A-Za-z0-9-]/_}
        log "$scen / $broker at $rate msg/s"
        run_lg "$name" "$pinned" "$pids" "$@" --rate "$rate"
        if ! held "$name" "$rate"; then
            log "$scen / $broker at $rate msg/s not held; once more"
            run_lg "$name" "$pinned" "$pids" "$@" --rate "$rate"
        fi
        if held "$name" "$rate"; then
            best=$name; best_rate=$rate
        else
            note=$(jq -r --argjson rate "$rate" \
                '"next step \($rate)/s not held (twice; the second run): sent \(.sent / .duration_s | round)/s, lost \(.lost)"' \
                "$WORK/$name.json" 2>/dev/null || echo "next step $rate/s failed")
            break
        fi
    done
    if [[ -n $best ]]; then
        row "$scen" "$broker" "$best" "$best_rate" "highest held; ${note:-every step held}"
    else
        row "$scen" "$broker" "$name" "$(echo "$rates" | awk '{print $1}')" "lowest step not held; $note"
    fi
}

# ---------------------------------------------------------------- single-broker scenarios
P_MERIDIAN=$((BASE_PORT + 3))
P_MOSQUITTO=$((BASE_PORT + 4))
P_RUMQTTD=$((BASE_PORT + 5))
# The low-rate rows send every message in its own write, as an independent client
# publishing every 0.5 ms does (the load generator's default 1 ms tick would put two
# in each write, which hides what one message per write costs a broker).
LOW_TICK=50us
# Every client announces a keep-alive longer than any run (rumqttd refuses 0; the
# load generator sends no PINGREQ).
V=(-V "$MQTT_VERSION" --keepalive 600)

# start_broker KIND VAR → sets VAR to its pid and PORT to its port
start_broker() {
    local kind=$1 var=$2
    case "$kind" in
        meridian-c1)
            meridian_config "$WORK/m1.toml" "$P_MERIDIAN" 1 bench
            start "$var" pin "$MERIDIAN" --config "$WORK/m1.toml"; PORT=$P_MERIDIAN; PIN=pin ;;
        meridian-c2)
            meridian_config "$WORK/m2.toml" "$P_MERIDIAN" 2 bench
            start "$var" free "$MERIDIAN" --config "$WORK/m2.toml"; PORT=$P_MERIDIAN; PIN=free ;;
        mosquitto)
            mosquitto_config "$WORK/mosq.conf" "$P_MOSQUITTO"
            start "$var" pin "$MOSQUITTO" -c "$WORK/mosq.conf"; PORT=$P_MOSQUITTO; PIN=pin ;;
        mosquitto-nodelay)
            mosquitto_config "$WORK/mosq-nd.conf" "$P_MOSQUITTO" "set_tcp_nodelay true"
            start "$var" pin "$MOSQUITTO" -c "$WORK/mosq-nd.conf"; PORT=$P_MOSQUITTO; PIN=pin ;;
        rumqttd)
            rumqttd_config "$WORK/rumqttd.toml" "$P_RUMQTTD"
            start "$var" pin "$RUMQTTD_BIN" --config "$WORK/rumqttd.toml"; PORT=$P_RUMQTTD; PIN=pin ;;
    esac
    wait_port "$PORT"
}

# Mosquitto leaves Nagle's algorithm on unless `set_tcp_nodelay true`: the kernel then
# holds a small write while an earlier one is unacknowledged, which saves segments
# (CPU) and costs milliseconds. Meridian, rumqttd and this second Mosquitto set
# TCP_NODELAY; that Mosquitto runs the low-rate and QoS 1 rows only.
BROKERS=(meridian-c1 mosquitto mosquitto-nodelay)
[[ $RUMQTTD == 1 ]] && BROKERS+=(rumqttd)
BROKERS+=(meridian-c2)

MOSQUITTO_LABEL="Mosquitto $("$MOSQUITTO" -h 2>&1 | awk 'NR==1 {print $3}' || true)"
label() {
    case "$1" in
        meridian-c1) echo "Meridian (cores=1, pinned)" ;;
        meridian-c2) echo "Meridian (cores=2, unpinned)" ;;
        mosquitto) echo "$MOSQUITTO_LABEL (pinned)" ;;
        mosquitto-nodelay) echo "$MOSQUITTO_LABEL, set_tcp_nodelay true (pinned)" ;;
        rumqttd) echo "rumqttd (pinned)" ;;
    esac
}

[[ $ONLY == links || $ONLY == coalesce ]] && BROKERS=()
for kind in "${BROKERS[@]}"; do
    B=""
    if ! start_broker "$kind" B; then
        ROWS+=("| all | $(label "$kind") | – | – | – | – | – | – | – | – | broker did not start: $(tail -n 1 "$WORK/B.log" | cut -c1-120) |")
        stop "$B"; continue
    fi
    L=$(label "$kind")
    common=(bench --host 127.0.0.1 --port "$PORT" "${V[@]}" --duration "$DUR" --drain "$DRAIN" --size 64)

    log "fan-out 1→50 QoS 0 at 2000 msg/s on $kind"
    median_row "fan-out 1→50 QoS 0 (100k deliveries/s)" "$L" "low-$kind" 2000 "$PIN" "$B" -- \
        "${common[@]}" --scenario fan-out --publishers 1 --subscribers 50 --qos 0 --rate 2000 --tick "$LOW_TICK"
    log "the same with the publisher writing every 1 ms (two messages per write) on $kind"
    median_row "fan-out 1→50 QoS 0 (100k deliveries/s), publisher writes every 1 ms" "$L" "low1ms-$kind" 2000 "$PIN" "$B" -- \
        "${common[@]}" --scenario fan-out --publishers 1 --subscribers 50 --qos 0 --rate 2000 --tick 1ms
    if ! jq -e '.received > 0' "$WORK/$MEDIAN_NAME.json" >/dev/null 2>&1; then
        # Nothing got through (rumqttd 0.20 refuses keep alive 0, which the load
        # generator sends): say why and skip this broker's other scenarios.
        why=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/B.log" | grep -oE 'error: [A-Za-z]+' | sort | uniq -c |
            sort -rn | awk 'NR == 1 {print $2, $3, "(" $1 " times)"}' || true)
        ROWS+=("| (other scenarios) | $L | – | – | – | – | – | – | – | – | skipped: no message got through; most frequent broker log line: ${why:-none} |")
        stop "$B"; continue
    fi

    if [[ $kind != mosquitto-nodelay ]]; then
        ladder "fan-out 1→50 QoS 0, highest rate held" "$L" "$PIN" "$B" "$HIGH_RATES" -- \
            "${common[@]}" --scenario fan-out --publishers 1 --subscribers 50 --qos 0
    fi

    log "p2p 20 pairs QoS 1 at 20000 msg/s on $kind"
    median_row "p2p 20 pairs QoS 1 64 B" "$L" "p2p-$kind" 20000 "$PIN" "$B" -- \
        "${common[@]}" --scenario p2p --publishers 20 --qos 1 --rate 20000

    alive "$B" || ROWS+=("| – | $L | – | – | – | – | – | – | – | – | broker exited during the run |")
    stop "$B"
    [[ $kind == mosquitto-nodelay ]] && continue

    # Idle connections on a fresh broker, so RSS per connection is not skewed by
    # buffers the earlier scenarios left allocated.
    B=""
    start_broker "$kind" B || { stop "$B"; continue; }
    log "$CONNS idle connections on $kind"
    lgpin=()
    [[ $PIN == pin ]] && lgpin=(--cores 1 --pin-from 1)
    cmd=("$LG" conn -H 127.0.0.1 -p "$PORT" "${V[@]}" -c "$CONNS" --conn-rate 2000 --duration 3s --broker-pid "$B" "${lgpin[@]}" --json)
    COMMANDS+=("${cmd[*]#"$ROOT/"}")
    if timeout 120 "${cmd[@]}" >"$WORK/conn-$kind.json" 2>"$WORK/conn-$kind.err" \
        && jq -e . "$WORK/conn-$kind.json" >/dev/null 2>&1; then
        ROWS+=("$(jq -r --arg b "$L" --arg n "$CONNS" '
            "| \($n) idle connections | \($b) | – | connected \(.connected) | failed \(.failed) | – | – | – | \(((.broker_rss_after_kib // 0) / 1024 * 100 | round) / 100) | – | \(if .broker_rss_per_conn_bytes then "\(.broker_rss_per_conn_bytes | round) B/conn" else "no RSS" end) |"' \
            "$WORK/conn-$kind.json")")
    else
        ROWS+=("| $CONNS idle connections | $L | – | – | – | – | – | – | – | – | run failed: $(tail -n 1 "$WORK/conn-$kind.err" | cut -c1-120) |")
    fi
    stop "$B"
done

# ---------------------------------------------------------------- coalescing window
# The optional write-coalescing window ([tuning] write_coalesce_us, off by default)
# trades latency for CPU: the low-rate fan-out above, once per window size.
WINDOWS="0 250 500 1000 2000 5000 10000"
[[ $ONLY == links || $ONLY == single ]] && WINDOWS=""
for window in $WINDOWS; do
    meridian_config "$WORK/mw.toml" "$P_MERIDIAN" 1 bench "
[tuning]
write_coalesce_us = $window"
    B=""
    if start B pin "$MERIDIAN" --config "$WORK/mw.toml" && wait_port "$P_MERIDIAN"; then
        log "fan-out 1→50 QoS 0 at 2000 msg/s, write_coalesce_us = $window"
        median_row "fan-out 1→50 QoS 0 (100k deliveries/s), write_coalesce_us = $window" \
            "Meridian (cores=1, pinned)" "window-$window" 2000 pin "$B" -- \
            bench --host 127.0.0.1 --port "$P_MERIDIAN" "${V[@]}" --duration "$DUR" --drain "$DRAIN" \
            --size 64 --scenario fan-out --publishers 1 --subscribers 50 --qos 0 --rate 2000 --tick "$LOW_TICK"
    fi
    stop "$B"
done

# ---------------------------------------------------------------- links vs bridge
P_LA=$((BASE_PORT + 6)); P_LB=$((BASE_PORT + 7))
P_PAB=$((BASE_PORT + 8)); P_PBA=$((BASE_PORT + 9))
P_MA=$((BASE_PORT + 10)); P_MB=$((BASE_PORT + 11)); P_MPAB=$((BASE_PORT + 12))

link_toml() { # NAME SERVER
    cat <<EOF

[[link]]
name = "$1"
server = "$2"
clientid_prefix = "bench-link"
username = "link"
password = "bench-secret"
topics = ["bench/#"]
EOF
}

# Publishing starts once every client is ready, subscribers first. A subscription made
# on B reaches A's route table one one-way delay later (a Mosquitto bridge forwards
# bench/# whether or not B has subscribers), so clients connect at 200/s: the 16
# publishers take 80 ms after the last SUBACK, more than the proxy's 15 ms.
link_common=(bench --host 127.0.0.1 "${V[@]}" --duration "$DUR" --drain "$DRAIN" --size 256
    --scenario p2p --publishers 16 --qos 1 --topic-prefix bench/cmp --conn-rate 200)

VIAS=(direct proxy)
[[ $ONLY == single || $ONLY == coalesce ]] && VIAS=()
for via in "${VIAS[@]}"; do
    # Meridian: A (publishers) and B (subscribers), each with a link to the other.
    to_b="127.0.0.1:$P_LB"; to_a="127.0.0.1:$P_LA"; PROXIES=()
    if [[ $via == proxy ]]; then
        start PAB free "$LG" proxy --listen "127.0.0.1:$P_PAB" --upstream "$to_b" --delay 15ms
        start PBA free "$LG" proxy --listen "127.0.0.1:$P_PBA" --upstream "$to_a" --delay 15ms
        PROXIES=("$PAB" "$PBA")
        to_b="127.0.0.1:$P_PAB"; to_a="127.0.0.1:$P_PBA"
    fi
    meridian_config "$WORK/la.toml" "$P_LA" all bench-a "$(link_toml bench-b "$to_b")"
    meridian_config "$WORK/lb.toml" "$P_LB" all bench-b "$(link_toml bench-a "$to_a")"
    start LA free "$MERIDIAN" --config "$WORK/la.toml"
    start LB free "$MERIDIAN" --config "$WORK/lb.toml"
    scen="link QoS 1 256 B, A→B (direct)"
    [[ $via == proxy ]] && scen="link QoS 1 256 B, A→B (proxy, 15 ms each way)"
    if wait_port "$P_LA" && wait_port "$P_LB" && { [[ $via == direct ]] || { wait_port "$P_PAB" && wait_port "$P_PBA"; }; }; then
        sleep 2 # links connect and exchange routes before the subscribers arrive
        ladder "$scen" "Meridian A ⇄ B (linked)" free "$LA,$LB" "$LINK_RATES" -- \
            "${link_common[@]}" --port "$P_LA" --sub-host 127.0.0.1 --sub-port "$P_LB"
    else
        ROWS+=("| $scen | Meridian A ⇄ B | – | – | – | – | – | – | – | – | did not start: $(tail -n 1 "$WORK/LA.log" "$WORK/LB.log" | tr '\n' ' ' | cut -c1-160) |")
    fi
    stop "$LA" "$LB" "${PROXIES[@]}"

    # Mosquitto: A bridges bench/# both ways to B.
    to_b="127.0.0.1:$P_MB"; PROXIES=()
    if [[ $via == proxy ]]; then
        start MPAB free "$LG" proxy --listen "127.0.0.1:$P_MPAB" --upstream "$to_b" --delay 15ms
        PROXIES=("$MPAB")
        to_b="127.0.0.1:$P_MPAB"
    fi
    mosquitto_config "$WORK/ma.conf" "$P_MA" "
connection to-b
address $to_b
topic bench/# both 1
bridge_protocol_version mqttv311
cleansession true
try_private true"
    mosquitto_config "$WORK/mb.conf" "$P_MB"
    start MB free "$MOSQUITTO" -c "$WORK/mb.conf"
    wait_port "$P_MB" || true
    [[ $via == proxy ]] && { wait_port "$P_MPAB" || true; }
    start MA free "$MOSQUITTO" -c "$WORK/ma.conf"
    if wait_port "$P_MA"; then
        sleep 2 # the bridge connects
        ladder "$scen" "Mosquitto A → B (bridged)" free "$MA,$MB" "$LINK_RATES" -- \
            "${link_common[@]}" --port "$P_MA" --sub-host 127.0.0.1 --sub-port "$P_MB"
    else
        ROWS+=("| $scen | Mosquitto bridge | – | – | – | – | – | – | – | – | did not start |")
    fi
    stop "$MA" "$MB" "${PROXIES[@]}"
done

# ---------------------------------------------------------------- report
mode=$([[ $QUICK == 1 ]] && echo "quick (--quick: ${DUR} runs, noisy)" || echo "full (${DUR} runs)")
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — $mode"
    echo
    echo "- machine: \`$(uname -a)\`"
    echo "- CPUs: $(nproc) × $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'); load average before the run: $LOAD_BEFORE, after it: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- toolchain: \`$(rustc --version)\`, \`$(cargo --version)\`"
    echo "- brokers: Meridian $(git -C "$ROOT" rev-parse --short HEAD) (release build), $("$MOSQUITTO" -h 2>&1 | head -n 1), rumqttd: $RUMQTTD_STATUS"
    echo "- MQTT $MQTT_VERSION for every client; payload 64 B unless the scenario says otherwise"
    echo "- command: \`benches/compare.sh$([[ $QUICK == 1 ]] && echo " --quick")\`"
    echo
    echo "| scenario | broker | offered msg/s | delivered msg/s | lost | p50 ms | p99 ms | broker CPU µs/msg | broker RSS MiB | loadgen CPU % | note |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "<details><summary>exact loadgen commands</summary>"
    echo
    echo '```sh'
    printf '%s\n' "${COMMANDS[@]}"
    echo '```'
    echo "</details>"
} >"$WORK/report.md"

cat "$WORK/report.md"
mkdir -p "$ROOT/target/compare"
cp "$WORK/report.md" "$ROOT/target/compare/last.md"
if [[ -n "$OUT" ]]; then
    cat "$WORK/report.md" >>"$OUT"
    log "appended to $OUT"
fi
