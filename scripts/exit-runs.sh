#!/usr/bin/env bash
# Runs each test binary N times and counts its exit statuses, to show that a binary exits
# cleanly: a crash at exit after the tests passed shows up as 139 (SIGSEGV) or 134 (SIGABRT).
# The binaries are the ones `cargo test --release --no-run` prints, e.g. for the burn adapter:
#
#   cd wgpu-alig-burn && cargo test --release --no-run 2>&1 | grep Executable
#   ../scripts/exit-runs.sh 100 <the test binaries>
#
# The output of each failing run is kept in $TMPDIR (or /tmp) as exit-runs.NAME.RUN.log.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 N BINARY..." >&2
    exit 2
fi
runs=$1
shift
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
logs="${TMPDIR:-/tmp}"
failed=0
for binary in "$@"; do
    name=$(basename "$binary")
    declare -A statuses=()
    for run in $(seq 1 "$runs"); do
        "$binary" --test-threads=1 > "$logs/exit-runs.$name.log" 2>&1
        status=$?
        statuses[$status]=$(( ${statuses[$status]:-0} + 1 ))
        if [ "$status" -ne 0 ]; then
            cp "$logs/exit-runs.$name.log" "$logs/exit-runs.$name.$run.log"
            failed=1
        fi
    done
    rm -f "$logs/exit-runs.$name.log"
    for status in "${!statuses[@]}"; do
        echo "$name: exit status $status in ${statuses[$status]} of $runs runs"
    done
    unset statuses
done
exit $failed
