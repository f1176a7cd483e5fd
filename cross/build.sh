#!/usr/bin/env bash
# Static musl builds of clawmetry (web UI embedded) into dist/, for the Raspberry Pi and x86_64.
#
#   cross/build.sh aarch64|armv7|x86_64 ...   build these (full target triples also accepted)
#   cross/build.sh --summary                  sizes and SHA256SUMS of what dist/ holds
#
# Installs what is missing, pinned, in the user's cache (not under target/, so `cargo clean`
# keeps them): zig from PyPI (`ziglang`), cargo-zigbuild from crates.io, and through rustup the
# musl target (x86_64) or rust-src (aarch64, armv7: std is built from source, see below).
# Called by `make cross`; needs python3 with pip, rustup, cargo, and binutils' readelf.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIG_VERSION=0.17.1          # PyPI ziglang
ZIGBUILD_VERSION=0.24.1     # crates.io cargo-zigbuild
MAX_ARM_BYTES=6000000       # size budget of each ARM binary (issue 7): under 6 MB
BIN=clawmetry
DIST=dist
CACHE=${CLAWMETRY_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clawmetry-cross}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

die() { echo "cross: ERROR: $*" >&2; exit 1; }
say() { echo "cross: $*"; }

# Thousands separators without relying on the locale.
commas() { echo "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }

triple_of() {
    case $1 in
        aarch64 | aarch64-unknown-linux-musl) echo aarch64-unknown-linux-musl ;;
        armv7 | armv7-unknown-linux-musleabihf) echo armv7-unknown-linux-musleabihf ;;
        x86_64 | x86_64-unknown-linux-musl) echo x86_64-unknown-linux-musl ;;
        *) die "unknown target '$1' (expected aarch64, armv7 or x86_64)" ;;
    esac
}
short_of() { echo "${1%%-*}"; }

# ---- tools ---------------------------------------------------------------------------------
# One installer at a time (`make -j cross` runs three of these scripts).
lock_cache() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
}
unlock_cache() { exec 9>&-; }

ensure_zig() {
    local dir="$CACHE/zig-$ZIG_VERSION"
    ZIG="$dir/ziglang/zig"
    if [ ! -x "$ZIG" ]; then
        command -v python3 >/dev/null || die "python3 is needed to install zig from PyPI"
        say "installing zig $ZIG_VERSION (pip install ziglang==$ZIG_VERSION) into $dir"
        rm -rf "$dir.tmp"
        # --target: a plain directory, no venv and no system site-packages touched.
        PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir.tmp" \
            "ziglang==$ZIG_VERSION" || die "pip install ziglang==$ZIG_VERSION failed"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
        [ -x "$ZIG" ] || die "the ziglang package has no executable $ZIG"
    fi
    # cargo-zigbuild finds zig through this variable (else `zig` on PATH or `python3 -m ziglang`).
    export CARGO_ZIGBUILD_ZIG_PATH="$ZIG"
}

ensure_zigbuild() {
    local root="$CACHE/cargo-zigbuild-$ZIGBUILD_VERSION"
    if [ ! -x "$root/bin/cargo-zigbuild" ]; then
        say "installing cargo-zigbuild $ZIGBUILD_VERSION (cargo install --locked) into $root"
        cargo install --quiet --locked cargo-zigbuild --version "$ZIGBUILD_VERSION" --root "$root" ||
            die "cargo install cargo-zigbuild $ZIGBUILD_VERSION failed"
    fi
    export PATH="$root/bin:$PATH"
}

ensure_rust_target() {
    command -v rustup >/dev/null || die "rustup is needed to add the cross targets"
    case $1 in
        aarch64-* | armv7-*)
            # The ARM builds compile std from rust-src with -Zbuild-std (build_one says why;
            # rustup has no prebuilt std for armv7-unknown-linux-musleabihf here anyway: 404).
            rustup component list --installed | grep -q '^rust-src' || {
                say "rustup component add rust-src"
                rustup component add rust-src
            }
            ;;
        *)
            rustup target list --installed | grep -qx "$1" || {
                say "rustup target add $1"
                rustup target add "$1"
            }
            ;;
    esac
}

