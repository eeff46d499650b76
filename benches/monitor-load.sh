#!/usr/bin/env bash
# Monitor fan-out load test: `hark stream` (the ingest load generator) → `hark serve` (the hark
# under test, streaming every call to M monitors) → a second `hark serve` as the monitors' sink.
# All release builds on 127.0.0.1, sharing this machine's cores.
#
#   benches/monitor-load.sh CALLSxMONITORS...    e.g. benches/monitor-load.sh 200x0 200x1 200x5 1000x5
#   UNDER_TEST=/tmp/hark-before benches/monitor-load.sh 200x0 200x5   # another build under test
#
# Each run starts a fresh hark and sink, ramps CALLS stereo PCMU calls (200 ms frames, real
# time) at RATE per second for DURATION each, with MONITORS integrations (every call to each),
# and prints one table row: calls, monitors, failed calls, ingest late frames, CPU of the hark
# under test per call-second, the extra CPU per monitor per call-second against the 0-monitor
# row of the same run set, frames the sink received against those expected, frames hark
# discarded for monitors, and the monitors' connection failures.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100}
DURATION=${DURATION:-30s}
runs=("${@:-200x0 200x1 200x2 200x3 200x4 200x5}")
[ $# -gt 0 ] && runs=("$@")
ulimit -n 65536 2>/dev/null || true
cargo build --release -q -p hark
bin=${CARGO_TARGET_DIR:-target}/release/hark
# UNDER_TEST=path/to/hark measures another build (e.g. the previous commit's) as the hark under
# test, with this build's load generator and sink, for before/after figures from one run.
under_test=${UNDER_TEST:-$bin}
tick=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# /metrics needs the admin token of the instance's data directory.
admin_token() { awk -F'"' '/^\[admin\]/{a=1} a && /^token/ {print $2; exit}' "$1/data/credentials.toml"; }
metric() { # port name dir
  curl -s -H "Authorization: Bearer $(admin_token "$3")" "127.0.0.1:$1/metrics" |
    awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {print s + 0}'
}
start_hark() { # binary dir port -> pid
  "$1" serve --config "$2/hark.toml" --listen "127.0.0.1:$3" --data-dir "$2/data" --log-level warn >"$2/serve.log" 2>&1 &
  echo $!
}
wait_ready() { for _ in $(seq 100); do curl -sf "127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; }

printf '| calls | monitors | failed | ingest late frames | hark CPU µs per call-second | per added monitor | sink frames received / expected | discarded | monitor connect failures |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
base=""
for run in "${runs[@]}"; do
  n=${run%x*}; m=${run#*x}
  sink=$(mktemp -d); dir=$(mktemp -d)
  sport=$((20000 + RANDOM % 20000)); port=$((sport + 1))
  : > "$sink/hark.toml"
  spid=$(start_hark "$bin" "$sink" "$sport"); wait_ready "$sport"
  key=$(awk -F'"' '/^\[audiohook\]/{a=1} a && /^api_key/ {print $2; exit}' "$sink/data/credentials.toml")
  secret=$(awk -F'"' '/^\[audiohook\]/{a=1} a && /^client_secret/ {print $2; exit}' "$sink/data/credentials.toml")
  : > "$dir/hark.toml"
  for i in $(seq 1 "$m"); do
    printf '[[monitor.integrations]]\nname = "m%s"\nuri = "ws://127.0.0.1:%s/audiohook/ws"\napi_key = "%s"\nclient_secret = "%s"\n\n' \
      "$i" "$sport" "$key" "$secret" >> "$dir/hark.toml"
  done
  pid=$(start_hark "$under_test" "$dir" "$port"); wait_ready "$port"
  sleep 0.5
  cpu0=$(cpu_ticks "$pid")
  "$bin" stream "ws://127.0.0.1:$port/audiohook/ws" --data-dir "$dir/data" \
      --sessions "$n" --rate "$RATE" --duration "$DURATION" --json > "$dir/summary.json" || true
  # Streams finish once their calls did; wait (bounded) until none runs.
  for _ in $(seq 300); do
    [ "$(metric "$port" 'hark_monitor_streams ' "$dir")" = 0 ] && break
    sleep 0.1
  done
  cpu1=$(cpu_ticks "$pid")
  received=$(metric "$sport" 'hark_audiohook_frames_total' "$sink")
  discarded=$(metric "$port" 'hark_monitor_discarded_frames_total' "$dir")
  failures=$(metric "$port" 'hark_monitor_connect_failures_total' "$dir")
  kill -TERM "$pid" "$spid"; wait "$pid" "$spid" 2>/dev/null || true
  row=$(python3 - "$dir/summary.json" "$n" "$m" "$DURATION" "$cpu0" "$cpu1" "$tick" "$received" "$discarded" "$failures" "$base" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, m = int(sys.argv[2]), int(sys.argv[3]); dur = float(sys.argv[4].rstrip('s'))
cpu = (int(sys.argv[6]) - int(sys.argv[5])) / int(sys.argv[7])
us = cpu / (n * dur) * 1e6
expected = n * m * int(dur / 0.2)
base = sys.argv[11]
added = f"{(us - float(base)) / m:.1f}" if base and m > 0 else "—"
print(f"{us:.1f}||| {n} | {m} | {s['failed']} | {s['late_frames']} | {us:.1f} | {added} | {int(float(sys.argv[8]))} / {expected} | {int(float(sys.argv[9]))} | {int(float(sys.argv[10]))} |")
PY
)
  [ "$m" = 0 ] && base=${row%%||*}
  echo "${row#*||}"
  rm -rf "$dir" "$sink"
done
