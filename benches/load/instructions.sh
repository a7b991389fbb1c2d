#!/usr/bin/env bash
# Instructions per request of sso-gateway builds, counted by valgrind's callgrind: a
# count that does not depend on what else the machine is doing, so two builds can be
# compared to a fraction of a percent on a noisy machine. For each binary: start it
# under callgrind (one worker thread), sign a shopper in, zero the counters, send N
# requests to the public route (b) over one keep-alive connection, dump; the same
# for the login route with the session (c). Loopback only; bounded; stops by itself.
#
#   benches/load/instructions.sh N BIN CONFIG [BIN CONFIG ...]
#
# CONFIG is that version's benches/load/gateway.toml (BENCH_DIR is replaced), or
# `bare` for target/release/bare_pingora (case b0: the public route only, as the
# platform's own cost). The callgrind files stay in the printed directory, for
# `callgrind_annotate --inclusive=yes`.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=$1; shift
command -v valgrind >/dev/null || { echo "instructions: apt-get install valgrind" >&2; exit 1; }
BENCH_DIR="$(mktemp -d /tmp/sso-instr.XXXXXX)"
pids=()
gw=""
cleanup() { [ -n "$gw" ] && kill "$gw" 2>/dev/null; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
source benches/load/origin_and_idp.sh

# Sends N GETs over one keep-alive connection and checks each answer is the origin's.
drive() { # path cookie
  python3 - "$N" "$1" "$2" <<'PY'
import http.client, sys
n, path, cookie = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", 18081, timeout=60)
headers = {"Host": "shop.localhost"}
if cookie:
    headers["Cookie"] = cookie
for _ in range(n):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or body != b"ok\n":
        raise SystemExit(f"{path}: {r.status} {body[:80]!r}")
PY
}

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'; }

i=0
while [ "$#" -ge 2 ]; do
  bin=$1 cfg=$2; shift 2; i=$((i + 1))
  out="$BENCH_DIR/cg$i"
  if [ "$cfg" = bare ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$bin" 127.0.0.1:18081 127.0.0.1:18080 \
      2>"$BENCH_DIR/gw$i.log" & gw=$!
    wait_port 18081
    drive /public "" # warm-up
    callgrind_control -z "$gw" >/dev/null
    drive /public ""
    callgrind_control -d b "$gw" >/dev/null
    b=$(total "$(ls "$out".*.1 2>/dev/null | head -1 || true)")
    echo "$bin (bare): b $((b / N)) instructions/request"
    kill "$gw"; wait "$gw" 2>/dev/null || true; gw=""
    continue
  fi
  sed "s|BENCH_DIR|$BENCH_DIR|g" "$cfg" >"$BENCH_DIR/gw$i.toml"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$bin" run --config "$BENCH_DIR/gw$i.toml" \
    2>"$BENCH_DIR/gw$i.log" & gw=$!
  wait_port 18081
  for _ in $(seq 600); do curl -fs http://127.0.0.1:18091/readyz >/dev/null && break; sleep 0.2; done
  cookie="$(target/release/login_cookie http://shop.localhost:18081/account bench)"
  drive /public "" # warm-up: connections, lazy statics
  drive /account "$cookie"
  callgrind_control -z "$gw" >/dev/null
  drive /public ""
  callgrind_control -d b "$gw" >/dev/null
  callgrind_control -z "$gw" >/dev/null
  drive /account "$cookie"
  callgrind_control -d c "$gw" >/dev/null
  b=$(total "$(ls "$out".*.1 2>/dev/null | head -1 || true)")
  c=$(total "$(ls "$out".*.2 2>/dev/null | head -1 || true)")
  echo "$bin: b $((b / N)) instructions/request, c $((c / N)) instructions/request, c-b $(((c - b) / N))"
  kill "$gw"; wait "$gw" 2>/dev/null || true; gw=""
done
echo "callgrind files: $BENCH_DIR"
