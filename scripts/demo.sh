#!/usr/bin/env bash
# Builds lmi and shows its main job against the bundled test IdP and API on
# loopback: a service token acquired, then reused from the cache, then an
# authenticated API call. Everything lives in a throwaway folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> building lmi and the test IdP (release)"
cargo build --release --quiet -p lmi -p lmi-testidp
LMI="$PWD/target/release/lmi"
TESTIDP="$PWD/target/release/testidp"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> starting the test IdP and API on 127.0.0.1"
"$TESTIDP" serve --jwt > "$WORK/server.json" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    [ -s "$WORK/server.json" ] && break
    sleep 0.05
done
IDP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["idp"])' "$WORK/server.json" 2>/dev/null \
    || sed -E 's/.*"idp":"([^"]+)".*/\1/' "$WORK/server.json")
API=$(sed -E 's/.*"api":"([^"]+)".*/\1/' "$WORK/server.json")
echo "    IdP $IDP, API $API"

# A throwaway configuration: a `demo` environment with a client-credentials
# client of the test IdP (discovered from its metadata).
export HOME="$WORK/home" LMI_CONFIG_DIR="$WORK/config" LMI_CACHE_DIR="$WORK/cache" XDG_DATA_HOME="$WORK/data"
mkdir -p "$LMI_CONFIG_DIR/env"
umask 077
printf 'DEFAULT_ENVIRONMENT=demo\n' > "$LMI_CONFIG_DIR/.env"
cat > "$LMI_CONFIG_DIR/env/demo.env" <<CONF
OAUTH_SERVICE_URL=$IDP
OAUTH_CLIENT_ID=lmi-client
OAUTH_CLIENT_SECRET=lmi-secret
OAUTH_SCOPES="read write"
API_BASE_URL=$API
CONF

run() {
    echo
    echo "\$ lmi $*"
    "$LMI" "$@"
}

run env list -o text
run config show -o text
run -v auth token            # acquired from the IdP
run auth token               # served from the cache
run auth status -o text || true
run api /whoami              # authenticated call with the cached token
echo
echo "==> demo finished"
