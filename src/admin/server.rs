//! The daemon's side of the admin socket: tenant operations take effect at
//! once because the daemon itself performs them (and tells the supervisor).
//! `daemon::serve` binds it and runs it until shutdown.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use super::client::AdminClient;
use super::pairing::{self, Replies};
use super::{AdminError, AdminReply, AdminRequest, FAULT_INJECTION_ENV};
use crate::cluster::peers::Peers;
use crate::error::{AppError, AppResult};
use crate::health::build_info;
use crate::paths::DataDir;
use crate::store::Store;
use crate::supervisor::{SupervisorFault, SupervisorHandle};
use crate::tenants;
use crate::whatsapp::WhatsApp;

/// How long `tenant remove` waits for the tenant's worker to stop.
const WORKER_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A request line longer than this is refused (and the connection closed).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

pub struct AdminServer {
    listener: UnixListener,
    path: PathBuf,
    context: Context,
}

#[derive(Clone)]
struct Context {
    data: DataDir,
    store: Store,
    supervisor: SupervisorHandle,
    whatsapp: WhatsApp,
    http_addr: SocketAddr,
    /// On a cluster: how `tenant pair` reaches the node running a tenant.
    peers: Option<Peers>,
    faults_enabled: bool,
}

impl AdminServer {
    /// `peers`: this node's way to the other nodes, on a cluster.
    pub fn bind(
        data: &DataDir,
        store: Store,
        supervisor: SupervisorHandle,
        whatsapp: WhatsApp,
        http_addr: SocketAddr,
        peers: Option<Peers>,
    ) -> AppResult<AdminServer> {
        let path = data.socket_path();
        remove_stale_socket(&path)?;
        let listener = UnixListener::bind(&path)
            .map_err(|e| AppError::failed(format!("cannot create admin socket {}: {e}", path.display())))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AppError::failed(format!("cannot set mode 0600 on {}: {e}", path.display())))?;
        let faults_enabled = std::env::var(FAULT_INJECTION_ENV).is_ok_and(|v| v == "1");
        if faults_enabled {
            tracing::warn!("fault injection is enabled on the admin socket (testing only)");
        }
        Ok(AdminServer {
            listener,
            path,
            context: Context {
                data: data.clone(),
                store,
                supervisor,
                whatsapp,
                http_addr,
                peers,
                faults_enabled,
            },
        })
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_connection(stream, self.context.clone()));
                    }
                    Err(e) => tracing::warn!(error = %e, "admin socket accept failed"),
                },
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A socket file left by a daemon that died is removed; a live one means
/// another daemon owns this data directory (the serve lock normally says so first).
fn remove_stale_socket(path: &std::path::Path) -> AppResult<()> {
    if !path.exists() {
        return Ok(());
    }
    match AdminClient::connect(path) {
        Ok(Some(_)) => {
            Err(AppError::failed(format!("a daemon already answers on {}; stop it first", path.display())))
        }
        _ => std::fs::remove_file(path)
            .map_err(|e| AppError::failed(format!("cannot remove stale socket {}: {e}", path.display()))),
    }
}

async fn serve_connection(stream: UnixStream, context: Context) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match (&mut lines).take(MAX_REQUEST_BYTES as u64 + 1).read_line(&mut line).await {
            Ok(0) => return,
            Ok(n) if n > MAX_REQUEST_BYTES => {
                let reply = AdminReply::Error(AdminError::new("too_large", "request line too long"));
                let _ = write_reply(&mut write, &reply).await;
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "admin connection read failed");
                return;
            }
        }
        let reply = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(AdminRequest::Pair { tenant, phone }) => {
                // A stream of replies: this connection serves nothing else.
                let context = context.clone();
                let mut replies =
                    Replies::spawn(|out| async move { pair(&context, tenant, phone, &out).await });
                while let Some(reply) = replies.next().await {
                    if write_reply(&mut write, &reply).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Ok(request) => handle(request, &context).await,
            Err(e) => AdminReply::Error(AdminError::new("bad_request", format!("cannot read request: {e}"))),
        };
        if write_reply(&mut write, &reply).await.is_err() {
            return;
        }
    }
}

async fn write_reply(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    reply: &AdminReply,
) -> std::io::Result<()> {
    write.write_all(&reply.to_line()).await
}

async fn handle(request: AdminRequest, context: &Context) -> AdminReply {
    match request {
        AdminRequest::Ping => AdminReply::Ok(json!({
            "pid": std::process::id(),
            "version": build_info::VERSION,
            "http": context.http_addr.to_string(),
            "data_dir": context.data.root().display().to_string(),
        })),
        AdminRequest::Tenant { request } => tenant_request(context, request).await,
        AdminRequest::Fault { target, action } => inject_fault(context, &target, &action).await,
        AdminRequest::Logout { tenant } => {
            if let Err(e) = tenant_exists(context, &tenant).await {
                return AdminReply::Error(e);
            }
            match context.whatsapp.logout(&tenant).await {
                Ok(state) => AdminReply::Ok(json!({"tenant": tenant, "state": state})),
                Err(e @ crate::whatsapp::WhatsAppError::Busy(_)) => {
                    AdminReply::Error(AdminError::new("conflict", e.to_string()))
                }
                Err(e) => AdminReply::Error(AdminError::new("unavailable", e.to_string())),
            }
        }
        AdminRequest::Sessions => {
            match crate::whatsapp::views::listed(&context.store, Some(&context.whatsapp)).await {
                Ok(views) => AdminReply::Ok(json!(views)),
                Err(e) => AdminReply::Error(AdminError::new("store", e.to_string())),
            }
        }
        AdminRequest::Pair { .. } => AdminReply::Error(AdminError::new("internal", "pairing is streamed")),
    }
}

