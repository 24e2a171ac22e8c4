#!/usr/bin/env bash
# What `npm test` needs besides node_modules: the Node version the project requires, and the
# Debian packages whose programs the tests drive as real peers (clients, servers, a browser,
# a sandbox, network namespaces). On a machine that has them all it installs nothing and prints
# nothing. Where something is missing it installs it with apt-get when it can (root, or sudo
# without a password) and otherwise stops with the exact command to run.
set -euo pipefail

# --- Node ----------------------------------------------------------------------------------------
# `npm ci` installs the required Node (the `node` package in devDependencies) into
# node_modules/.bin, which npm puts first on PATH for its scripts, so `node` here is that one.
required=$(node -p 'require("./package.json").engines.node.replace(/^>=\s*/, "")')
if ! node -e '
  const want = process.argv[1].split(".").map(Number), have = process.versions.node.split(".").map(Number)
  for (let i = 0; i < 3; i++) { if ((have[i] ?? 0) !== (want[i] ?? 0)) process.exit((have[i] ?? 0) > (want[i] ?? 0) ? 0 : 1) }
' "$required"; then
  echo "sidekey needs Node >= $required, this is $(node --version) ($(command -v node))." >&2
  echo "Run 'npm ci' first: it installs the required Node into node_modules/.bin, which 'npm test' uses." >&2
  exit 1
fi

# --- Debian packages -----------------------------------------------------------------------------
# One line per package: the package, how to tell it is present, and why the tests need it.
packages=(
  "curl|command -v curl|curl is an agent under test (proxy, CONNECT, sidekey run)"
  "openssl|command -v openssl|certificates and TLS handshakes are checked with the openssl CLI"
  "python3|command -v python3|Python's urllib is an agent under test; python3 serves upstreams"
  "python3-requests|/usr/bin/python3 -c 'import requests'|Python requests is an agent under test (refusal reasons, trust under sidekey run)"
  "python3-httpx|/usr/bin/python3 -c 'import httpx'|Python httpx is an agent under test (refusal reasons, trust under sidekey run, asynchronous approvals)"
  "python3-h2|/usr/bin/python3 -c 'import h2'|Python httpx speaks HTTP/2 through sidekey with it (http2=True)"
  "python3-pip|/usr/bin/python3 -c 'import pip'|pip is an agent under test (PIP_CERT under sidekey run, against a package index stand-in)"
  "wget|command -v wget|wget is an agent under test (trust through the wgetrc sidekey run points at)"
  "git|command -v git|git is an agent under test (trust and proxy under sidekey run)"
  "npm|command -v npm|npm is an agent under test (its cafile under sidekey run, against a registry stand-in)"
  "default-jdk-headless|command -v keytool|Java is an agent under test (the PKCS#12 trust store sidekey run points JAVA_TOOL_OPTIONS at)"
  "chromium|test -x /usr/bin/chromium|the web console is tested in headless Chromium"
  "redis-server|command -v redis-server|shared state is tested on real Redis (standalone, Sentinel, Cluster)"
  "redis-tools|command -v redis-cli|Redis topologies are set up with redis-cli"
  "iproute2|command -v ip|transparent mode is tested in a network namespace"
  "iptables|command -v iptables|transparent mode is tested with iptables REDIRECT"
  "bubblewrap|command -v bwrap|sidekey run starts the agent in a bubblewrap sandbox"
  "ruby-actionpack|ruby -e 'require \"action_dispatch\"'|real Rack and Rails parameter parsing is an upstream (a parameter in the query and the body)"
  "ruby-webrick|ruby -e 'require \"webrick\"'|serves the Rack and Rails upstream"
  "golang-go|command -v go|the Helm chart is rendered with Go's text/template; Go servers are upstreams"
  "golang-github-masterminds-sprig-dev|test -d /usr/share/gocode/src/github.com/Masterminds/sprig|Helm's template functions (sprig)"
  "golang-gopkg-yaml.v3-dev|test -d /usr/share/gocode/src/gopkg.in/yaml.v3|YAML for the chart renderer"
)

missing=()
reasons=()
for line in "${packages[@]}"; do
  IFS='|' read -r package check why <<<"$line"
  if ! sh -c "$check" >/dev/null 2>&1; then
    missing+=("$package")
    reasons+=("  $package: $why")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "npm test: Debian packages the tests drive as real peers are missing:" >&2
printf '%s\n' "${reasons[@]}" >&2

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "Cannot install them without root. Run, then 'npm test' again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here (sidekey's tests expect Debian or Ubuntu). Install the equivalents of: ${missing[*]}" >&2
  exit 1
fi
echo "Installing them with apt-get." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "${missing[@]}" >&2
