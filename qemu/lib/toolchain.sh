# SPDX-License-Identifier: MIT OR Apache-2.0
# Installs what building and booting the test kernel needs; idempotent.

APT_PACKAGES=(
    rustc-web rust-web-src
    clang-19 lld-19 llvm-19 libclang-19-dev
    flex bison bc libelf-dev cpio busybox-static qemu-system-x86 kmod
    gcc-multilib
    libvpoll0 libvpoll-dev
    debootstrap pkg-config
)
BINDGEN_VERSION=0.72.1
BINDGEN="$CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen"

toolchain_install() {
    step "toolchain"
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "apt: installing ${missing[*]}"
        command -v apt-get >/dev/null || die "apt-get not found" "run on Debian 12 (bookworm)"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        run_logged "$CACHE/logs/apt-update.log" $sudo apt-get update
        run_logged "$CACHE/logs/apt-install.log" env DEBIAN_FRONTEND=noninteractive \
            $sudo apt-get install -y --no-install-recommends "${missing[@]}"
    else
        log "apt packages present"
    fi
    command -v cargo >/dev/null ||
        die "cargo not found (user-space programs are built with it)" "install Rust with rustup"
    [ -x "$RUSTC_KERNEL" ] || die "$RUSTC_KERNEL missing after install" "apt-get install rustc-web"
    if [ ! -x "$BINDGEN" ]; then
        log "cargo: installing bindgen-cli $BINDGEN_VERSION (about a minute)"
        run_logged "$CACHE/logs/bindgen.log" cargo install --locked bindgen-cli \
            --version "$BINDGEN_VERSION" --root "$CACHE/tools/bindgen-$BINDGEN_VERSION"
    fi
    log "rustc for the kernel: $($RUSTC_KERNEL --version); bindgen $($BINDGEN --version | cut -d' ' -f2)"
}
