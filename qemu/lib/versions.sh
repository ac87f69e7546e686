# SPDX-License-Identifier: MIT OR Apache-2.0
# Every version the harness pins, in one place; the other scripts read these.

# Debian's kernels come from this suite. Which series we test is not pinned:
# debian_series (qemu/lib/debian.sh) finds every series the suite carries on
# each run, and our own test and debug kernels follow the newest.
DEBIAN_KERNEL_SUITE=trixie-backports
# The release that built those kernels: the chroot with its rustc and gcc, in
# which vpoll.ko for Debian's own kernel is built (kmod/build-for-debian).
DEBIAN_RELEASE=trixie
# The C vpoll module (the benchmark's peer) comes from this suite's vpoll-dkms.
VPOLL_C_SUITE=trixie

# This machine's compilers for our kernels (qemu/lib/kernel.sh says why LLVM).
LLVM_VERSION=19
# /usr/bin/rustc from bookworm's rustc-web, matched with its core source
# (rust-web-src); never rustup's proxy that comes first in PATH.
RUSTC_KERNEL=/usr/bin/rustc
BINDGEN_VERSION=0.72.1
