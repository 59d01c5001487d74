#!/usr/bin/env bash
# Builds lmi's release artifacts into dist/ (SPEC §10):
#   lmi-<version>-x86_64-unknown-linux-musl.tar.gz   static binaries, with README,
#   lmi-<version>-aarch64-unknown-linux-musl.tar.gz  license, man pages, completions
#   lmi_<version>_amd64.deb, lmi_<version>_arm64.deb  (cargo-deb)
#   lmi-<version>-1.x86_64.rpm                        (cargo-generate-rpm)
#   lmi-<version>-x86_64-pc-windows-gnu.zip           (mingw; tested under Wine)
#   SHA256SUMS
# The static binaries are linked by zig (cargo-zigbuild), so no C cross
# toolchain or musl installation is needed. Everything is built into a
# temporary folder that replaces dist/ only once complete, so a dist/ is
# never half-filled. Missing tools are installed (rustup targets, cargo
# tools, zig from PyPI, mingw from Debian) or named with the command that
# installs them. Builds reuse target/dist between runs (the package metadata
# in Cargo.toml names target/dist/generated), and tools stay in ~/.cargo/bin
# and ~/.cache/lmi-dist.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PATH="$HOME/.cargo/bin:$HOME/.cache/lmi-dist/bin:$PATH"
export CARGO_TARGET_DIR="$ROOT/target/dist"

LINUX_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
WINDOWS_TARGET=x86_64-pc-windows-gnu
TOOLS_DIR="$HOME/.cache/lmi-dist"

die() {
    echo "dist.sh: $*" >&2
    exit 1
}

# One line per step with its duration, so slow steps are visible in CI logs.
STEP_NAME=""
STEP_START=0
step() {
    step_done
    STEP_NAME="$1"
    STEP_START=$SECONDS
    echo "==> $STEP_NAME"
}
step_done() {
    if [ -n "$STEP_NAME" ]; then
        echo "    $STEP_NAME: $((SECONDS - STEP_START)) s"
    fi
    STEP_NAME=""
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
    $sudo apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } \
        || die "cannot install $*: run: sudo apt-get install -y $*"
}

cargo_tool() {
    local command="$1" crate="$2"
    command -v "$command" >/dev/null && return
    echo "    installing $crate (cargo install --locked $crate)"
    cargo install --locked --quiet "$crate" || die "cannot install $crate: run: cargo install --locked $crate"
}

# zig comes from the PyPI package `ziglang`: importable by python3 already,
# or installed into a private venv whose `zig` wrapper goes on PATH.
ensure_zig() {
    command -v zig >/dev/null && return
    python3 -c 'import ziglang' 2>/dev/null && return
    command -v python3 >/dev/null || apt_install python3
    if [ ! -x "$TOOLS_DIR/zig-venv/bin/python3" ]; then
        echo "    installing zig (pip install ziglang into $TOOLS_DIR/zig-venv)"
        python3 -m venv "$TOOLS_DIR/zig-venv" 2>/dev/null || {
            apt_install python3-venv
            python3 -m venv "$TOOLS_DIR/zig-venv"
        }
        "$TOOLS_DIR/zig-venv/bin/pip" install --quiet ziglang \
            || die "cannot install zig: run: python3 -m pip install ziglang"
    fi
    mkdir -p "$TOOLS_DIR/bin"
    printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$TOOLS_DIR/zig-venv/bin/python3" > "$TOOLS_DIR/bin/zig"
    chmod +x "$TOOLS_DIR/bin/zig"
}

step "tools"
command -v cargo >/dev/null || die "needs Rust: install rustup from https://rustup.rs"
command -v rustup >/dev/null || die "needs rustup (for the cross targets): install it from https://rustup.rs"
installed_targets="$(rustup target list --installed)"
for target in "${LINUX_TARGETS[@]}" "$WINDOWS_TARGET"; do
    grep -qx "$target" <<<"$installed_targets" || rustup target add "$target" >/dev/null 2>&1 \
        || die "cannot add the Rust target $target: run: rustup target add $target"
done
cargo_tool cargo-zigbuild cargo-zigbuild
cargo_tool cargo-deb cargo-deb
cargo_tool cargo-generate-rpm cargo-generate-rpm
ensure_zig
command -v x86_64-w64-mingw32-gcc >/dev/null || apt_install gcc-mingw-w64-x86-64
command -v tar >/dev/null && command -v sha256sum >/dev/null || die "needs tar and sha256sum (coreutils)"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$VERSION" ] || die "cannot read the version from Cargo.toml"
# Archives carry the commit's time, so the same commit gives the same bytes.
MTIME="$(git log -1 --format=%ct 2>/dev/null || date +%s)"

STAGE="$(mktemp -d "$ROOT/.dist-tmp.XXXXXX")"
trap 'kill "${WINDOWS_BUILD:-}" 2>/dev/null; rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"

