//! On a cluster, a tenant's WhatsApp client runs on one node: the one
//! holding its lease. A load balancer sends API calls to any node, so the
//! routes that need the live client (pairing, send, read, presence, logout,
//! restart) pass through [`ToOwner`]: it authorizes the caller as the
//! handlers do, looks the tenant's lease up, and either lets the request
//! through (this node holds it, or there is no cluster) or forwards it,
//! streamed both ways, to the owner node under the internal secret. The
//! caller sees the owner's answer as is.
//!
//! A forwarded request carries `x-agentlocator-forwarded-by`; a request
//! carrying it is handled where it lands, so two nodes that disagree about a
//! lease for a moment cannot bounce a request between them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::{ApiError, AppState, Caller};
use crate::cluster::peers::{end_to_end, PeerError, Peers, FORWARDED_BY};
use crate::ids::TenantId;
use crate::ownership::NodeIdentity;
use crate::store::cluster::Owner;

/// The layer that sends a request to the node holding its tenant's lease,
/// with the time limit of the routes it wraps.
#[derive(Clone)]
pub struct ToOwner {
    state: AppState,
    timeout: Duration,
}

impl ToOwner {
    /// `timeout`: the wrapped routes' own time limit, which a forward gets too.
    pub fn new(state: &AppState, timeout: Duration) -> ToOwner {
        ToOwner { state: state.clone(), timeout }
    }

    /// `routes` (each with a `{tenant}` in its path), each answered by the
    /// tenant's node. A route layer: it runs after routing, so the path's
    /// tenant is known and unmatched paths are not affected.
    pub fn apply(self, routes: Router<AppState>) -> Router<AppState> {
        routes.route_layer(middleware::from_fn_with_state(self, to_owner))
    }
}

/// Where a request is answered.
enum Destination {
    Here(Request),
    There(Request, Owner, TenantId),
}

async fn to_owner(State(to): State<ToOwner>, request: Request, next: Next) -> Response {
    // A lone daemon runs every tenant: nothing to look up.
    let Some(node) = to.state.node.clone() else {
        return next.run(request).await;
    };
    match locate(&to.state, &node, request).await {
        Ok(Destination::Here(request)) => next.run(request).await,
        Ok(Destination::There(request, owner, id)) => forward(&to, &node, &owner, &id, request).await,
        Err(refused) => refused,
    }
}

/// Authorizes the caller (before anything else, so a caller who may not
/// touch the tenant never causes a forward), then finds the tenant's node.
async fn locate(state: &AppState, node: &NodeIdentity, request: Request) -> Result<Destination, Response> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
    let Path(tenant) =
        Path::<String>::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
    let id = caller.authorize(&tenant, state).await.map_err(IntoResponse::into_response)?;
    // Another node forwarded it (under the internal secret): answer here,
    // never forward again. From a tenant's token the header means nothing:
    // it must not make a node that does not run the tenant act for it.
    if matches!(caller, Caller::Admin) && parts.headers.contains_key(&FORWARDED_BY) {
        return Ok(Destination::Here(Request::from_parts(parts, body)));
    }
    let mut owner = owner_of(state, &id).await?;
    // No node yet (a tenant just added): this node asks for a lease round
    // and takes the tenant if it has room; else another node soon does.
    if owner.is_none() && state.whatsapp.runs_here(&id, TAKE_WAIT).await {
        owner = owner_of(state, &id).await?;
    }
    let request = Request::from_parts(parts, body);
    match owner {
        Some(owner) if owner.node == node.id => Ok(Destination::Here(request)),
        Some(owner) => Ok(Destination::There(request, owner, id)),
        None => Err(between_nodes(state, &id).into_response()),
    }
}

/// How long a call for a tenant no node holds waits for this node to take it.
const TAKE_WAIT: Duration = Duration::from_secs(2);

async fn owner_of(state: &AppState, id: &TenantId) -> Result<Option<Owner>, Response> {
    state.store.cluster().owner(id.as_str()).await.map_err(|e| ApiError::from(e).into_response())
}

/// No node holds the tenant: it was just added, or its node died and the
/// lease has not expired yet. Either way a node takes it within a lease
/// period.
fn between_nodes(state: &AppState, id: &TenantId) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_node",
        format!("tenant `{id}` is between nodes; try again"),
    )
    .retry_after(retry_after_s(state))
}

/// When to try again after a 503 from here: nodes renew and take leases
/// every third of the lease TTL, so by then the tenant likely has a node.
fn retry_after_s(state: &AppState) -> u64 {
    (state.config.cluster.lease_ttl / 3).as_secs().max(1)
}

