# The PostgreSQL server the store benches run on (sourced by bench/store/run.sh,
# bench/delivery/run.sh and bench/whatsapp/run.sh; run from the repository root).
#
#   bench_pg_start      sets BENCH_PG_URL (postgres://USER@127.0.0.1:PORT/postgres,
#                       a superuser: the benches create their own databases there)
#                       and BENCH_PG_DIR (the throwaway server's directory, empty when
#                       BENCH_DATABASE_URL named a server of one's own)
#   bench_pg_stop       stops and removes the throwaway server, if one was started
#   bench_pg_describe   one line: the server's version and durability settings
#
# The throwaway server keeps PostgreSQL's durable defaults (PG_THROWAWAY_DURABLE=1:
# fsync on, synchronous_commit on), so an acknowledged write is on disk as with
# SQLite's FULL sync; scripts/pg-throwaway's test default (fsync off) would flatter
# PostgreSQL. A server given in BENCH_DATABASE_URL is taken as it is (say which
# settings it runs with: bench_pg_describe prints them).

bench_pg_start() {
    BENCH_PG_DIR=
    if [ -n "${BENCH_DATABASE_URL:-}" ]; then
        BENCH_PG_URL=$BENCH_DATABASE_URL
        return 0
    fi
    BENCH_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-pg.XXXXXX")
    echo "== starting a durable throwaway PostgreSQL server in $BENCH_PG_DIR" >&2
    BENCH_PG_URL=$(PG_THROWAWAY_DURABLE=1 scripts/pg-throwaway "$BENCH_PG_DIR")
}

bench_pg_stop() {
    if [ -n "${BENCH_PG_DIR:-}" ]; then
        scripts/pg-throwaway --stop "$BENCH_PG_DIR" || true
        rm -rf "$BENCH_PG_DIR"
        BENCH_PG_DIR=
    fi
}

bench_pg_describe() {
    psql -qAtX "$BENCH_PG_URL" -c "SELECT 'PostgreSQL ' || current_setting('server_version')
        || ', fsync ' || current_setting('fsync')
        || ', synchronous_commit ' || current_setting('synchronous_commit')
        || ', shared_buffers ' || current_setting('shared_buffers')
        || ', max_connections ' || current_setting('max_connections')"
}
