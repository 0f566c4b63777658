//! Several `serve` nodes on one PostgreSQL, all against one `wasim serve`:
//! tenants spread over the nodes by lease, a node SIGKILLed and its tenants
//! reconnected on the survivors within the lease TTL plus 10 s, nothing
//! acknowledged lost, never two live clients for one device, and a node
//! restarted taking its share back with each moved tenant reconnecting once.
//!
//! On a database of their own on the test server
//! (`AGENTLOCATOR_TEST_DATABASE_URL`), so these run in the SQLite parent run.

#![cfg(feature = "sim")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::db::TargetDb;
use crate::harness::receiver::Receiver;
use crate::harness::sim::{daemon_on, pair, qr_code, Wasim, SECRET};
use crate::harness::store::connect_server;
use crate::harness::{command_for, eventually, form_body, http, twilio_signature, wait_child, Daemon};

const TTL_S: u64 = 3;
const AUTH_TOKEN: &str = "cluster-test-auth-token-0123456789";
const TENANTS: usize = 30;

/// One node of the test cluster.
fn node(wasim: &Wasim, db: &TargetDb, id: &str) -> Daemon {
    let ttl = format!("{TTL_S}s");
    daemon_on(
        wasim,
        None,
        &[
            ("DATABASE_URL", &db.url),
            ("AGENTLOCATOR_CLUSTER__NODE_ID", id),
            ("AGENTLOCATOR_CLUSTER__LEASE_TTL", &ttl),
            ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ],
    )
}

/// Live leases: tenant -> node.
fn owners(db: &TargetDb) -> BTreeMap<String, String> {
    let mut client = connect_server(&db.url);
    let rows = client
        .query("SELECT tenant_id, owner FROM tenant_leases WHERE expires_at > now()", &[])
        .expect("leases");
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Tenants per node, from the live leases.
fn spread(db: &TargetDb) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for node in owners(db).values() {
        *counts.entry(node.clone()).or_insert(0) += 1;
    }
    counts
}

/// Tenants recorded `connected`.
fn connected(db: &TargetDb) -> BTreeSet<String> {
    let mut client = connect_server(&db.url);
    let rows = client.query("SELECT id FROM tenants WHERE wa_state = 'connected'", &[]).expect("states");
    rows.iter().map(|r| r.get(0)).collect()
}

fn tenant(n: usize) -> String {
    format!("t{n:02}")
}

fn phone(n: usize) -> String {
    format!("+1555100{n:04}")
}

/// wasim's counters (`replaced_logins`: a newer login replaced a live one).
fn counters(wasim: &Wasim) -> Value {
    wasim.get("/admin/counters")
}

/// A signed Twilio SMS webhook for `tenant`, posted to `daemon`; its status.
fn post_sms(daemon: &Daemon, tenant: &str, sid: &str) -> u16 {
    let url = daemon.url(&format!("/webhook/{tenant}/sms"));
    let params = [("MessageSid", sid), ("From", "+15550000001"), ("Body", "during the failover")];
    let signature = twilio_signature(AUTH_TOKEN, &url, &params);
    http()
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&params))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// What the backends got: (tenant, text or MessageSid) per distinct event id.
fn delivered(receiver: &Receiver) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    for r in receiver.received() {
        if !seen.insert(r.event_id.clone()) {
            continue;
        }
        let event = r.json();
        let tenant = event["tenant"].as_str().unwrap_or_default().to_string();
        let what = match event["type"].as_str() {
            Some("whatsapp.message") => event["data"]["text"].as_str().unwrap_or_default().to_string(),
            Some("twilio.sms") => event["data"]["MessageSid"].as_str().unwrap_or_default().to_string(),
            _ => continue,
        };
        out.insert((tenant, what));
    }
    out
}

/// Whether each tenant's events were first delivered in the order they
/// were stored (their `seq`), redeliveries of an event (by id) aside; else
/// the first event that overtook an earlier one.
fn in_seq_order(db: &TargetDb, receiver: &Receiver) -> Result<(), String> {
    let mut client = connect_server(&db.url);
    let rows = client.query("SELECT id, tenant_id, seq FROM events", &[]).expect("events");
    let stored: BTreeMap<String, (String, i64)> =
        rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    let mut seen = BTreeSet::new();
    let mut last: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for r in receiver.received() {
        if !seen.insert(r.event_id.clone()) {
            continue;
        }
        let (tenant, seq) =
            stored.get(&r.event_id).ok_or_else(|| format!("{} was never stored", r.event_id))?;
        if let Some((before, id)) = last.get(tenant.as_str()).filter(|(before, _)| before > seq) {
            return Err(format!("{tenant}: {} (seq {seq}) came after {id} (seq {before})", r.event_id));
        }
        last.insert(tenant, (*seq, r.event_id.clone()));
    }
    Ok(())
}

