#!/usr/bin/env bash
# Benchmarks lmi against curl and cat with hyperfine (release build, test IdP
# and API on loopback, a throwaway configuration). Prints markdown tables and
# peak RSS; the numbers go into BENCHMARKS.md by hand with date and machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 1; }
# jq: the reference for re-indenting JSON (curl | jq .).
if ! command -v jq >/dev/null; then
    SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi

cargo build --release --quiet -p lmi -p lmi-testidp
LMI="$PWD/target/release/lmi"
TESTIDP="$PWD/target/release/testidp"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$TESTIDP" serve > "$WORK/server.json" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/server.json" ] && break; sleep 0.05; done
IDP=$(sed -E 's/.*"idp":"([^"]+)".*/\1/' "$WORK/server.json")
API=$(sed -E 's/.*"api":"([^"]+)".*/\1/' "$WORK/server.json")

export HOME="$WORK/home" LMI_CONFIG_DIR="$WORK/config" LMI_CACHE_DIR="$WORK/cache" XDG_DATA_HOME="$WORK/data"
mkdir -p "$LMI_CONFIG_DIR/env"
umask 077
printf 'DEFAULT_ENVIRONMENT=bench\n' > "$LMI_CONFIG_DIR/.env"
printf 'OAUTH_TOKEN_URL=%s/token\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL=%s\n' "$IDP" "$API" \
    > "$LMI_CONFIG_DIR/env/bench.env"

"$LMI" auth token >/dev/null
TOKEN=$("$LMI" auth token -o text)
CACHE="$LMI_CACHE_DIR/tokens/bench.json"
HF=(hyperfine --warmup 20 --min-runs 200 -N --style none)

# Prints a markdown table with median and mean from hyperfine's JSON export.
table() {
    python3 - "$1" "$TOKEN" "$PWD/" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
token, root = sys.argv[2], sys.argv[3]
base = min(r["median"] for r in results)
print("| command | median [ms] | mean ± σ [ms] | relative (median) |")
print("|:---|---:|---:|---:|")
for r in results:
    cmd = r["command"].replace(token, "$T").replace(root, "")
    print(f"| `{cmd}` | {r['median']*1000:.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | {r['median']/base:.2f} |")
PY
}

