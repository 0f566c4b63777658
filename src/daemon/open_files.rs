//! The open-files limit a daemon with many tenants needs.

use rlimit::Resource;

/// Each connected tenant holds about five descriptors (its WebSocket, its
/// session store's database, WAL and lock files), so the common soft limit of
/// 1024 runs out near 190 tenants. Raise the soft limit to the hard one, as
/// far as the system allows, and say what we got.
pub fn raise_limit() {
    let Ok((before, hard)) = rlimit::getrlimit(Resource::NOFILE) else { return };
    let mut current = before;
    if before < hard && rlimit::setrlimit(Resource::NOFILE, hard, hard).is_ok() {
        current = hard;
    }
    let tenants = current / 5;
    tracing::info!(
        open_files = current,
        raised_from = before,
        "open-files limit (about {tenants} connected tenants)"
    );
    if current < 4096 {
        tracing::warn!(
            open_files = current,
            "low open-files limit: each connected tenant needs about 5; raise it (systemd: LimitNOFILE=65536)"
        );
    }
}