# The Windows build runs alongside the Linux ones, in a target folder of
# its own (Cargo locks a whole target folder): a release build spends
# minutes in single-threaded LTO, so two builds keep both cores busy.
WINDOWS_TARGET_DIR="$ROOT/target/dist-windows"
step "build $WINDOWS_TARGET (mingw, in the background)"
CARGO_TARGET_DIR="$WINDOWS_TARGET_DIR" cargo build --release --locked --quiet -p lmi --bin lmi \
    --target "$WINDOWS_TARGET" >"$STAGE/windows-build.log" 2>&1 &
WINDOWS_BUILD=$!
for target in "${LINUX_TARGETS[@]}"; do
    step "build $target (cargo zigbuild)"
    cargo zigbuild --release --locked --quiet -p lmi --bin lmi --target "$target"
done
step "build $WINDOWS_TARGET (waiting for it)"
if ! wait "$WINDOWS_BUILD"; then
    cat "$STAGE/windows-build.log" >&2
    die "the $WINDOWS_TARGET build failed"
fi
rm -f "$STAGE/windows-build.log"

# Man pages and completions, made by the x86_64 binary itself. The
# completion scripts call lmi by the full path of the binary that wrote
# them: packages point it at /usr/bin/lmi, tarballs at `lmi` on PATH.
step "man pages and completions"
# By its real path: that is the name the binary finds for itself (the
# target folder may be a symbolic link into a build cache).
HOST_LMI="$(readlink -f "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/lmi")"
GEN="$CARGO_TARGET_DIR/generated"
rm -rf "$GEN"
mkdir -p "$GEN/man" "$GEN/completions/package" "$GEN/completions/tarball"
"$HOST_LMI" man --dir "$GEN/man" >/dev/null
for shell in bash zsh fish; do
    case "$shell" in
        bash) file=lmi.bash ;;
        zsh) file=_lmi ;;
        fish) file=lmi.fish ;;
    esac
    "$HOST_LMI" completions "$shell" > "$GEN/completions/$file.raw"
    grep -qF "$HOST_LMI" "$GEN/completions/$file.raw" \
        || die "the $shell completion script does not name the binary that wrote it; cannot point it at the installed one"
    sed "s#$HOST_LMI#/usr/bin/lmi#g" "$GEN/completions/$file.raw" > "$GEN/completions/package/$file"
    sed "s#$HOST_LMI#lmi#g" "$GEN/completions/$file.raw" > "$GEN/completions/tarball/$file"
    rm "$GEN/completions/$file.raw"
done

archive() { # archive NAME: a reproducible tar.gz of the folder NAME in $STAGE
    local name="$1"
    tar -C "$STAGE" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$MTIME" \
        -cf - "$name" | gzip -n -9 > "$STAGE/$name.tar.gz"
    rm -rf "${STAGE:?}/$name"
}

for target in "${LINUX_TARGETS[@]}"; do
    step "tarball $target"
    name="lmi-$VERSION-$target"
    mkdir -p "$STAGE/$name/man/man1" "$STAGE/$name/completions"
    install -m 0755 "$CARGO_TARGET_DIR/$target/release/lmi" "$STAGE/$name/lmi"
    install -m 0644 README.md "$STAGE/$name/"
    for license in LICENSE*; do
        [ -e "$license" ] && install -m 0644 "$license" "$STAGE/$name/"
    done
    install -m 0644 "$GEN"/man/*.1 "$STAGE/$name/man/man1/"
    install -m 0644 "$GEN"/completions/tarball/* "$STAGE/$name/completions/"
    archive "$name"
done

step "deb (cargo deb)"
for target in "${LINUX_TARGETS[@]}"; do
    case "$target" in
        x86_64-*) arch=amd64 ;;
        aarch64-*) arch=arm64 ;;
    esac
    cargo deb --no-build --no-strip --quiet -p lmi --target "$target" \
        --output "$STAGE/lmi_${VERSION}_$arch.deb" >/dev/null
done

step "rpm (cargo generate-rpm)"
cargo generate-rpm --auto-req disabled --source-date "$MTIME" --target x86_64-unknown-linux-musl --target-dir "$CARGO_TARGET_DIR" \
    --output "$STAGE/lmi-$VERSION-1.x86_64.rpm"

step "zip $WINDOWS_TARGET"
name="lmi-$VERSION-$WINDOWS_TARGET"
mkdir -p "$STAGE/$name"
cp "$WINDOWS_TARGET_DIR/$WINDOWS_TARGET/release/lmi.exe" README.md "$STAGE/$name/"
for license in LICENSE*; do
    [ -e "$license" ] && cp "$license" "$STAGE/$name/"
done
(cd "$STAGE" && python3 -m zipfile -c "$name.zip" "$name/")
rm -rf "${STAGE:?}/$name"

step "SHA256SUMS"
(cd "$STAGE" && sha256sum -- *.tar.gz *.deb *.rpm *.zip > SHA256SUMS)

# Only now does dist/ change: the complete set replaces the old one.
rm -rf dist.old
[ -d dist ] && mv dist dist.old
mv "$STAGE" dist
rm -rf dist.old
trap - EXIT
step_done
echo "==> dist/ ($VERSION):"
(cd dist && ls -l -- * | awk '{ printf "    %10d  %s\n", $5, $NF }')
