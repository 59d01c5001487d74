#!/usr/bin/env bash
# scripts/cross-check.sh: `cargo clippy --workspace --all-targets -- -D
# warnings` for the platforms lmi is not built on here (SPEC §10):
# x86_64-pc-windows-gnu, aarch64-apple-darwin and x86_64-apple-darwin.
#
# Checking still runs build scripts, and ring's compiles C for the target,
# so each target needs a C compiler: mingw-w64 from Debian for Windows, zig
# (the PyPI package `ziglang`) for macOS. Whatever is missing is installed
# (rustup targets, gcc-mingw-w64-x86-64, ziglang into a private venv); the
# tools are cached in ~/.cache/lmi-dist (shared with scripts/dist.sh) and
# the build in target/cross, apart from the main build's target/.
#
# Usage: scripts/cross-check.sh [TARGET...]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TOOLS_DIR="$HOME/.cache/lmi-dist"
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/bin:$PATH"
export CARGO_TARGET_DIR="$ROOT/target/cross"

TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
    TARGETS=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin)
fi

die() {
    echo "cross-check.sh: $*" >&2
    exit 1
}

# Debian packages: installed when root (or sudo without a password) can,
# else the one line that says how.
apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo -n true 2>/dev/null || die "needs $*: install with: sudo apt-get install -y $*"
        sudo="sudo -n"
    fi
    command -v apt-get >/dev/null || die "needs $* (Debian packages) and apt-get is missing"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null \
            && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } \
        || die "cannot install $*: run: sudo apt-get install -y $*"
}

# The command that runs zig: `python3 -m ziglang` where python3 has the
# package already, else a private venv under $TOOLS_DIR (Debian's python3
# refuses `pip install` into the system, PEP 668).
zig_command() {
    if python3 -c 'import ziglang' 2>/dev/null; then
        echo "$(command -v python3) -m ziglang"
        return
    fi
    if [ ! -x "$TOOLS_DIR/zig-venv/bin/python3" ] \
        || ! "$TOOLS_DIR/zig-venv/bin/python3" -c 'import ziglang' 2>/dev/null; then
        echo "    installing zig (pip install ziglang into $TOOLS_DIR/zig-venv)" >&2
        python3 -m venv "$TOOLS_DIR/zig-venv" >/dev/null 2>&1 || {
            apt_install python3-venv
            python3 -m venv "$TOOLS_DIR/zig-venv"
        }
        "$TOOLS_DIR/zig-venv/bin/pip" install --quiet ziglang >&2 \
            || die "cannot install zig: run: python3 -m pip install ziglang"
    fi
    echo "$TOOLS_DIR/zig-venv/bin/python3 -m ziglang"
}

# Writes an executable wrapper `$1` that runs `$2 "$@"`: CC_<target> must
# name one program, and zig needs its subcommand and target first. cc-rs
# adds clang's `--target=x86_64-apple-macosx`, which zig cannot parse: the
# wrapper drops it (zig's own -target says the same).
wrapper() {
    {
        echo '#!/bin/sh'
        echo 'for arg do shift; case "$arg" in --target=*) ;; *) set -- "$@" "$arg" ;; esac; done'
        echo "exec $2 \"\$@\""
    } >"$1"
    chmod +x "$1"
}

started=$SECONDS
command -v cargo >/dev/null || die "needs Rust: install rustup from https://rustup.rs"
command -v rustup >/dev/null || die "needs rustup (for the targets): install it from https://rustup.rs"
rustup component list --installed 2>/dev/null | grep -q '^clippy' \
    || rustup component add clippy >/dev/null 2>&1 \
    || die "cannot add clippy: run: rustup component add clippy"
installed="$(rustup target list --installed)"
for target in "${TARGETS[@]}"; do
    grep -qx "$target" <<<"$installed" || {
        echo "    adding the Rust target $target" >&2
        rustup target add "$target" >/dev/null 2>&1 \
            || die "cannot add the Rust target $target: run: rustup target add $target"
    }
done

WRAPPERS="$CARGO_TARGET_DIR/cc"
mkdir -p "$WRAPPERS"
for target in "${TARGETS[@]}"; do
    var="${target//-/_}"
    case "$target" in
    x86_64-pc-windows-gnu)
        command -v x86_64-w64-mingw32-gcc >/dev/null || {
            command -v python3 >/dev/null || apt_install python3
            apt_install gcc-mingw-w64-x86-64
        }
        export "CC_${var}=x86_64-w64-mingw32-gcc" "AR_${var}=x86_64-w64-mingw32-ar"
        ;;
    *-apple-darwin)
        command -v python3 >/dev/null || apt_install python3
        zig="${zig:-$(zig_command)}"
        zig_target="${target%%-*}-macos"
        wrapper "$WRAPPERS/cc-$target" "$zig cc -target $zig_target"
        wrapper "$WRAPPERS/ar-$target" "$zig ar"
        export "CC_${var}=$WRAPPERS/cc-$target" "AR_${var}=$WRAPPERS/ar-$target"
        ;;
    *) die "no C compiler known for $target" ;;
    esac
done
echo "==> tools ready: $((SECONDS - started)) s"

failed=()
for target in "${TARGETS[@]}"; do
    step=$SECONDS
    echo "==> cargo clippy --workspace --all-targets --target $target -- -D warnings"
    if cargo clippy --workspace --all-targets --locked --quiet --target "$target" -- -D warnings; then
        echo "    $target: clean ($((SECONDS - step)) s)"
    else
        echo "    $target: FAILED ($((SECONDS - step)) s)"
        failed+=("$target")
    fi
done
echo "==> cross-check: $((SECONDS - started)) s in all"
[ "${#failed[@]}" -eq 0 ] || die "clippy failed for: ${failed[*]}"