/// The request sent to `owner` and its answer relayed, both streamed.
async fn forward(
    to: &ToOwner,
    node: &Arc<NodeIdentity>,
    owner: &Owner,
    id: &TenantId,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let peers = Peers::new(node.clone(), to.state.internal_secret.clone());
    let outgoing = match peers.request(owner, parts.method.clone(), path_and_query, &parts.headers) {
        Ok(outgoing) => outgoing.timeout(to.timeout),
        Err(e @ PeerError::Header(_)) => return ApiError::internal(e).into_response(),
        Err(why) => {
            tracing::error!(error = %why, "not forwarding");
            return unreachable(&to.state, id);
        }
    };
    // An empty body stays empty (no chunked GET); any other streams through.
    let outgoing = if http_body::Body::size_hint(&body).exact() != Some(0) {
        outgoing.body(reqwest::Body::wrap_stream(body.into_data_stream()))
    } else {
        outgoing
    };
    match outgoing.send().await {
        Ok(answer) => {
            metrics::counter!("agentlocator_cluster_forwarded_total", "outcome" => "ok").increment(1);
            relay(answer)
        }
        Err(e) => {
            let error = crate::outbound_error::describe(&e);
            tracing::warn!(node = %owner.node, %error, "forwarding failed: the tenant's node is unreachable");
            unreachable(&to.state, id)
        }
    }
}

/// 503 `node_unreachable`, counted (the node is named in the log only).
fn unreachable(state: &AppState, id: &TenantId) -> Response {
    metrics::counter!("agentlocator_cluster_forwarded_total", "outcome" => "unreachable").increment(1);
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "node_unreachable",
        format!("the node running tenant `{id}` is unreachable; try again"),
    )
    .retry_after(retry_after_s(state))
    .into_response()
}

