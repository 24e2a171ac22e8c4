#!/usr/bin/env bash
# `npm run bench:peers`: the peer benchmark (squid with ssl-bump, a plain Node http-proxy, a direct
# call) with sidekey as one more row, in one run, so every figure has squid's beside it.
#
# The benchmark itself lives outside the project (PEERS_BENCH, default ../shared/bench/peers.sh
# beside the checkout); it needs root (it installs squid, nginx and hey with apt-get) and about
# six minutes. It is a benchmark, not a test: CI does not run it. Its knobs pass through
# (ROUNDS, SCENARIOS, SYSTEMS, DURATION, ...); the table is printed and saved under RESULTS_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_BENCH:-$root/../shared/bench/peers.sh}
if [ ! -f "$peers" ]; then
  echo "bench:peers: the peer benchmark is not at $peers (set PEERS_BENCH to its peers.sh)" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench:peers: the peer benchmark needs root (it installs squid, nginx and hey with apt-get and runs squid as its own user)" >&2
  exit 2
fi
[ -f "$root/dist/src/cli/main.js" ] || { echo "bench:peers: build first (npm run build)" >&2; exit 2; }
export OURS_CMD="exec bash $root/bench/peer-sidekey.sh" OURS_NAME=${OURS_NAME:-sidekey} SIDEKEY_DIR=$root
export SYSTEMS=${SYSTEMS:-direct squid node-http-proxy ours} WRK_REF=${WRK_REF:-0}
export RESULTS_DIR=${RESULTS_DIR:-$root/bench/results}
exec bash "$peers"
