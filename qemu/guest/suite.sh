# SPDX-License-Identifier: MIT OR Apache-2.0
# Sourced by the guest's test job (busybox sh): `suite`, which announces and
# runs one test suite under a stall guard.
#
# A hung test must not cost the whole guest: the host's watchdog would stop
# the guest and every later suite with it, and say only that time ran out.
# The guard watches the suite's output instead; when it has been silent for
# VPOLL_STALL seconds (libtest prints a line as each test starts and ends, so
# silence is one test running that long) it prints every thread of the suite
# with its state, wait channel and kernel stack, stops the suite's whole
# process group, and the job goes on with the next suite. The verdict names
# the test (the one that started last) and repeats the threads' states.

STALL=${VPOLL_STALL:-240}
SUITE_DIR=${SUITE_DIR:-/tmp/vpoll-suite}
mkdir -p "$SUITE_DIR"

# suite NAME COMMAND...: announces suite NAME with the number of tests
# COMMAND lists under the filters it runs with, then runs it under the guard.
# The verdict fails a planned suite that never ran, lists nothing, or whose
# summary does not account for every test it listed. Sets status=1 if the
# suite fails or stalls.
suite() {
    name=$1
    shift
    echo "VPOLL-SUITE: $name $("$@" --list 2>/dev/null | grep -c ': test$')"
    rm -f "$SUITE_DIR/rc" "$SUITE_DIR/pgid"
    : >"$SUITE_DIR/out"
    # setsid: the suite and whatever it starts are one process group (and
    # the sh below leads it), which the guard can stop whole.
    setsid sh -c 'echo $$ >"$0/pgid"; "$@" 2>&1; echo $? >"$0/rc"' "$SUITE_DIR" "$@" |
        tee -a "$SUITE_DIR/out" &
    tee_pid=$!
    began=$(date +%s)
    longest=0
    suite_guard "$name"
    [ "$(cat "$SUITE_DIR/rc" 2>/dev/null)" = 0 ] || status=1
    # The suite's last lines pass through tee: they must reach the console
    # before anything the job prints next. A process the suite left behind
    # may hold the pipe open; tee gets 10 s.
    # (Not `wait`: it would wait for the whole pipeline, a stopped suite's
    # leftovers included.)
    waited=0
    while running "$tee_pid" && [ $waited -lt 50 ]; do
        sleep 0.2
        waited=$((waited + 1))
    done
    kill "$tee_pid" 2>/dev/null
    # The margin the guard leaves, for whoever tunes VPOLL_STALL.
    echo "VPOLL-SUITE-TIME: $name ran $(($(date +%s) - began)) s, silent at most $((longest / 4)) s (stall limit $STALL s)"
    return 0
}

# running PID: whether PID is alive (a zombie is not).
running() {
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# suite_guard NAME: returns when the suite has ended, or has been silent
# for $STALL s (then it dumps and stops it). Keeps the longest silence, in
# quarter seconds, in $longest.
suite_guard() {
    size=-1
    ticks=0 # quarter seconds of silence: a suite's end is seen at once
    while [ ! -e "$SUITE_DIR/rc" ]; do
        sleep 0.25
        now=$(wc -c <"$SUITE_DIR/out")
        if [ "$now" != "$size" ]; then
            size=$now
            ticks=0
            continue
        fi
        ticks=$((ticks + 1))
        [ $ticks -le "$longest" ] || longest=$ticks
        [ $ticks -ge $((STALL * 4)) ] || continue
        pgid=$(cat "$SUITE_DIR/pgid" 2>/dev/null)
        echo
        echo "VPOLL-STALL: suite $1 printed nothing for $STALL s: its threads, then it is stopped"
        [ -z "$pgid" ] || stall_dump "$pgid"
        [ -z "$pgid" ] || kill -KILL -- "-$pgid" 2>/dev/null
        echo "stalled" >"$SUITE_DIR/rc"
        return
    done
}

# stall_dump PGID: every thread of process group PGID: pid/tid, name, state
# and wait channel on one VPOLL-STALL-THREAD line, then its kernel stack.
stall_dump() {
    for stat in /proc/[0-9]*/stat; do
        dir=${stat%/stat}
        # The group: the 3rd field after the ")" that ends the name.
        group=$(sed 's/.*) //' "$stat" 2>/dev/null | cut -d' ' -f3)
        [ "$group" = "$1" ] || continue
        for task in "$dir"/task/[0-9]*; do
            echo "VPOLL-STALL-THREAD: ${dir#/proc/}/${task##*/}" \
                "$(sed -n 's/^Name:\t*//p' "$task/status" 2>/dev/null)" \
                "$(sed -n 's/^State:\t*//p' "$task/status" 2>/dev/null)" \
                "in $(cat "$task/wchan" 2>/dev/null)"
            sed 's/^/    /' "$task/stack" 2>/dev/null
        done
    done
}