/// The owner's answer for the caller: its status, end-to-end headers and
/// body, the body streamed (under the forward's time limit).
fn relay(answer: reqwest::Response) -> Response {
    let (mut parts, body) = axum::http::Response::<reqwest::Body>::from(answer).into_parts();
    parts.headers = end_to_end(&parts.headers);
    Response::from_parts(parts, axum::body::Body::new(body))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::header::{self, HeaderMap, HeaderValue};
    use axum::http::Method;
    use tokio::net::TcpListener;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::paths::DataDir;
    use crate::store::testdb::TestDb;
    use crate::tenants::{TenantRequest, TenantResponse, TenantSettings};

    const SECRET: &str = "forward-test-internal-secret-0123456789";
    const HERE: &str = "here";
    const LEASE: Duration = Duration::from_secs(60);

    /// What the stand-in owner node received.
    #[derive(Debug)]
    struct Seen {
        method: Method,
        uri: String,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    /// A real HTTP server standing in for the owner node: records each
    /// request and answers 202 with a body and a `Retry-After`.
    struct StandIn {
        address: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl StandIn {
        async fn start() -> StandIn {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = seen.clone();
            let app = Router::new().fallback(move |request: Request| {
                let record = record.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body").to_vec();
                    let uri = parts.uri.to_string();
                    let seen = Seen { method: parts.method, uri, headers: parts.headers, body };
                    record.lock().expect("lock").push(seen);
                    let headers = [(header::RETRY_AFTER, "7"), (header::CONTENT_TYPE, "application/x-owner")];
                    (StatusCode::ACCEPTED, headers, "answered by the owner")
                }
            });
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move { axum::serve(listener, app).await });
            StandIn { address, seen }
        }

        fn take(&self) -> Vec<Seen> {
            std::mem::take(&mut *self.seen.lock().expect("lock"))
        }
    }

    /// A node (`here`) of a cluster on a fresh PostgreSQL database, with
    /// tenants `acme` and `other`.
    struct Node {
        state: AppState,
        acme: String,
        other: String,
        _supervisor: crate::supervisor::Supervisor,
        _dir: tempfile::TempDir,
        _db: Option<TestDb>,
    }

    impl Node {
        /// `None` without a PostgreSQL test server.
        async fn on_postgres() -> Option<Node> {
            let db = TestDb::empty().await?;
            let mut config = Config::default();
            config.store.url = Some(db.url.clone());
            let mut node = Node::assemble(config, Some(db)).await;
            let here = NodeIdentity { id: HERE.into(), address: "http://127.0.0.1:9".into() };
            node.state.node = Some(Arc::new(here));
            Some(node)
        }

        /// A lone daemon on the embedded SQLite store (`node: None`).
        async fn lone() -> Node {
            Node::assemble(Config::default(), None).await
        }

        async fn assemble(config: Config, db: Option<TestDb>) -> Node {
            let dir = tempfile::tempdir().expect("tempdir");
            let data = DataDir::new(dir.path().join("data"));
            data.ensure().expect("data dir");
            let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder().handle();
            let crate::daemon::Assembled { state, supervisor, .. } =
                crate::daemon::assemble(config, &data, SECRET.into(), metrics).await.expect("state");
            let acme = add_tenant(&state, &data, "acme").await;
            let other = add_tenant(&state, &data, "other").await;
            Node { state, acme, other, _supervisor: supervisor, _dir: dir, _db: db }
        }

        /// Every tenant leased to node `id` at `address`.
        async fn lease_all_to(&self, id: &str, address: &str) {
            let cluster = self.state.store.cluster();
            cluster.join(id, address, "test").await.expect("join");
            assert_eq!(cluster.acquire(id, LEASE, 100).await.expect("acquire").len(), 2);
        }

        async fn call(&self, request: axum::http::Request<Body>) -> Response {
            crate::http::router(self.state.clone()).oneshot(request).await.expect("infallible")
        }
    }

    async fn add_tenant(state: &AppState, data: &DataDir, id: &str) -> String {
        let request =
            TenantRequest::Add { id: TenantId::parse(id).expect("id"), settings: TenantSettings::default() };
        match crate::tenants::execute(&state.store, data, &request).await {
            Ok(TenantResponse::Created(created)) => created.token,
            other => panic!("tenant add: {other:?}"),
        }
    }

    fn post(path: &str, token: &str, body: &'static str) -> axum::http::Request<Body> {
        axum::http::Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .expect("request")
    }

    async fn read(response: Response) -> (StatusCode, HeaderMap, Vec<u8>) {
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.expect("body").to_vec();
        (parts.status, parts.headers, body)
    }

    fn error_code(body: &[u8]) -> String {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        json["error"]["code"].as_str().unwrap_or_default().to_string()
    }

    /// A multipart send of a file over 1 MiB, given to the router in chunks
    /// (no length: it can only be streamed on).
    fn big_multipart(token: &str) -> (axum::http::Request<Body>, Vec<u8>) {
        let boundary = "forward-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550001\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend((0..1_500_000u32).map(|i| (i % 251) as u8));
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        let request = axum::http::Request::post("/api/whatsapp/acme/send?via=test")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(header::ACCEPT, "application/json")
            .header("idempotency-key", "key-1")
            .header(header::CONNECTION, "x-private")
            .header("x-private", "for this hop only")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .expect("request");
        (request, body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_for_a_tenant_on_another_node_goes_there_under_the_internal_secret_streamed_both_ways() {
        let Some(node) = Node::on_postgres().await else { return };
        let owner = StandIn::start().await;
        node.lease_all_to("there", &owner.address).await;

        let (request, sent) = big_multipart(&node.acme);
        let (status, headers, body) = read(node.call(request).await).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body, b"answered by the owner");
        assert_eq!(headers[header::RETRY_AFTER], "7");
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-owner");
        assert_eq!(headers[header::CONTENT_LENGTH], "21");

        let seen = owner.take();
        assert_eq!(seen.len(), 1);
        let got = &seen[0];
        assert_eq!(
            (got.method.clone(), got.uri.as_str()),
            (Method::POST, "/api/whatsapp/acme/send?via=test")
        );
        assert_eq!(got.headers[header::AUTHORIZATION], format!("Bearer {SECRET}").as_str());
        assert_eq!(got.headers[&FORWARDED_BY], HERE);
        assert_eq!(got.headers["idempotency-key"], "key-1");
        assert_eq!(got.headers[header::ACCEPT], "application/json");
        assert!(got.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("multipart/form-data"));
        assert!(!got.headers.contains_key("x-private"), "a header the Connection names is hop-by-hop");
        assert_eq!(got.body.len(), sent.len());
        assert!(got.body == sent, "the same bytes");

        // A body with a length keeps it; a GET keeps its query and sends no body.
        let (status, _, _) =
            read(node.call(post("/api/whatsapp/acme/read", &node.acme, "{\"a\":1}")).await).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let qr = axum::http::Request::get("/api/whatsapp/acme/qr?format=svg")
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(node.call(qr).await.status(), StatusCode::ACCEPTED);
        let seen = owner.take();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].headers[header::CONTENT_LENGTH], "7");
        assert_eq!(seen[0].body, b"{\"a\":1}");
        assert_eq!(
            (seen[1].method.clone(), seen[1].uri.as_str()),
            (Method::GET, "/api/whatsapp/acme/qr?format=svg")
        );
        assert!(seen[1].body.is_empty() && !seen[1].headers.contains_key(header::TRANSFER_ENCODING));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_who_may_not_touch_the_tenant_is_refused_here_and_nothing_is_forwarded() {
        let Some(node) = Node::on_postgres().await else { return };
        let owner = StandIn::start().await;
        node.lease_all_to("there", &owner.address).await;

        let response = node.call(post("/api/whatsapp/acme/restart", &node.other, "")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = node.call(post("/api/whatsapp/acme/restart", "not-a-token", "")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = node.call(post("/api/whatsapp/nobody/restart", SECRET, "")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(owner.take().is_empty(), "the owner saw nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forwarded_request_is_handled_where_it_lands() {
        let Some(node) = Node::on_postgres().await else { return };
        let owner = StandIn::start().await;
        node.lease_all_to("there", &owner.address).await;

        let mut request = post("/api/whatsapp/acme/read", SECRET, "{}");
        request.headers_mut().insert(FORWARDED_BY, HeaderValue::from_static("there"));
        let (status, _, body) = read(node.call(request).await).await;
        // The local handler's answer: the body lacks its fields.
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_body"));
        assert!(owner.take().is_empty(), "never forwarded again");

        // A tenant's own token with the header is still sent to the owner:
        // the header cannot make this node act for a tenant it does not run.
        let mut request = post("/api/whatsapp/acme/read", &node.acme, "{}");
        request.headers_mut().insert(FORWARDED_BY, HeaderValue::from_static("there"));
        let (status, _, _) = read(node.call(request).await).await;
        assert_eq!(status.as_u16(), 202, "the stand-in owner's answer");
        assert_eq!(owner.take().len(), 1, "forwarded");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tenant_this_node_holds_is_handled_here_and_status_on_any_node() {
        let Some(node) = Node::on_postgres().await else { return };
        node.lease_all_to(HERE, "http://127.0.0.1:9").await;

        let (status, _, body) =
            read(node.call(post("/api/whatsapp/acme/read", &node.acme, "{}")).await).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_body"));

        // Status is read from the database on any node, even with no lease.
        node.state.store.cluster().release(HERE, &["acme".to_string()]).await.expect("release");
        let status = axum::http::Request::get("/api/whatsapp/acme/status")
            .header(header::AUTHORIZATION, format!("Bearer {}", node.acme))
            .body(Body::empty())
            .expect("request");
        assert_eq!(node.call(status).await.status(), StatusCode::OK);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tenant_without_a_live_lease_is_between_nodes() {
        let Some(node) = Node::on_postgres().await else { return };

        let (status, headers, body) =
            read(node.call(post("/api/whatsapp/acme/restart", &node.acme, "")).await).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "no_node"));
        assert_eq!(headers[header::RETRY_AFTER], "5", "a third of the default 15 s lease");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("`acme` is between nodes; try again"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_that_cannot_be_reached_is_503_node_unreachable() {
        let Some(node) = Node::on_postgres().await else { return };
        // A port nothing listens on: bind one, then free it.
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        node.lease_all_to("gone", &format!("http://127.0.0.1:{port}")).await;

        let (status, headers, body) =
            read(node.call(post("/api/whatsapp/acme/logout", &node.acme, "")).await).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "node_unreachable")
        );
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert!(!String::from_utf8_lossy(&body).contains(SECRET));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_address_that_is_not_an_http_url_is_never_called() {
        let Some(node) = Node::on_postgres().await else { return };
        node.lease_all_to("odd", "file:///etc/passwd").await;

        let (status, _, body) =
            read(node.call(post("/api/whatsapp/acme/restart", &node.acme, "")).await).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "node_unreachable")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pairing_stream_is_for_nodes_only_and_a_node_not_running_the_tenant_says_so() {
        let Some(node) = Node::on_postgres().await else { return };
        let owner = StandIn::start().await;
        node.lease_all_to("there", &owner.address).await;
        let get = |token: &str| {
            axum::http::Request::get("/api/whatsapp/acme/pairing")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request")
        };

        let (status, _, _) = read(node.call(get(&node.acme)).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a tenant's own token does not reach it");
        let (status, headers, body) = read(node.call(get(SECRET)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-ndjson");
        let text = String::from_utf8_lossy(&body);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(error_code(lines[0].as_bytes()), "moved", "{text}");
        assert!(owner.take().is_empty(), "never forwarded: the asking node found the owner");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_daemon_never_looks_leases_up() {
        // On SQLite a lease lookup fails, so a local answer shows none was made.
        let lone = Node::lone().await;
        let (status, _, body) =
            read(lone.call(post("/api/whatsapp/acme/read", &lone.acme, "{}")).await).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_body"));

        // On PostgreSQL without `node`, a lease elsewhere changes nothing.
        let Some(mut node) = Node::on_postgres().await else { return };
        node.state.node = None;
        let owner = StandIn::start().await;
        node.lease_all_to("there", &owner.address).await;
        let (status, _, body) =
            read(node.call(post("/api/whatsapp/acme/read", &node.acme, "{}")).await).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_body"));
        assert!(owner.take().is_empty());
    }
}