# --- lmi api for scripts (issue 22) -------------------------------------------
# `scripts/bench.sh scripting` runs only these rows.
scripting() {
    local auth="Authorization: Bearer $TOKEN" pages="/pages/array/100?per=100"
    local items=$(( 32 * 1024 * 1024 / 172 ))
    # What a script does without lmi: curl page after page, following the
    # Link header's rel="next" with the same token.
    cat > "$WORK/curl-pages.sh" <<'SH'
url="$1"; auth="$2"; head="$(mktemp)"
while [ -n "$url" ]; do
    curl -s -D "$head" -H "$auth" "$url"
    url=$(grep -i '^link:' "$head" | tr ',' '\n' | sed -n 's/.*<\(.*\)>; *rel="next".*/\1/p')
done
rm -f "$head"
SH
    echo "## --paginate over 100 array pages (100 items each): lmi vs a shell loop of curl following Link"
    hyperfine --warmup 2 --min-runs 10 -N --style none --export-json "$WORK/paginate.json" \
        "bash $WORK/curl-pages.sh $API$pages Authorization:\ Bearer\ $TOKEN" \
        "$LMI api --paginate $pages" >/dev/null
    table "$WORK/paginate.json"
    echo "## --jq '.[] | .id' over 32 MiB of JSON: lmi vs curl | jq -r"
    hyperfine --warmup 1 --min-runs 10 --style none --export-json "$WORK/jq.json" \
        "curl -s -H '$auth' $API/json-array/$items | jq -r '.[] | .id' >/dev/null" \
        "$LMI api /json-array/$items --jq '.[] | .id' >/dev/null" >/dev/null
    table "$WORK/jq.json"
    echo "## peak RSS (KiB)"
    echo "| command | KiB |"
    echo "|---|---:|"
    rss=$(/usr/bin/time -f '%M' "$LMI" api --paginate "$pages" 2>&1 >/dev/null | tail -1)
    echo "| lmi api --paginate $pages | $rss |"
    rss=$(/usr/bin/time -f '%M' "$LMI" api --paginate "/pages/array/1000?per=100" 2>&1 >/dev/null | tail -1)
    echo "| lmi api --paginate /pages/array/1000?per=100 | $rss |"
    rss=$(/usr/bin/time -f '%M' "$LMI" api "/json-array/$items" --jq '.[] | .id' 2>&1 >/dev/null | tail -1)
    echo "| lmi api /json-array/$items --jq '.[] \\| .id' | $rss |"
    rss=$(curl -s -H "$auth" "$API/json-array/$items" | /usr/bin/time -f '%M' jq -r '.[] | .id' 2>&1 >/dev/null | tail -1)
    echo "| curl ... \\| jq -r '.[] \\| .id' (jq alone) | $rss |"
}
# --- the session agent (issue 21) ---------------------------------------------
# `dbus-run-session -- scripts/with-keyring.sh scripts/bench.sh agent` runs
# only these rows (it needs a Secret Service for the SSO session).
agent() {
    [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || { echo "run: dbus-run-session -- scripts/with-keyring.sh $0 agent" >&2; exit 1; }
    printf 'OAUTH_SSO_ISSUER=%s\nOAUTH_SSO_CLIENT_ID=lmi-public\n' "$IDP" >> "$LMI_CONFIG_DIR/.env"
    printf 'REQUIRE_SSO=true\n' >> "$LMI_CONFIG_DIR/env/bench.env"
    BROWSER="$TESTIDP browser" "$LMI" login sso --force >/dev/null 2>&1
    local sock="$WORK/agent.sock"
    LMI_AGENT_SOCK="$sock" "$LMI" agent start >/dev/null
    "$LMI" auth token >/dev/null
    echo "## SSO-gated auth token (cached service token): the session from the keychain over D-Bus vs from the agent"
    "${HF[@]}" --export-json "$WORK/agent.json" \
        "$LMI auth token" "env LMI_AGENT_SOCK=$sock $LMI auth token" >/dev/null
    table "$WORK/agent.json"
    echo "## the agent's round trip (one connection, a request and its answer)"
    echo "| op | runs | median [µs] | mean [µs] |"
    echo "|---|---:|---:|---:|"
    python3 - "$sock" <<'PY'
import socket, sys, time
path, n = sys.argv[1], 2000
def once(line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line)
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(65536)
    s.close()
for op, line in (("status", b'{"v":1,"op":"status"}\n'), ("sso", b'{"v":1,"op":"sso"}\n')):
    for _ in range(50):
        once(line)
    times = []
    for _ in range(n):
        t = time.perf_counter(); once(line); times.append(time.perf_counter() - t)
    times.sort()
    print(f"| {op} | {n} | {times[n // 2] * 1e6:.0f} | {sum(times) / n * 1e6:.0f} |")
PY
    LMI_AGENT_SOCK="$sock" "$LMI" agent stop >/dev/null
}
if [ "${1:-}" = agent ]; then
    agent
    exit 0
fi
if [ "${1:-}" = scripting ]; then
    scripting
    exit 0
fi

# --- DPoP-bound tokens (issue 20) ---------------------------------------------
# `scripts/bench.sh dpop` runs only these rows. The test IdP binds a token to
# the key of any proof it gets; the API checks each proof (signature, htm,
# htu, iat, a fresh jti, ath, cnf.jkt).
dpop() {
    local on="--set OAUTH_DPOP=true"
    "$LMI" auth token $on >/dev/null
    local dtoken dproof
    dtoken=$("$LMI" auth token $on -o text)
    dproof=$("$LMI" auth proof $on -o text /whoami)
    echo "## warm DPoP lmi api vs curl with the same token and a pre-made proof"
    echo "(the API refuses the replayed proof after curl's first run: curl's rows are 401 answers of about the same size)"
    "${HF[@]}" --export-json "$WORK/dpop-api.json" \
        "curl -s -H Authorization:\ DPoP\ $dtoken -H DPoP:\ $dproof $API/whoami" \
        "$LMI api $on /whoami" >/dev/null
    table "$WORK/dpop-api.json" | sed -e "s|$dtoken|\$T|g" -e "s|$dproof|\$P|g"
    echo "## cold cache: lmi auth token, Bearer vs DPoP (the key exists; a proof signed and checked)"
    hyperfine --warmup 5 --min-runs 100 -N --style none --export-json "$WORK/dpop-cold.json" \
        --prepare "rm -f $CACHE" "$LMI auth token" \
        --prepare "rm -f $CACHE" "$LMI auth token $on" >/dev/null
    table "$WORK/dpop-cold.json"
}
if [ "${1:-}" = dpop ]; then
    dpop
    exit 0
fi

echo "## startup"
"${HF[@]}" --export-json "$WORK/startup.json" \
    "curl --version" "$LMI --version" "$LMI env list" >/dev/null
table "$WORK/startup.json"

echo "## warm cache: lmi auth token and credential kubectl vs cat of the cache file"
"${HF[@]}" --export-json "$WORK/warm.json" "cat $CACHE" "$LMI auth token" "$LMI credential kubectl" >/dev/null
table "$WORK/warm.json"

echo "## cold cache: lmi auth token vs curl doing the same token request"
hyperfine --warmup 5 --min-runs 100 -N --style none --export-json "$WORK/cold.json" \
    "curl -s -u lmi-client:lmi-secret -d grant_type=client_credentials $IDP/token" \
    --prepare "rm -f $CACHE" "$LMI auth token" >/dev/null
table "$WORK/cold.json"
"$LMI" auth token >/dev/null

echo "## cold cache: client secret vs private_key_jwt (RS256, ES256)"
KEYS="$PWD/testidp/keys"
cp "$KEYS/client-rsa.pkcs8.pem" "$KEYS/client-ec.sec1.pem" "$WORK/" && chmod 600 "$WORK"/*.pem
PKJWT=(--set OAUTH_CLIENT_SECRET= --set OAUTH_CLIENT_AUTH_METHOD=private_key_jwt)
hyperfine --warmup 5 --min-runs 100 -N --style none --export-json "$WORK/pkjwt.json" \
    --prepare "rm -f $CACHE" "$LMI auth token" \
    --prepare "rm -f $CACHE" "$LMI auth token --set OAUTH_CLIENT_ID=lmi-key-rsa ${PKJWT[*]} --set OAUTH_CLIENT_KEY_FILE=$WORK/client-rsa.pkcs8.pem" \
    --prepare "rm -f $CACHE" "$LMI auth token --set OAUTH_CLIENT_ID=lmi-key-ec ${PKJWT[*]} --set OAUTH_CLIENT_KEY_FILE=$WORK/client-ec.sec1.pem" \
    >/dev/null
table "$WORK/pkjwt.json"
"$LMI" auth token >/dev/null

echo "## authenticated call, warm cache: lmi api vs curl with the bearer token"
"${HF[@]}" --export-json "$WORK/api.json" \
    "curl -s -H Authorization:\ Bearer\ $TOKEN $API/whoami" "$LMI api /whoami" >/dev/null
table "$WORK/api.json"

echo "## authenticated call after a 401: the cached token is rejected, discarded, reacquired, retried"
# Each run starts from a cache holding a token the API does not know.
cp "$CACHE" "$WORK/good.json"
python3 - "$WORK/good.json" "$WORK/revoked.json" <<'PY'
import json, sys
token = json.load(open(sys.argv[1]))
token["access_token"] = "revoked-" + token["access_token"]
json.dump(token, open(sys.argv[2], "w"))
PY
RETRY=("$LMI api /whoami")
# LMI_BASELINE: another lmi binary to compare with (e.g. an earlier release).
[ -n "${LMI_BASELINE:-}" ] && RETRY+=("$LMI_BASELINE api /whoami")
hyperfine --warmup 5 --min-runs 100 -N --style none --export-json "$WORK/retry.json" \
    --prepare "cp $WORK/revoked.json $CACHE" "${RETRY[@]}" >/dev/null
table "$WORK/retry.json"
cp "$WORK/good.json" "$CACHE"
# kubectl itself, for scale: what a cached `lmi credential kubectl` adds to
# each kubectl call. The kubectl the tests use (tests/node), else PATH's.
KUBECTL="$(ls "$PWD"/target/test-tools/*kubectl*/kubectl 2>/dev/null | tail -1 || true)"
[ -n "$KUBECTL" ] || KUBECTL="$(command -v kubectl || true)"
if [ -n "$KUBECTL" ]; then
    echo "## kubectl itself ($("$KUBECTL" version --client 2>/dev/null | head -1))"
    "${HF[@]}" --export-json "$WORK/kubectl.json" \
        "$LMI credential kubectl" "$KUBECTL version --client" >/dev/null
    table "$WORK/kubectl.json"
