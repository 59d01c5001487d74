#!/usr/bin/env bash
# Tests the artifacts of scripts/dist.sh (dist/) where they will run
# (SPEC §10), against the bundled test IdP on the host's 127.0.0.1 (a
# chroot and Wine share the host's network):
#   - every file matches SHA256SUMS;
#   - the .deb, installed with dpkg into a fresh minimal Debian root
#     (mmdebstrap, minbase plus man-db and bash-completion), answers
#     --version, env add, auth token, man, and bash completion of
#     `lmi -e <Tab>`;
#   - the static x86_64 binary, alone in an empty root, gets a token;
#   - the arm64 binary answers --version under qemu-aarch64-static;
#   - the Windows build, under Wine in a private prefix without the Z:
#     drive (which maps the host's /), keeps its files under %APPDATA% and
#     %LOCALAPPDATA% and reuses its cached token.
# Each check prints one line; the last line is `dist-test: N passed, M
# failed`, and any failure makes the exit code 1. Needs root (chroot,
# dpkg into a root). The Debian root and the Wine prefix are cached as
# tarballs in LMI_DIST_TEST_CACHE (default /var/cache/lmi-dist-test), so
# only the first run bootstraps them; every run unpacks fresh copies.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
export PATH="$HOME/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
DIST="$REPO/dist"
CACHE="${LMI_DIST_TEST_CACHE:-/var/cache/lmi-dist-test}"
CLIENT_ID=lmi-client
CLIENT_SECRET=lmi-secret

PASSED=0
FAILED=0
pass() {
    echo "ok    $1"
    PASSED=$((PASSED + 1))
}
fail() {
    echo "FAIL  $1"
    FAILED=$((FAILED + 1))
}
skip() {
    echo "skip  $1"
}
finish() {
    echo "dist-test: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && exit 0
    exit 1
}
die() {
    echo "dist-test: $*" >&2
    fail "$*"
    finish
}
# One line per section with its duration, for the CI budget.
SECTION=""
SECTION_START=0
section() {
    section_done
    SECTION="$1"
    SECTION_START=$SECONDS
    echo "==> $SECTION"
}
section_done() {
    [ -n "$SECTION" ] && echo "    ($SECTION: $((SECONDS - SECTION_START)) s)"
    SECTION=""
}

# check_output NAME PATTERN OUTPUT RC: passes when RC is 0 and OUTPUT matches
# the extended regular expression PATTERN; a failure shows the start of the output.
check_output() {
    local name="$1" expected="$2" output="$3" rc="$4"
    if [ "$rc" -eq 0 ] && grep -qE -- "$expected" <<<"$output"; then
        pass "$name"
    else
        fail "$name (exit $rc, expected \"$expected\" in: $(head -c 300 <<<"$output" | tr '\n' ' '))"
    fi
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
    }
}