#[test]
fn three_nodes_share_thirty_tenants_and_survive_a_sigkill() {
    let Some(db) = TargetDb::create("cluster") else { return };
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let mut nodes: BTreeMap<&str, Daemon> =
        ["n1", "n2", "n3"].into_iter().map(|id| (id, node(&wasim, &db, id))).collect();

    for n in 0..TENANTS {
        nodes["n1"].add_tenant_with(&tenant(n), &["--webhook-url", &receiver.url()]);
    }
    let even = |db: &TargetDb| spread(db).values().copied().collect::<Vec<_>>() == [10, 10, 10];
    assert!(eventually(Duration::from_secs(30), || even(&db)), "not spread evenly: {:?}", spread(&db));

    // Each tenant paired through any node: the QR code call is forwarded to
    // the node that runs the tenant.
    let owner_of = owners(&db);
    let ids = ["n1", "n2", "n3"];
    for n in 0..TENANTS {
        pair(&nodes[ids[n % 3]], &wasim, &tenant(n), &phone(n));
    }
    assert_eq!(connected(&db).len(), TENANTS);
    let logins_before = counters(&wasim)["logins"].as_u64().expect("logins");

    // Contacts write twice to each of n2's tenants, then n2 dies with some
    // of it perhaps stored and not yet delivered. Meanwhile contacts write
    // to every tenant (twice more to n2's), and Twilio posts an SMS for each
    // of n2's tenants to a survivor.
    let victims: Vec<usize> =
        (0..TENANTS).filter(|n| owner_of.get(&tenant(*n)).is_some_and(|o| o == "n2")).collect();
    let mut expected = BTreeSet::new();
    let mut write = |n: usize, text: String| {
        wasim.send("+15557770001", &phone(n), &text);
        expected.insert((tenant(n), text));
    };
    for round in 1..=2 {
        for &n in &victims {
            write(n, format!("before the failover ({round}) to {}", tenant(n)));
        }
    }
    nodes.get_mut("n2").expect("n2").kill();
    let killed = Instant::now();
    for n in 0..TENANTS {
        write(n, format!("during the failover to {}", tenant(n)));
    }
    for &n in &victims {
        write(n, format!("during the failover (2) to {}", tenant(n)));
    }
    let victims: Vec<String> = victims.into_iter().map(tenant).collect();
    for (i, victim) in victims.iter().enumerate() {
        let sid = format!("SM{i:032x}");
        assert_eq!(post_sms(&nodes["n1"], victim, &sid), 200, "acknowledged by a survivor");
        expected.insert((victim.clone(), sid));
    }

    let limit = Duration::from_secs(TTL_S + 10);
    let taken_over = || {
        let owners = owners(&db);
        victims.iter().all(|t| owners.get(t).is_some_and(|n| n != "n2")) && connected(&db).len() == TENANTS
    };
    assert!(
        eventually(limit, taken_over),
        "n2's tenants not connected elsewhere within {limit:?}: owners {:?}, connected {}; n1 log:\n{}",
        owners(&db),
        connected(&db).len(),
        nodes["n1"].log_tail()
    );
    eprintln!("failover: n2's {} tenants connected elsewhere after {:?}", victims.len(), killed.elapsed());
    assert!(
        eventually(Duration::from_secs(30), || delivered(&receiver).is_superset(&expected)),
        "missing: {:?}",
        expected.difference(&delivered(&receiver)).collect::<Vec<_>>()
    );
    if let Err(out_of_order) = in_seq_order(&db, &receiver) {
        panic!("a tenant's events were first delivered out of order: {out_of_order}");
    }
    assert_eq!(counters(&wasim)["replaced_logins"], 0, "never two live clients for one device");
    let logins_failover = counters(&wasim)["logins"].as_u64().expect("logins");
    assert_eq!(logins_failover - logins_before, victims.len() as u64, "each moved tenant reconnected once");

    // n2 back (a new node under the same name): the others hand tenants over.
    let before_rebalance = owners(&db);
    nodes.insert("n2", node(&wasim, &db, "n2"));
    assert!(eventually(Duration::from_secs(60), || even(&db)), "never rebalanced: {:?}", spread(&db));
    assert!(
        eventually(Duration::from_secs(30), || connected(&db).len() == TENANTS),
        "connected: {}",
        connected(&db).len()
    );
    let after = owners(&db);
    let moved = after.iter().filter(|(t, n)| before_rebalance.get(*t) != Some(n)).count();
    assert_eq!(moved, 10, "n2 took exactly its share");
    let logins = counters(&wasim)["logins"].as_u64().expect("logins");
    assert_eq!(logins - logins_failover, moved as u64, "each moved tenant reconnected once");
    assert_eq!(counters(&wasim)["replaced_logins"], 0, "never two live clients for one device");
}

