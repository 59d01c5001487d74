#!/usr/bin/env bash
# Usage: scripts/with-keyring.sh CMD [ARGS...]
#
# Inside an existing *private* D-Bus session (run it as
# `dbus-run-session -- scripts/with-keyring.sh CMD...`), start a throw-away
# gnome-keyring whose default collection ("login", password "test-password")
# exists and is unlocked, so Secret Service clients (secret-tool, lmi's keyring
# crate) store and read secrets without any prompt. Then run CMD with
# LMI_TEST_SECRET_SERVICE=1 exported (tests that need a real Secret Service
# rely on it and fail, rather than skip, when it is set). The keyring's files
# live in a temporary folder owned by this script; the daemon and the folder are
# removed when CMD ends. CMD's exit status is passed through.
set -euo pipefail

die() { echo "with-keyring: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: $0 CMD [ARGS...] (inside dbus-run-session)"
[[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]] ||
  die "no D-Bus session; run: dbus-run-session -- $0 $*"
for tool in gnome-keyring-daemon dbus-send; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found (Debian packages gnome-keyring, dbus-bin; scripts/test.sh installs them)"
done

bus_call() { # METHOD ARGS... on org.freedesktop.DBus
  local method="$1"
  shift
  dbus-send --session --print-reply --reply-timeout=5000 --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus "org.freedesktop.DBus.$method" "$@" 2>/dev/null
}
secrets_owned() { bus_call NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'; }

# Never take over somebody's real desktop keyring.
if secrets_owned; then
  die "org.freedesktop.secrets is already owned on this bus; run inside a private bus: dbus-run-session -- $0 $*"
fi

KEYRING_TMP="$(mktemp -d "${TMPDIR:-/tmp}/lmi-keyring.XXXXXX")"
GKD_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$GKD_PID" ]]; then
    kill "$GKD_PID" 2>/dev/null || true
    wait "$GKD_PID" 2>/dev/null || true
  fi
  rm -rf "$KEYRING_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$KEYRING_TMP/data" "$KEYRING_TMP/run"
chmod 700 "$KEYRING_TMP" "$KEYRING_TMP/run"

# --unlock reads the password from stdin; with an empty keyrings folder it
# creates the "login" collection with that password, unlocked, as the default
# collection. --foreground keeps it our child, so we know its pid. Its data and
# control folders are private to this run (only the daemon sees these XDG_*).
printf '%s' "test-password" |
  XDG_DATA_HOME="$KEYRING_TMP/data" XDG_RUNTIME_DIR="$KEYRING_TMP/run" \
    gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$KEYRING_TMP/gkd.log" 2>&1 &
GKD_PID=$!

for _ in $(seq 1 100); do
  secrets_owned && break
  kill -0 "$GKD_PID" 2>/dev/null || { cat "$KEYRING_TMP/gkd.log" >&2; die "gnome-keyring-daemon exited"; }
  sleep 0.1
done
secrets_owned || { cat "$KEYRING_TMP/gkd.log" >&2; die "gnome-keyring-daemon did not register org.freedesktop.secrets within 10 s"; }

# Check: the default alias points at an unlocked collection.
default_path="$(dbus-send --session --print-reply --reply-timeout=5000 --dest=org.freedesktop.secrets \
  /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default |
  sed -n 's/.*object path "\(.*\)".*/\1/p')"
[[ -n "$default_path" && "$default_path" != "/" ]] ||
  die "gnome-keyring has no default collection (ReadAlias default -> '${default_path}')"
locked="$(dbus-send --session --print-reply --reply-timeout=5000 --dest=org.freedesktop.secrets \
  "$default_path" org.freedesktop.DBus.Properties.Get \
  string:org.freedesktop.Secret.Collection string:Locked | sed -n 's/.*boolean \(true\|false\).*/\1/p')"
[[ "$locked" == "false" ]] || die "default collection $default_path is locked (Locked=$locked)"

export LMI_TEST_SECRET_SERVICE=1
echo "with-keyring: gnome-keyring ready (default collection $default_path, unlocked)" >&2

set +e
"$@"
rc=$?
set -e
exit "$rc"