# ---- checks on a built binary ----------------------------------------------------------------
check_binary() { # file triple
    local f=$1 triple=$2 machine
    command -v readelf >/dev/null || die "readelf (binutils) is needed to check $f"
    case $triple in
        aarch64-*) machine=AArch64 ;;
        armv7-*) machine=ARM ;;
        x86_64-*) machine=X86-64 ;;
    esac
    readelf -hW "$f" | grep -q "Machine:.*$machine" || die "$f is not an $machine ELF binary"
    if readelf -lW "$f" | grep -q 'program interpreter'; then die "$f is dynamically linked (has an ELF interpreter)"; fi
    if readelf -dW "$f" | grep -q '(NEEDED)'; then die "$f needs shared libraries"; fi
}

build_one() {
    local triple short out dest size t0
    triple=$(triple_of "$1")
    short=$(short_of "$triple")

    lock_cache
    ensure_zig
    ensure_zigbuild
    ensure_rust_target "$triple"
    unlock_cache

    local args=(zigbuild --release --locked --bin "$BIN" --target "$triple" --config cross/cargo-config.toml)
    local envs=()
    if [[ $triple != x86_64-* ]]; then
        # std from source for the ARM binaries (Cargo.toml's release profile has the figures): built
        # for size like the dependencies (cross/cargo-config.toml), with core's
        # "optimize_for_size" (one small merge sort instead of driftsort/ipnsort in each of the
        # ~50 sorts' instances), without "backtrace" (the symbolizer is dead weight in a stripped
        # binary; a panic's message is still printed). That keeps them under the 6 MB budget with
        # panic = "unwind". -Zbuild-std is unstable: RUSTC_BOOTSTRAP=1 allows it on stable.
        args+=("-Zbuild-std=std" "-Zbuild-std-features=panic-unwind,optimize_for_size")
        envs+=(RUSTC_BOOTSTRAP=1)
        # RUSTFLAGS from the environment would replace the config's rustflags for the target.
        if [ -n "${RUSTFLAGS:-}" ]; then envs+=("RUSTFLAGS=$RUSTFLAGS -C link-self-contained=no"); fi
    fi
    say "building $triple (zig $("$ZIG" version), cargo-zigbuild $ZIGBUILD_VERSION)"
    t0=$SECONDS
    env ${envs[@]+"${envs[@]}"} cargo "${args[@]}"

    out="$TARGET_DIR/$triple/release/$BIN"
    [ -f "$out" ] || die "the build left no $out"
    check_binary "$out" "$triple"
    mkdir -p "$DIST"
    dest="$DIST/$BIN-$short"
    cp "$out" "$dest.tmp"
    mv "$dest.tmp" "$dest"
    size=$(stat -c %s "$dest")
    say "$dest: $(commas "$size") bytes ($(mib "$size")), static, $triple, built in $((SECONDS - t0)) s"
    if [[ $triple != x86_64-* ]] && [ "$size" -ge "$MAX_ARM_BYTES" ]; then
        die "$dest is $(commas "$size") bytes, over the $(commas $MAX_ARM_BYTES)-byte budget for ARM binaries"
    fi
}

summary() {
    local f size names=()
    echo "cross: binaries in $DIST/ (static musl, web UI embedded)"
    for f in $BIN-aarch64 $BIN-armv7 $BIN-x86_64; do
        [ -f "$DIST/$f" ] || continue
        size=$(stat -c %s "$DIST/$f")
        printf 'cross:   %-24s %11s bytes  %s\n' "$DIST/$f" "$(commas "$size")" "$(mib "$size")"
        names+=("$f")
    done
    [ ${#names[@]} -gt 0 ] || die "no binaries in $DIST/; run make cross"
    (cd "$DIST" && sha256sum "${names[@]}" >SHA256SUMS)
    echo "cross: checksums in $DIST/SHA256SUMS"
}

[ $# -gt 0 ] || die "usage: cross/build.sh aarch64|armv7|x86_64 ... | --summary"
for t in "$@"; do
    case $t in
        --summary) summary ;;
        *) build_one "$t" ;;
    esac
done