/// A TCP proxy in front of PostgreSQL that a test can cut: every connection
/// through it is closed and new ones are refused, as a network partition
/// between one node and the database would.
struct Cuttable {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Cuttable {
    fn to(target: &str) -> Cuttable {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (target, flag) = (target.to_string(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
                for (mut from, mut to) in [
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone")),
                    (server, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
                        let mut buf = [0u8; 16384];
                        loop {
                            if flag.load(Ordering::SeqCst) {
                                let _ = from.shutdown(std::net::Shutdown::Both);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                            match std::io::Read::read(&mut from, &mut buf) {
                                Ok(0) => return,
                                Ok(n) => {
                                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                                        return;
                                    }
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                                Err(_) => return,
                            }
                        }
                    });
                }
            }
        });
        Cuttable { port, cut }
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `host:port` of a database URL.
fn server_of(url: &str) -> String {
    let parsed = url::Url::parse(url).expect("database url");
    format!("{}:{}", parsed.host_str().expect("host"), parsed.port().unwrap_or(5432))
}

/// `url` through the proxy.
fn through(url: &str, proxy: &Cuttable) -> String {
    let mut proxied = url::Url::parse(url).expect("database url");
    proxied.set_port(Some(proxy.port)).expect("port");
    proxied.to_string()
}

#[test]
fn a_node_cut_off_from_postgresql_stops_its_clients_before_another_takes_them() {
    let Some(db) = TargetDb::create("cluster_cut") else { return };
    let proxy = Cuttable::to(&server_of(&db.url));
    let proxied_url = through(&db.url, &proxy);
    let wasim = Wasim::start();
    let receiver = Receiver::ok();
    let steady = node(&wasim, &db, "steady");
    let ttl = format!("{TTL_S}s");
    let cut_off = daemon_on(
        &wasim,
        None,
        &[
            ("DATABASE_URL", &proxied_url),
            ("AGENTLOCATOR_CLUSTER__NODE_ID", "cut"),
            ("AGENTLOCATOR_CLUSTER__LEASE_TTL", &ttl),
        ],
    );
    for n in 0..6 {
        steady.add_tenant_with(&tenant(n), &["--webhook-url", &receiver.url()]);
    }
    let even = || spread(&db).values().copied().collect::<Vec<_>>() == [3, 3];
    assert!(eventually(Duration::from_secs(30), even), "not spread: {:?}", spread(&db));
    for n in 0..6 {
        pair(&steady, &wasim, &tenant(n), &phone(n));
    }
    let on_cut: Vec<String> = owners(&db).into_iter().filter(|(_, n)| n == "cut").map(|(t, _)| t).collect();

    proxy.cut();
    let cut_at = Instant::now();
    let moved = || {
        let owners = owners(&db);
        on_cut.iter().all(|t| owners.get(t).is_some_and(|n| n == "steady")) && connected(&db).len() == 6
    };
    let limit = Duration::from_secs(TTL_S + 10);
    assert!(eventually(limit, moved), "not taken over: {:?}; log:\n{}", owners(&db), cut_off.log_tail());
    eprintln!("partition: {} tenants moved to the other node after {:?}", on_cut.len(), cut_at.elapsed());
    assert_eq!(counters(&wasim)["replaced_logins"], 0, "the cut-off node stopped its clients first");
    for n in 0..6 {
        let text = format!("after the partition to {}", tenant(n));
        wasim.send("+15557770002", &phone(n), &text);
    }
    let all =
        || delivered(&receiver).iter().filter(|(_, t)| t.starts_with("after the partition")).count() == 6;
    assert!(
        eventually(Duration::from_secs(30), all),
        "inbound after the partition: {:?}",
        delivered(&receiver)
    );
    // The cut-off node says it is not ready.
    let ready = http().get(cut_off.url("/readyz")).send().map(|r| r.status().as_u16()).unwrap_or(0);
    assert_eq!(ready, 503, "a node without its database is not ready");
}

/// `tenant pair` (with `extra` arguments) run against `daemon`, its
/// stdout read line by line.
struct PairRun {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl PairRun {
    fn start(daemon: &Daemon, tenant: &str, extra: &[&str]) -> PairRun {
        let mut child = command_for(&daemon.dir, &daemon.data_dir)
            .arg("--data-dir")
            .arg(&daemon.data_dir)
            .args(["tenant", "pair", tenant, "--timeout", "60"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tenant pair");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        PairRun { child, out }
    }

    /// Reads lines until one starts with `prefix`; the rest of that line.
    fn until(&mut self, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut self.out, &mut line).expect("read");
            assert!(n > 0, "tenant pair ended before `{prefix}`: {}", self.finish().1);
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return rest.to_string();
            }
        }
    }

