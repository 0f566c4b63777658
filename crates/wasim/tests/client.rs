//! The real whatsapp-rust 0.7 client against the simulator, in process.

mod common;

use std::time::{Duration, Instant};

use common::{STEP, TestBot, paired};
use wasim::Sim;
use whatsapp_rust::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_pairing_reaches_pair_success_and_connected() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut bot = TestBot::start(&sim, &dir.path().join("wa.db")).await;
    let qr = bot.qr().await;
    assert_eq!(qr.split(',').count(), 5, "ref,noise,identity,adv,type: {qr}");
    let phone = sim.scan(&qr, Some("+15550001111")).unwrap();
    assert_eq!(phone, "+15550001111");
    let id = bot
        .wait("PairSuccess", |e| match e {
            Event::PairSuccess(p) => Some(p.id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(id.user, "15550001111");
    bot.connected().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "pairing took {:?}: the app-state key share should spare the client's 10 s wait",
        started.elapsed()
    );
    assert_eq!(bot.client.pn().map(|j| j.user.to_string()).as_deref(), Some("15550001111"));
    sim.wait_for(STEP, |c| c.prekey_uploads >= 1).await.unwrap();
    let conns = sim.connections();
    assert!(
        conns.iter().any(|c| c.phone.as_deref() == Some("+15550001111") && c.state == "active"),
        "{conns:?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_qr_makes_the_client_report_hmac_mismatch() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().unwrap();
    let mut bot = TestBot::start(&sim, &dir.path().join("wa.db")).await;
    let qr = bot.qr().await;
    // Swap the adv secret (4th field) for another 32-byte value.
    let mut parts: Vec<String> = qr.split(',').map(str::to_string).collect();
    parts[3] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string();
    sim.scan(&parts.join(","), Some("+15550002222")).unwrap();
    let err = bot
        .wait("PairError", |e| match e {
            Event::PairError(p) => Some(p.error.clone()),
            Event::PairSuccess(_) => panic!("a tampered QR must not pair"),
            _ => None,
        })
        .await;
    assert!(err.contains("hmac-mismatch"), "{err}");
    assert_eq!(sim.counters().paired, 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_an_unknown_qr_fails() {
    let sim = Sim::new();
    let err = sim
        .scan("2@nope,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,1", None)
        .unwrap_err();
    assert!(err.to_string().contains("no connection"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_store_logs_in_without_a_qr() {
    let sim = Sim::new();
    let dir = tempfile::tempdir().unwrap();
    let bot = paired(&sim, dir.path(), "+15550003333").await;
    bot.stop().await;
    let logins = sim.counters().logins;

    let mut bot = TestBot::start(&sim, &dir.path().join("wa.db")).await;
    assert!(bot.client.pn().is_some(), "the store remembers the pairing");
    let started = Instant::now();
    bot.connected().await;
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(!bot.seen.iter().any(|e| matches!(&**e, Event::PairingQrCode(_))), "no QR on a paired store");
    assert_eq!(sim.counters().logins, logins + 1);
    bot.stop().await;
}
