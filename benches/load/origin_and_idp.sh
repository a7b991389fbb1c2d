# Sourced by the callgrind scripts (instructions.sh, login_instructions.sh): the fast
# origin (nginx `return 200`) on 18080 and the real IdP on 19000 for the gateway of
# benches/load/gateway.toml, with their files in $BENCH_DIR; their pids join the
# array `pids` (the caller's cleanup kills them). Defines wait_port.
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
mkdir -p "$BENCH_DIR/tmp-origin"
sed "s|BENCH_DIR|$BENCH_DIR|g" benches/load/nginx-origin.conf >"$BENCH_DIR/nginx-origin.conf"
nginx -c "$BENCH_DIR/nginx-origin.conf" & pids+=($!)
PORT=19000 CLIENT_SECRET=bench-client-secret REDIRECT_URIS="http://shop.localhost:18081/login/sso/callback" \
  node deploy/demo/idp.mjs >"$BENCH_DIR/idp.log" 2>&1 & pids+=($!)
wait_port 18080; wait_port 19000