else
    echo "## kubectl itself: no kubectl found (run the kubectl tests once, or put kubectl on PATH)"
fi

echo "## peak RSS (KiB)"
for cmd in "curl -s -H Authorization:Bearer_x $API/whoami" "$LMI --version" "$LMI auth token" "$LMI api /whoami"; do
    rss=$(/usr/bin/time -f '%M' $cmd 2>&1 >/dev/null | tail -1)
    echo "| ${cmd/$PWD\//} | $rss |"
done

# --- streamed bodies (issue 13) ----------------------------------------------
MIB=$((1024 * 1024))
AUTH="Authorization: Bearer $TOKEN"
# Elements of /json-array/<N> for about that many MiB (~172 bytes each).
json_items() { echo $(( $1 * MIB / 172 )); }
J32=$(json_items 32)
J64=$(json_items 64)
echo "## streamed bodies: sizes"
echo "| endpoint | bytes |"
echo "|---|---:|"
for path in "/bytes/$((256 * MIB))" "/json-array/$J32" "/json-array/$J64" "/bytes/$((1024 * MIB))"; do
    echo "| $path | $(curl -s -H "$AUTH" "$API$path" | wc -c) |"
done

echo "## 256 MiB of bytes: lmi api vs curl -o /dev/null"
hyperfine --warmup 3 --min-runs 20 -N --style none --export-json "$WORK/bytes.json" \
    "curl -s -o /dev/null -H Authorization:\ Bearer\ $TOKEN $API/bytes/$((256 * MIB))" \
    "$LMI api /bytes/$((256 * MIB))" >/dev/null
