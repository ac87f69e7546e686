# SPDX-License-Identifier: MIT OR Apache-2.0
# Shared helpers for the qemu/ scripts: logging, failing with a hint, the cache.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QEMU_DIR="$REPO/qemu"
# Everything expensive lives outside the repo, so a fresh clone reuses it.
CACHE=${VPOLL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpoll}
JOBS=${VPOLL_JOBS:-$(nproc)}
STEP="setup"

# The kernel is built by Debian's rustc (matched with its core source), never
# rustup's proxy that comes first in PATH.
RUSTC_KERNEL=/usr/bin/rustc
LLVM_SUFFIX=-19

# rustup's cargo for user-space builds, also when called without a login shell.
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

_t0=$(date +%s)

log() { printf '[vpoll %4ss] %s\n' "$(($(date +%s) - _t0))" "$*" >&2; }

# step NAME: start a named step; failures report it.
step() {
    STEP=$1
    log "== $STEP"
}

# die CAUSE HINT: stop, naming the step, the cause and the next thing to try.
die() {
    printf '\nvpoll: step "%s" failed: %s\n' "$STEP" "$1" >&2
    [ -n "${2:-}" ] && printf 'vpoll: try: %s\n' "$2" >&2
    exit 1
}

# run_logged LOGFILE CMD...: run CMD quietly into LOGFILE; on failure show its
# tail and die with the log's path.
run_logged() {
    local logf=$1
    shift
    mkdir -p "$(dirname "$logf")"
    if ! "$@" >"$logf" 2>&1; then
        tail -n 30 "$logf" >&2
        die "'$*' exited non-zero" "read the whole log: $logf"
    fi
}

# hash_of ARGS...: a short stable hash of files' contents and literal strings.
hash_of() {
    local a
    for a in "$@"; do
        if [ -f "$a" ]; then sha256sum <"$a"; else printf '%s\n' "$a"; fi
    done | sha256sum | cut -c1-16
}
