# SPDX-License-Identifier: MIT OR Apache-2.0
# Shared helpers for the qemu/ scripts: logging, failing with a hint, the cache.

set -eEuo pipefail
[ -z "${VPOLL_TRACE:-}" ] || set -x

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QEMU_DIR="$REPO/qemu"
# Everything expensive lives outside the repo, so a fresh clone reuses it.
CACHE=${VPOLL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpoll}
JOBS=${VPOLL_JOBS:-$(nproc)}
STEP="setup"

source "$QEMU_DIR/lib/versions.sh"

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

# Set once a failure has been reported, so that the shells it passes through
# on its way out (a command substitution, a background job) add only where.
export VPOLL_FAILED_MARK=${VPOLL_FAILED_MARK:-$(mktemp -u "${TMPDIR:-/tmp}/vpoll-failed.XXXXXX")}

# free_mib: MiB free on the filesystem that holds the cache.
free_mib() {
    local d=$CACHE
    while [ ! -e "$d" ]; do d=$(dirname "$d"); done
    df -Pm "$d" | awk 'NR == 2 { print $4 }'
}

# disk_hint: a failure on a nearly full disk says so: the tool that ran out
# (ld, cp, dpkg) often only says "No space left" far up in its log.
disk_hint() {
    local free
    [ "$STEP" != "disk space" ] || return 0
    free=$(free_mib 2>/dev/null) || return 0
    if [ -n "$free" ] && [ "$free" -lt 1024 ]; then
        printf 'vpoll: the disk holding %s has only %s MiB free: a full disk is the likely cause (old caches: ls -d %s/vpoll-*)\n' \
            "$CACHE" "$free" "${TMPDIR:-/tmp}" >&2
    fi
}

# disk_check GIB: fail at once, not an hour in, when the disk holding the
# cache cannot take what this command writes into an empty cache (GIB,
# measured) beyond what the cache already holds.
disk_check() {
    local need=$(($1 * 1024)) held free want
    step "disk space"
    held=$(du -sm "$CACHE" 2>/dev/null | cut -f1) || held=0
    free=$(free_mib)
    want=$((need - ${held:-0}))
    [ "$want" -ge 2048 ] || want=2048
    want=$(((want + 1023) / 1024))
    log "$((free / 1024)) GiB free where the cache is; this needs about $want GiB more"
    [ "$free" -ge $((want * 1024)) ] ||
        die "the disk holding $CACHE has $((free / 1024)) GiB free, and this command needs about $want GiB more (about $1 GiB from an empty cache; $((${held:-0} / 1024)) GiB are there)" \
            "free space on that disk (old caches of earlier runs: ls -d ${TMPDIR:-/tmp}/vpoll-*), or set VPOLL_CACHE to a directory on a larger disk"
}

# die CAUSE HINT: stop, naming the step, the cause and the next thing to try.
die() {
    printf '\nvpoll: step "%s" failed: %s\n' "$STEP" "$1" >&2
    if [ -n "${2:-}" ]; then printf 'vpoll: try: %s\n' "$2" >&2; fi
    disk_hint
    : >"$VPOLL_FAILED_MARK"
    exit 1
}

# on_error: the ERR trap. Any command that fails where set -e would end the
# script names the step, the file, the line and the command, so no exit is
# silent. Where -e is off (a command substitution, a condition) the caller
# sees the status and decides, so nothing is said there.
on_error() {
    local rc=$?
    case $- in *e*) ;; *) return "$rc" ;; esac
    local where="${BASH_SOURCE[1]#"$REPO"/}:${BASH_LINENO[0]}"
    if [ -e "$VPOLL_FAILED_MARK" ]; then
        printf 'vpoll:   (from %s: %s)\n' "$where" "$BASH_COMMAND" >&2
    else
        printf '\nvpoll: step "%s" failed: %s: `%s` exited with status %s\n' \
            "$STEP" "$where" "$BASH_COMMAND" "$rc" >&2
        printf 'vpoll: try: the output above says why; VPOLL_TRACE=1 shows every command\n' >&2
        disk_hint
        : >"$VPOLL_FAILED_MARK"
    fi
    exit "$rc"
}
trap on_error ERR

declare -A BACKGROUND=()

# background NAME FUNCTION [ARG...]: run FUNCTION in a background shell, so
# that downloads overlap with compiling; its output goes to a log, and await
# collects it. FUNCTION fills the cache: calling it again later, in the
# foreground, finds its work done and sets its variables there.
background() {
    local name=$1
    shift
    mkdir -p "$CACHE/logs"
    log "started in the background: $name (log: $CACHE/logs/$name.log)"
    # In a process group of its own (job control on for this one start), so
    # that on_exit stops the job and everything it started in one signal:
    # walking the process tree would miss a child started meanwhile.
    set -m
    (
        STEP="$name (in the background)"
        VPOLL_FAILED_MARK="$VPOLL_FAILED_MARK.$name"
        trap - EXIT
        "$@"
    ) >"$CACHE/logs/$name.log" 2>&1 </dev/null &
    BACKGROUND[$name]=$!
    set +m
}

# await NAME: wait for a background job; its failure fails the current step.
await() {
    local name=$1 pid=${BACKGROUND[$1]:-}
    [ -n "$pid" ] || return 0
    unset "BACKGROUND[$name]"
    if ! wait "$pid"; then
        tail -n 20 "$CACHE/logs/$name.log" >&2
        die "the background job '$name' failed" "read its whole log: $CACHE/logs/$name.log"
    fi
}

# on_exit: the outermost shell stops its background jobs (each a process
# group: the job and all it started) and clears the mark.
on_exit() {
    local pid
    for pid in "${BACKGROUND[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    rm -f "$VPOLL_FAILED_MARK" "$VPOLL_FAILED_MARK".*
}
trap on_exit EXIT

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