table "$WORK/bytes.json"

echo "## 32 MiB of JSON re-indented: lmi api vs curl | jq ."
hyperfine --warmup 1 --min-runs 10 --style none --export-json "$WORK/json.json" \
    "curl -s -H 'Authorization: Bearer $TOKEN' $API/json-array/$J32 | jq . >/dev/null" \
    "$LMI api /json-array/$J32 >/dev/null" >/dev/null
table "$WORK/json.json"

echo "## peak RSS of streamed bodies (KiB)"
echo "| command | KiB |"
echo "|---|---:|"
for path in "/json-array/$J64" "/bytes/$((1024 * MIB))"; do
    rss=$(/usr/bin/time -f '%M' curl -s -o /dev/null -H "$AUTH" "$API$path" 2>&1 >/dev/null | tail -1)
    echo "| curl -s -o /dev/null \$API$path | $rss |"
    rss=$(/usr/bin/time -f '%M' "$LMI" api "$path" 2>&1 >/dev/null | tail -1)
    echo "| lmi api $path | $rss |"
done
rss=$(/usr/bin/time -f '%M' "$LMI" api "/bytes/$((512 * MIB))" 2>&1 >/dev/null | tail -1)
echo "| lmi api /bytes/$((512 * MIB)) | $rss |"

scripting