[ "$(id -u)" = 0 ] || die "needs root (chroot and dpkg into a root): run it with sudo"
CHROOT="$(command -v chroot)" || die "needs chroot (coreutils)"
[ -f "$DIST/SHA256SUMS" ] || die "no dist/SHA256SUMS: build the artifacts first with scripts/dist.sh"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
mkdir -p "$CACHE"
WORK="$(mktemp -d)"
IDP_PID=""
WINE=""
WINEPREFIX_RUN=""
cleanup() {
    [ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null
    if [ -n "$WINE" ] && [ -n "$WINEPREFIX_RUN" ]; then
        WINEPREFIX="$WINEPREFIX_RUN" "$(dirname "$WINE")/wineserver" -k 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

section "checksums"
while read -r sum file; do
    file="${file#\*}"
    if [ ! -f "$DIST/$file" ]; then
        fail "checksum $file: the file is missing"
    elif [ "$(sha256sum "$DIST/$file" | cut -d' ' -f1)" = "$sum" ]; then
        pass "checksum $file"
    else
        fail "checksum $file: does not match SHA256SUMS"
    fi
done < "$DIST/SHA256SUMS"

section "test IdP"
cargo build --quiet -p lmi-testidp || die "cannot build the test IdP (cargo build -p lmi-testidp)"
"$REPO/target/debug/testidp" serve --jwt > "$WORK/server.json" &
IDP_PID=$!
for _ in $(seq 1 200); do
    [ -s "$WORK/server.json" ] && break
    kill -0 "$IDP_PID" 2>/dev/null || break
    sleep 0.05
done
IDP="$(sed -nE 's/.*"idp":"([^"]+)".*/\1/p' "$WORK/server.json")"
[ -n "$IDP" ] || die "the test IdP did not start"
echo "    IdP $IDP"

# The checks every platform runs: an environment for the test IdP's client,
# then a token. $@ runs lmi on that platform.
add_environment() { # add_environment PLATFORM NAME LMI...
    local platform="$1" name="$2" output rc
    shift 2
    output="$("$@" env add "$name" "OAUTH_SERVICE_URL=$IDP" "OAUTH_CLIENT_ID=$CLIENT_ID" 2>&1)"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        output="$("$@" -e "$name" config set "OAUTH_CLIENT_SECRET=$CLIENT_SECRET" 2>&1)"
        rc=$?
    fi
    check_output "$platform: lmi env add $name" "" "$output" "$rc"
}
token() { # token PLATFORM SOURCE LMI...: auth token, served from SOURCE
    local platform="$1" source="$2" output rc
    shift 2
    output="$("$@" -e ci auth token 2>&1)"
    rc=$?
    check_output "$platform: lmi auth token ($source)" "\"source\": ?\"$source\"" "$output" "$rc"
}

section "deb in a fresh Debian root"
DEB="$DIST/lmi_${VERSION}_amd64.deb"
SUITE=bookworm
# The mirror the host's apt uses, so the bootstrap works wherever apt does.
MIRROR="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ')"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
ROOT_TAR="$CACHE/debian-$SUITE-minbase-man-db-bash-completion.tar"
if [ ! -f "$ROOT_TAR" ]; then
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    echo "    bootstrapping $SUITE from $MIRROR into $ROOT_TAR (cached for later runs)"
    if mmdebstrap --quiet --mode=root --variant=minbase --include=man-db,bash-completion \
        "$SUITE" "$ROOT_TAR.tmp" "$MIRROR" </dev/null >"$WORK/mmdebstrap.log" 2>&1; then
        mv "$ROOT_TAR.tmp" "$ROOT_TAR"
    else
        rm -f "$ROOT_TAR.tmp"
        tail -n 5 "$WORK/mmdebstrap.log" >&2
    fi
fi
DEBROOT="$WORK/debian"
if [ ! -f "$ROOT_TAR" ]; then
    fail "deb: no Debian root (mmdebstrap failed)"
elif [ ! -f "$DEB" ]; then
    fail "deb: $DEB is missing"
else
    mkdir -p "$DEBROOT"
    tar -C "$DEBROOT" -xf "$ROOT_TAR"
    cp "$DEB" "$DEBROOT/tmp/lmi.deb"
    in_root() {
        env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 "$CHROOT" "$DEBROOT" "$@"
    }
    output="$(in_root dpkg -i /tmp/lmi.deb 2>&1)"
    check_output "deb: dpkg -i lmi_${VERSION}_amd64.deb" "Setting up lmi" "$output" $?
    for tool in rustc cargo node; do
        [ -e "$DEBROOT/usr/bin/$tool" ] && fail "deb: the root has $tool, so it is not a fresh system"
    done
    output="$(in_root lmi --version 2>&1)"
    check_output "deb: lmi --version" "^lmi $VERSION \\(.*x86_64-unknown-linux-musl\\)" "$output" $?
    add_environment deb ci in_root /usr/bin/lmi
    add_environment deb prod in_root /usr/bin/lmi
    token deb acquired in_root /usr/bin/lmi
    token deb cache in_root /usr/bin/lmi
    output="$(in_root man -w lmi 2>&1)"
    check_output "deb: man -w lmi" "/usr/share/man/man1/lmi.1" "$output" $?
    output="$(in_root env MANPAGER=cat man lmi-auth-token 2>&1)"
    check_output "deb: man lmi-auth-token renders" "lmi-auth-token" "$output" $?
    # Bash completion as bash-completion loads it on first Tab (from
    # /usr/share/bash-completion/completions/lmi), asked for `lmi -e <Tab>`.
    cat > "$DEBROOT/tmp/complete.bash" <<'BASH'
. /usr/share/bash-completion/bash_completion
_completion_loader lmi
func="$(complete -p lmi | sed -nE 's/.*-F ([^ ]+).*/\1/p')"
[ -n "$func" ] || { echo "no completion registered for lmi"; exit 1; }
COMP_WORDS=(lmi -e "")
COMP_CWORD=2
COMP_LINE="lmi -e "
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
"$func" lmi "" -e
printf 'candidate:%s\n' "${COMPREPLY[@]}"
BASH
    output="$(in_root bash /tmp/complete.bash 2>&1)"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -qx "candidate:ci *" <<<"$output" && grep -qx "candidate:prod *" <<<"$output"; then
        pass "deb: bash completion of lmi -e <Tab> lists ci and prod"
    else
        fail "deb: bash completion of lmi -e <Tab> (exit $rc: $(tr '\n' ' ' <<<"$output" | head -c 300))"
    fi
fi

section "static binary alone in an empty root"
TARBALL="$DIST/lmi-$VERSION-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$TARBALL" ]; then
    fail "static: $TARBALL is missing"
else
    mkdir -p "$WORK/x86_64" "$WORK/empty"
    tar -C "$WORK/x86_64" -xzf "$TARBALL"
    top="$WORK/x86_64/lmi-$VERSION-x86_64-unknown-linux-musl"
    missing=""
    for file in lmi README.md man/man1/lmi.1 man/man1/lmi-auth-token.1 completions/lmi.bash completions/_lmi completions/lmi.fish; do
        [ -f "$top/$file" ] || missing="$missing $file"
    done
    ls "$top"/LICENSE* >/dev/null 2>&1 || missing="$missing LICENSE*"
    if [ -z "$missing" ]; then pass "tarball: lmi, README, license, man pages, completions"; else fail "tarball: missing$missing"; fi
    cp "$top/lmi" "$WORK/empty/lmi"
    in_empty() {
        env -i HOME=/home "$CHROOT" "$WORK/empty" /lmi "$@"
    }
    output="$(in_empty --version 2>&1)"
    check_output "static: lmi --version" "^lmi $VERSION \\(.*x86_64-unknown-linux-musl\\)" "$output" $?
    add_environment static ci in_empty
    token static acquired in_empty
    token static cache in_empty
    others="$(cd "$WORK/empty" && find . -mindepth 1 -maxdepth 1 ! -name lmi ! -name home)"
    if [ -z "$others" ]; then pass "static: the root holds only lmi and its files under HOME"; else fail "static: unexpected files in the root: $others"; fi
fi

section "arm64 binary under qemu"
TARBALL="$DIST/lmi-$VERSION-aarch64-unknown-linux-musl.tar.gz"
ARM_DEB="$DIST/lmi_${VERSION}_arm64.deb"
if [ -f "$ARM_DEB" ] && [ "$(dpkg-deb -f "$ARM_DEB" Architecture 2>/dev/null)" = arm64 ] \
    && dpkg-deb -c "$ARM_DEB" | grep -q ' \./usr/bin/lmi$'; then
    pass "deb arm64: Architecture arm64, installs /usr/bin/lmi"
else
    fail "deb arm64: $ARM_DEB missing or not an arm64 package with /usr/bin/lmi"
fi
command -v qemu-aarch64-static >/dev/null || apt_install qemu-user-static
if ! command -v qemu-aarch64-static >/dev/null; then
    skip "arm64: qemu-aarch64-static is not installed (apt-get install qemu-user-static)"
elif [ ! -f "$TARBALL" ]; then
    fail "arm64: $TARBALL is missing"
else
    mkdir -p "$WORK/aarch64"
    tar -C "$WORK/aarch64" -xzf "$TARBALL"
    output="$(qemu-aarch64-static "$WORK/aarch64/lmi-$VERSION-aarch64-unknown-linux-musl/lmi" --version 2>&1)"
    check_output "arm64: lmi --version under qemu-aarch64-static" "^lmi $VERSION \\(.*aarch64-unknown-linux-musl\\)" "$output" $?
fi
section "rpm in an empty root"
RPM="$DIST/lmi-$VERSION-1.x86_64.rpm"
command -v rpm >/dev/null || apt_install rpm
if ! command -v rpm >/dev/null; then
    skip "rpm: the rpm tool is not installed (apt-get install rpm)"
elif [ ! -f "$RPM" ]; then
    fail "rpm: $RPM is missing"
else
    files="$(rpm -qpl "$RPM" 2>/dev/null)"
    missing=""
    for file in /usr/bin/lmi /usr/share/man/man1/lmi.1 /usr/share/bash-completion/completions/lmi \
        /usr/share/zsh/site-functions/_lmi /usr/share/fish/vendor_completions.d/lmi.fish; do
        grep -qx "$file" <<<"$files" || missing="$missing $file"
    done
    if [ -z "$missing" ]; then pass "rpm: installs lmi, its man pages and completions"; else fail "rpm: lacks$missing"; fi
    # The binary is static, so the package works in a root holding only
    # what rpm installs.
    mkdir -p "$WORK/rpm"
    output="$(rpm --root "$WORK/rpm" --initdb 2>&1 \
        && rpm --root "$WORK/rpm" -i --nodeps --nosignature --nodigest "$RPM" 2>&1 \
        && env -i HOME=/root "$CHROOT" "$WORK/rpm" /usr/bin/lmi --version 2>&1)"
    check_output "rpm: rpm -i, then lmi --version" "lmi $VERSION \\(.*x86_64-unknown-linux-musl\\)" "$output" $?
fi

section "Windows build under Wine"
ZIP="$DIST/lmi-$VERSION-x86_64-pc-windows-gnu.zip"
command -v wine64 >/dev/null || [ -x /usr/lib/wine/wine64 ] || apt_install wine64
command -v x86_64-w64-mingw32-gcc >/dev/null || apt_install gcc-mingw-w64-x86-64
WINE="$(command -v wine64 || echo /usr/lib/wine/wine64)"
if [ ! -x "$WINE" ]; then
    fail "wine: wine64 is not installed (apt-get install wine64)"
elif [ ! -f "$ZIP" ]; then
    fail "wine: $ZIP is missing"
else
    # Rust's std needs ProcessPrng from bcryptprimitives.dll, which Wine 8
    # lacks: a small DLL built from scripts/wine/processprng.c supplies it.
    DLL="$CACHE/wine/bcryptprimitives.dll"
    if [ ! -f "$DLL" ] || [ "$REPO/scripts/wine/processprng.c" -nt "$DLL" ]; then
        mkdir -p "$CACHE/wine"
        x86_64-w64-mingw32-gcc -shared -O2 -s -o "$DLL" "$REPO/scripts/wine/processprng.c" \
            "$REPO/scripts/wine/processprng.def" -ladvapi32
    fi
    # Wine runs with a bare environment: nothing of the host's (HOME, XDG_*,
    # LMI_*) reaches lmi, and a private HOME keeps Wine's own files private.
    wine_env() {
        env -i PATH=/usr/bin:/bin HOME="$WORK/wine-home" WINEPREFIX="$1" WINEDEBUG=-all "${@:2}"
    }
    # A prefix keeps no way out to the host: no Z: drive (the host's /) and
    # no user folders linked to the host's home.
    seal_prefix() {
        rm -f "$1/dosdevices/z:"
        find "$1/drive_c/users" -maxdepth 2 -type l -print0 | while IFS= read -r -d '' link; do
            rm -f "$link" && mkdir -p "$link"
        done
    }
    PREFIX_TAR="$CACHE/wine-prefix.tar"
    mkdir -p "$WORK/wine-home"
    if [ ! -f "$PREFIX_TAR" ]; then
        echo "    creating a Wine prefix (cached in $PREFIX_TAR)"
        # mono and gecko are not needed, and asking for them would wait on a dialog.
        wine_env "$WORK/wine-init" WINEDLLOVERRIDES="mscoree,mshtml=" "$WINE" wineboot --init >/dev/null 2>&1
        wine_env "$WORK/wine-init" "$(dirname "$WINE")/wineserver" -w
        seal_prefix "$WORK/wine-init"
        tar -C "$WORK/wine-init" -cf "$PREFIX_TAR.tmp" . && mv "$PREFIX_TAR.tmp" "$PREFIX_TAR"
    fi
    WINEPREFIX_RUN="$WORK/wine"
    mkdir -p "$WINEPREFIX_RUN"
    tar -C "$WINEPREFIX_RUN" -xf "$PREFIX_TAR"
    seal_prefix "$WINEPREFIX_RUN"
    if [ -e "$WINEPREFIX_RUN/dosdevices/z:" ] || [ ! -d "$WINEPREFIX_RUN/drive_c/windows" ]; then
        fail "wine: the prefix is not sealed from the host (dosdevices/z: exists) or not created"
    else
        pass "wine: private prefix without the Z: drive"
    fi
    mkdir -p "$WORK/wine-zip" "$WINEPREFIX_RUN/drive_c/lmi"
    python3 -m zipfile -e "$ZIP" "$WORK/wine-zip"
    cp "$WORK/wine-zip/lmi-$VERSION-x86_64-pc-windows-gnu/lmi.exe" "$DLL" "$WINEPREFIX_RUN/drive_c/lmi/"
    in_wine() {
        wine_env "$WINEPREFIX_RUN" WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml=" \
            "$WINE" 'C:\lmi\lmi.exe' "$@"
    }
    output="$(in_wine --version 2>&1)"
    check_output "wine: lmi --version" "^lmi $VERSION \\(.*x86_64-pc-windows-gnu\\)" "$output" $?
    add_environment wine ci in_wine
    users="$WINEPREFIX_RUN/drive_c/users"
    if compgen -G "$users/*/AppData/Roaming/lmi/env/ci.env" >/dev/null; then
        pass "wine: the environment file is in %APPDATA%\\lmi\\env\\ci.env"
    else
        fail "wine: no %APPDATA%\\lmi\\env\\ci.env (lmi wrote: $(cd "$WINEPREFIX_RUN/drive_c" && find . -name '*.env' | tr '\n' ' '))"
    fi
    token wine acquired in_wine
    token wine cache in_wine
    if compgen -G "$users/*/AppData/Local/lmi/cache/tokens/*" >/dev/null; then
        pass "wine: the token is cached under %LOCALAPPDATA%\\lmi\\cache\\tokens"
    else
        fail "wine: nothing under %LOCALAPPDATA%\\lmi\\cache\\tokens"
    fi
    strays="$(cd "$WINEPREFIX_RUN/drive_c" && ls -d .config .cache .local 2>/dev/null | tr '\n' ' ')"
    if [ -z "$strays" ]; then pass "wine: nothing written under C:\\ (no HOME fallback)"; else fail "wine: lmi wrote C:\\ $strays"; fi
fi

section_done
finish