    /// Waits for it to end: whether it succeeded, and its stdout and stderr.
    fn finish(&mut self) -> (bool, String) {
        let status = wait_child(&mut self.child, Duration::from_secs(30)).expect("tenant pair ended");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut text).expect("stdout");
        if let Some(mut err) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut text).expect("stderr");
        }
        (status.success(), text)
    }
}

#[test]
fn tenant_pair_on_a_node_that_does_not_run_the_tenant_pairs_it_through_its_node() {
    let Some(db) = TargetDb::create("cluster_pair") else { return };
    let wasim = Wasim::start();
    let mut nodes: BTreeMap<&str, Daemon> =
        ["a", "b"].into_iter().map(|id| (id, node(&wasim, &db, id))).collect();
    for n in 0..4 {
        nodes["a"].add_tenant_with(&tenant(n), &[]);
    }
    let even = || spread(&db).values().copied().collect::<Vec<_>>() == [2, 2];
    assert!(eventually(Duration::from_secs(30), even), "not spread: {:?}", spread(&db));
    let owner_of = owners(&db);
    let on = |node: &str| -> Vec<String> {
        owner_of.iter().filter(|(_, n)| *n == node).map(|(t, _)| t.clone()).collect()
    };
    // Every tenant is paired from node a; b's run there, a's through a's own socket.
    let (a_runs, b_runs) = (on("a"), on("b"));
    let logins_before = counters(&wasim)["logins"].as_u64().expect("logins");

    // By phone-number code: the code comes from b's worker, through a.
    let by_code = &b_runs[0];
    let phone_code = "+15552220001";
    let mut run = PairRun::start(&nodes["a"], by_code, &["--phone", phone_code]);
    let code = run.until("Pair code: ").replace('-', "");
    wasim.enter_pair_code(phone_code, &code);
    let (ok, text) = run.finish();
    assert!(ok && text.contains("Paired") && text.contains(phone_code), "{text}");

    // By QR: the CLI shows b's code; the phone scans the code b shows.
    let by_qr = &b_runs[1];
    let mut run = PairRun::start(&nodes["a"], by_qr, &[]);
    run.until("Scan with WhatsApp on the phone");
    let qr = qr_code(&nodes["b"], SECRET, by_qr);
    wasim.scan(qr["code"].as_str().expect("code"), &phone(1));
    let (ok, text) = run.finish();
    assert!(ok && text.contains("Paired") && text.contains(&phone(1)), "{text}");

    let now = connected(&db);
    assert!(now.contains(by_code) && now.contains(by_qr), "connected: {now:?}");
    assert_eq!(owners(&db).get(by_code).map(String::as_str), Some("b"), "paired where it runs");
    let logins = counters(&wasim)["logins"].as_u64().expect("logins");
    assert_eq!(logins - logins_before, 2, "one login per pairing");
    assert_eq!(counters(&wasim)["replaced_logins"], 0);

    // The owner dies mid-pairing: a clear error, not a hang.
    let mut run = PairRun::start(&nodes["b"], &a_runs[0], &[]);
    run.until("Scan with WhatsApp on the phone");
    nodes.get_mut("a").expect("a").kill();
    let (ok, text) = run.finish();
    assert!(!ok, "{text}");
    assert!(
        text.contains("lost node a during the pairing") || text.contains("during pairing"),
        "names the lost node: {text}"
    );
}
