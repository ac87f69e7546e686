# SPDX-License-Identifier: MIT OR Apache-2.0
# Installs what each job needs, and no more; idempotent.

# Booting a Debian kernel with our initramfs, and building its module in a
# chroot of the release that built it (and unpacking its compressed modules).
APT_BOOT=(qemu-system-x86 busybox-static kmod debootstrap xz-utils zstd)
# The C programs of the test suite: a 32-bit client, and clients of Debian's
# libvpoll and of ours.
APT_TESTS=(gcc-multilib libvpoll0 libvpoll-dev pkg-config)
# Building our own kernels (with the EFD_VPOLL patch): Debian's rustc matched
# with its core source, LLVM for the debug flavour, libclang for bindgen.
APT_KERNEL=(
    rustc-web rust-web-src
    "clang-$LLVM_VERSION" "lld-$LLVM_VERSION" "llvm-$LLVM_VERSION" "libclang-$LLVM_VERSION-dev"
    flex bison bc libelf-dev
)
BINDGEN="$CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen"

# apt_install PACKAGE...: install those not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "apt: installing ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found" "run on Debian 12 (bookworm)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    run_logged "$CACHE/logs/apt-update.log" $sudo apt-get update
    run_logged "$CACHE/logs/apt-install.log" env DEBIAN_FRONTEND=noninteractive \
        $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

# toolchain_install [kernel] [tests]: the packages booting needs, and what
# building our own kernels or the C test programs needs on top.
toolchain_install() {
    step "toolchain"
    local -a want=("${APT_BOOT[@]}")
    local part
    for part in "$@"; do
        case $part in
            kernel) want+=("${APT_KERNEL[@]}") ;;
            tests) want+=("${APT_TESTS[@]}") ;;
            *) die "unknown toolchain part '$part'" "qemu/lib/toolchain.sh names kernel and tests" ;;
        esac
    done
    apt_install "${want[@]}"
    command -v cargo >/dev/null ||
        die "cargo not found (user-space programs are built with it)" "install Rust with rustup"
}

# bindgen_install: the bindgen our kernels are configured with (bookworm's is
# too old), built by cargo into the cache; it is CPU work, so it runs once the
# downloads are under way.
bindgen_install() {
    [ -x "$RUSTC_KERNEL" ] || die "$RUSTC_KERNEL missing" "qemu/vm installs rustc-web with the kernel toolchain"
    if [ ! -x "$BINDGEN" ]; then
        step "toolchain"
        log "cargo: installing bindgen-cli $BINDGEN_VERSION (about a minute)"
        run_logged "$CACHE/logs/bindgen.log" cargo install --locked bindgen-cli \
            --version "$BINDGEN_VERSION" --root "$CACHE/tools/bindgen-$BINDGEN_VERSION"
        log "rustc for the kernel: $($RUSTC_KERNEL --version); bindgen $($BINDGEN --version | cut -d' ' -f2)"
    fi
}
