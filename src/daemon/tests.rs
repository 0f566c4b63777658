//! The daemon run in-process: on a loopback listener bound by the test, with
//! a temporary data directory, stopped by its shutdown future.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{run, ServeLock};
use crate::config::Config;
use crate::paths::DataDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_process_answers_healthz_and_returns_when_told_to_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = ServeLock::acquire(DataDir::new(dir.path().join("data"))).expect("lock");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(run(Config::default(), lock, listener, async move {
        let _ = stopped.await;
        "test"
    }));

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let status = client.get(format!("http://{addr}/healthz")).send().await.expect("GET /healthz").status();
    assert_eq!(status.as_u16(), 200);

    stop.send(()).expect("the daemon waits for its shutdown");
    let result = tokio::time::timeout(Duration::from_secs(30), daemon)
        .await
        .expect("run returns within the grace period")
        .expect("run did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(!dir.path().join("data/agentlocator.sock").exists(), "admin socket removed on exit");
}
