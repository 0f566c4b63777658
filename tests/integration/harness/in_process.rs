//! The HTTP router in this process, for handler tests that need no daemon:
//! `agentlocator::http::router` over the [`AppState`] `daemon::assemble`
//! builds for `serve` too (a store in a temporary data directory, a running
//! supervisor with no workers), driven request by request with
//! `tower::ServiceExt::oneshot`. No listener, no admin socket, no delivery:
//! routing, limits and auth only. Build it inside a tokio runtime (the
//! supervisor and the watchdog are tasks).

use agentlocator::config::Config;
use agentlocator::http::AppState;
use agentlocator::paths::DataDir;
use agentlocator::tenants::{TenantCreated, TenantId, TenantRequest, TenantResponse, TenantSettings};
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use tower::ServiceExt;

/// The internal secret of every in-process app.
pub const SECRET: &str = "in-process-internal-secret-0123456789";

/// The router's state and what it needs to stay up.
pub struct App {
    pub state: AppState,
    data: DataDir,
    _supervisor: agentlocator::supervisor::Supervisor,
    _dir: tempfile::TempDir,
}

/// A response, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The `error.code` of a JSON error answer ("" when there is none).
    pub fn error_code(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        json["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

impl App {
    /// The configuration is the built-in defaults with `env` applied, as
    /// `AGENTLOCATOR_<SECTION>__<KEY>` variables would be.
    pub async fn new(env: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("agentlocator.toml");
        std::fs::write(&empty, "").expect("config file");
        let vars = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let config = Config::load_from(Some(&empty), vars).expect("config");
        let data = DataDir::new(dir.path().join("data"));
        data.ensure().expect("data dir");
        // Rendered by /metrics; not installed as this process's recorder.
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder().handle();
        let assembled = agentlocator::daemon::assemble(config, &data, SECRET.to_string(), metrics)
            .await
            .expect("app state");
        let (state, supervisor) = (assembled.state, assembled.supervisor);
        App { state, data, _supervisor: supervisor, _dir: dir }
    }

    /// Adds a tenant as `tenant add` does (without a daemon).
    pub async fn add_tenant(&self, id: &str, settings: TenantSettings) -> TenantCreated {
        let id = TenantId::parse(id).expect("tenant id");
        let request = TenantRequest::Add { id, settings };
        match agentlocator::tenants::execute(&self.state.store, &self.data, &request).await {
            Ok(TenantResponse::Created(created)) => created,
            other => panic!("tenant add: {other:?}"),
        }
    }

    /// Sends `request` through a fresh router.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let router = agentlocator::http::router(self.state.clone());
        let response = router.oneshot(request).await.expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    /// `method path`, with `Authorization: Bearer <bearer>` when given.
    pub async fn call(&self, method: &str, path: &str, bearer: Option<&str>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).expect("request")).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        self.call("GET", path, bearer).await
    }
}
