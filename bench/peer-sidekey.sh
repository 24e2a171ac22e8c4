#!/usr/bin/env bash
# sidekey under the peer benchmark's OURS_CMD contract (../shared/bench/README.md): listen on
# 127.0.0.1:$PORT, intercept with $CA_CERT/$CA_KEY, trust $UPSTREAM_CA upstream, inject
# `Authorization: Bearer $INJECT_TOKEN` for $INJECT_HOST, exit on SIGTERM.
#
# The measured configuration is the shipped one: a static-key route, the audit line for every
# request, outbound secret detection, response scrubbing and metrics all on (none of them can be
# turned off), and the Node flags the container image runs sidekey with (SIDEKEY_NODE_FLAGS
# overrides them for experiments). bench/peers.sh runs the peer benchmark with this script.
set -euo pipefail
dir=${SIDEKEY_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
# Keep in step with the Dockerfile's ENTRYPOINT (docs/benchmarks.md says why).
flags=${SIDEKEY_NODE_FLAGS-"--max-semi-space-size=4"}

mkdir -p "$BENCH_WORK/certs" "$BENCH_WORK/policies"
cp "$CA_CERT" "$BENCH_WORK/certs/ca.pem"
cp "$CA_KEY" "$BENCH_WORK/certs/ca-key.pem"
chmod 600 "$BENCH_WORK/certs/ca-key.pem"
cat > "$BENCH_WORK/policies/bench.yaml" <<YAML
version: v1
credentials:
  bench-token: { type: static, env: BENCH_INJECT_TOKEN }
routes:
  - name: bench
    host: $INJECT_HOST
    ports: [$UP_HTTP_PORT, $UP_HTTPS_PORT]
    workloads: [bench]
    credential: bench-token
    inject: { header: authorization, value: "Bearer {secret}" }
YAML

node=node
[ -x "$dir/node_modules/.bin/node" ] && node="$dir/node_modules/.bin/node"
# shellcheck disable=SC2086 # the flags are words
BENCH_INJECT_TOKEN=$INJECT_TOKEN exec "$node" $flags "$dir/dist/src/cli/main.js" start \
  --listen "127.0.0.1:$PORT" --admin "127.0.0.1:$((PORT + 1000))" \
  --policies "$BENCH_WORK/policies" --certs "$BENCH_WORK/certs" --workload bench \
  --upstream-ca "$UPSTREAM_CA" >"$BENCH_WORK/sidekey.log" 2>&1
