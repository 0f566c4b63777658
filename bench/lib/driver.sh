# Shared by the benches that drive a release agentlocator (--features sim) and
# wasim from a Python driver: a scratch directory, private copies of the two
# binaries, the driver run in the background, and a trap that stops the driver
# and every process it listed in its pid file, whatever happens.
#
# Usage: source bench/lib/driver.sh
#   build_sim_release                                  # sets TARGET; SKIP_BUILD=1 skips the build
#   run_sim_driver TAG DRIVER.py [driver options...]   # never returns
# Environment: CARGO_TARGET_DIR, KEEP=1 (keep the scratch directory; it is
# always kept when the run fails), BENCH_JSON=path.
# SIM_DRIVER_ON_EXIT: a command the trap runs once the driver's processes are
# stopped and before the scratch directory ($WORK) is removed (e.g. to stop a
# database server the bench started, after saving its log in $WORK).

build_sim_release() {
    TARGET=${CARGO_TARGET_DIR:-target}
    case "$TARGET" in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        echo "== building (release): agentlocator --features sim, wasim" >&2
        CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --features sim -p agentlocator
        CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p wasim
    fi
}

run_sim_driver() {
    local tag=$1 driver_script=$2
    shift 2
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")
    PIDS=$WORK/pids
    DRIVER=
    STATUS=1
    trap _sim_driver_cleanup EXIT
    trap 'exit 130' INT TERM

    # Private copies: a rebuild in the tree during the run must not swap binaries.
    mkdir -p "$WORK/bin"
    cp "$TARGET/release/agentlocator" "$TARGET/release/wasim" "$WORK/bin/"
    if ! "$WORK/bin/agentlocator" --version >/dev/null 2>&1; then
        echo "FAIL: $TARGET/release/agentlocator does not run" >&2; exit 1
    fi

    python3 "$driver_script" \
        --agentlocator "$WORK/bin/agentlocator" --wasim "$WORK/bin/wasim" \
        --work "$WORK" --pid-file "$PIDS" \
        ${BENCH_JSON:+--json-out "$BENCH_JSON"} "$@" &
    DRIVER=$!
    set +e
    wait "$DRIVER"
    STATUS=$?
    set -e
    DRIVER=
    exit "$STATUS"
}

_sim_driver_cleanup() {
    trap - EXIT INT TERM
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$DRIVER" 2>/dev/null || true
    fi
    # Whatever the driver could not stop (listed by pid, nothing else is touched).
    if [ -f "$PIDS" ]; then
        while read -r pid; do
            [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
        done < "$PIDS"
        sleep 1
        while read -r pid; do
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
        done < "$PIDS"
    fi
    if [ -n "${SIM_DRIVER_ON_EXIT:-}" ]; then
        $SIM_DRIVER_ON_EXIT || true
    fi
    if [ "$STATUS" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "== logs kept in $WORK" >&2
    fi
}