/// A tenant operation, performed here so it takes effect at once: a removed
/// tenant's worker is stopped first, an added one's is started.
async fn tenant_request(context: &Context, request: tenants::TenantRequest) -> AdminReply {
    tracing::info!(op = request.op(), "admin tenant request");
    if let tenants::TenantRequest::Remove { id } = &request {
        // Its worker must let go of the tenant's files before they are deleted.
        if !context.whatsapp.forget(id, WORKER_STOP_TIMEOUT).await {
            tracing::warn!(tenant = %id, "worker did not confirm its stop in time; removing anyway");
        }
    }
    let added = match &request {
        tenants::TenantRequest::Add { id, .. } => Some(id.clone()),
        _ => None,
    };
    let (store, data) = (context.store.clone(), context.data.clone());
    let outcome = tenants::execute(&store, &data, &request).await;
    if let (Some(id), Ok(_)) = (&added, &outcome) {
        context.whatsapp.start(id);
    }
    match outcome {
        Ok(response) => match serde_json::to_value(response) {
            Ok(value) => AdminReply::Ok(value),
            Err(e) => AdminReply::Error(AdminError::new("internal", e.to_string())),
        },
        Err(e) => AdminReply::Error(e.into()),
    }
}

async fn tenant_exists(context: &Context, tenant: &tenants::TenantId) -> Result<(), AdminError> {
    match context.store.tenants().exists(tenant.as_str()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AdminError::new("not_found", format!("no tenant `{tenant}`"))),
        Err(e) => Err(AdminError::new("store", e.to_string())),
    }
}

/// Pairs the tenant on the node running it: here, or, on a cluster,
/// through its node (the operator sees the same steps either way).
async fn pair(context: &Context, tenant: tenants::TenantId, phone: Option<String>, out: &pairing::Sender) {
    use crate::whatsapp::PairRequest;
    if let Err(e) = tenant_exists(context, &tenant).await {
        return out.fail(e).await;
    }
    let request = match phone.as_deref().map(tenants::parse_e164) {
        None => PairRequest::Qr,
        Some(Ok(phone)) => PairRequest::Phone(phone),
        Some(Err(e)) => return out.fail(AdminError::new("invalid", e.to_string())).await,
    };
    if context.whatsapp.runs_here(&tenant, pairing::LEASE_WAIT).await {
        tracing::info!(%tenant, "pairing requested over the admin socket");
        return pairing::here(&context.whatsapp, &tenant, request, out).await;
    }
    let phone = match &request {
        PairRequest::Phone(phone) => Some(phone.as_str()),
        PairRequest::Qr => None,
    };
    match (context.store.cluster().owner(tenant.as_str()).await, &context.peers) {
        (Ok(Some(owner)), Some(peers)) if owner.node != peers.node().id => {
            pairing::relay(&context.store, peers, &owner, &tenant, phone, out).await
        }
        (Err(e), _) => out.fail(AdminError::new("store", e.to_string())).await,
        // No node, or this one in the database but not yet here: a lease
        // round away either way.
        _ => out.fail(between_nodes(&tenant)).await,
    }
}

/// No node holds the tenant (it was just added, or its node died and the
/// lease has not expired yet): a node takes it within a lease period.
fn between_nodes(tenant: &tenants::TenantId) -> AdminError {
    AdminError::new("unavailable", format!("tenant `{tenant}` has no node yet; try again in a few seconds"))
}

async fn inject_fault(context: &Context, target: &str, action: &str) -> AdminReply {
    if !context.faults_enabled {
        return AdminReply::Error(AdminError::new(
            "forbidden",
            format!("fault injection is disabled; start serve with {FAULT_INJECTION_ENV}=1 (tests only)"),
        ));
    }
    if let Some(tenant) = target.strip_prefix("worker:") {
        let Ok(id) = tenants::TenantId::parse(tenant) else {
            return AdminReply::Error(AdminError::new("invalid", "worker faults name a tenant: worker:<id>"));
        };
        tracing::warn!(target, action, "injecting fault");
        return match context.whatsapp.inject(&id, action) {
            Ok(()) => AdminReply::Ok(json!({"injected": format!("{target} {action}")})),
            Err(e) => AdminReply::Error(AdminError::new("invalid", e.to_string())),
        };
    }
    let fault = match (target, action) {
        ("supervisor", "stop") => SupervisorFault::Stop,
        ("supervisor", "wedge") => SupervisorFault::Wedge,
        _ => {
            return AdminReply::Error(AdminError::new(
                "invalid",
                "known faults: supervisor stop, supervisor wedge, worker:<tenant> panic|fail-starts|heal",
            ))
        }
    };
    tracing::warn!(target, action, "injecting fault");
    if context.supervisor.inject_fault(fault).await {
        AdminReply::Ok(json!({"injected": format!("{target} {action}")}))
    } else {
        AdminReply::Error(AdminError::new("gone", "the supervisor is not running"))
    }
}
