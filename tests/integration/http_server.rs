//! The HTTP server's connection limits against the built binary: slow and
//! idle clients are closed by their clocks, and an idle-connection flood
//! under a low open-files limit leaves health and webhooks answering.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{http, raw_get, twilio_signature, Daemon, DaemonOptions};

const AUTH_TOKEN: &str = "flood-test-auth-token-0123456789";
const NUMBER: &str = "+15550002222";

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    stream
}

/// Reads until the server closes the connection; panics if it has not within
/// the stream's read timeout. Returns whatever bytes came first.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return received,
            Err(e) => panic!(
                "the server kept the connection open ({e}); got {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

/// Reads one response (head and `content-length` body) off a kept-alive
/// connection; returns its status and body.
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .expect("content-length");
            if body.len() >= length {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
                return (status, body[..length].to_string());
            }
        }
        let n = stream.read(&mut buffer).expect("response");
        assert!(n > 0, "closed before a whole response: {text:?}");
        received.extend_from_slice(&buffer[..n]);
    }
}

#[test]
fn a_slowloris_request_is_closed_after_the_header_timeout_while_others_are_served() {
    let daemon = Daemon::start_with(DaemonOptions {
        config_toml: Some("[http]\nheader_read_timeout = \"1s\"\nidle_timeout = \"30s\"\n".into()),
        ..Default::default()
    });
    // Opened first and silent: waiting for a request is idle time, not
    // header time, so this one outlives the header timeout.
    let mut quiet = connect(daemon.addr);

    let mut slow = connect(daemon.addr);
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n").expect("half a request");
    // Trickles a byte every 200 ms, never finishing the headers.
    let mut trickle = slow.try_clone().expect("clone");
    let trickler = std::thread::spawn(move || {
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if trickle.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    // Others are served meanwhile.
    assert_eq!(raw_get(daemon.addr, "/healthz", &[]), (200, "ok".to_string()));

    let answer = read_until_closed(&mut slow);
    let held = started.elapsed();
    assert!(held >= Duration::from_millis(900), "closed before the header timeout: {held:?}");
    assert!(!String::from_utf8_lossy(&answer).contains(" 200 "), "never answered as a request");
    trickler.join().expect("trickler");

    // A fixed wait: the quiet connection must outlive the header timeout
    // by a margin for its answer below to show anything.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed()));
    quiet.write_all(b"GET /healthz HTTP/1.1\r\nHost: quiet\r\n\r\n").expect("the quiet connection is open");
    assert_eq!(read_response(&mut quiet), (200, "ok".to_string()));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_but_a_slow_request_is_not() {
    let daemon = Daemon::start_with(DaemonOptions {
        config_toml: Some(
            "[http]\nheader_read_timeout = \"30s\"\nidle_timeout = \"1s\"\n[health]\ncheck_timeout_ms = 1500\n".into(),
        ),
        ..Default::default()
    });
    // A request in flight longer than the idle timeout (readiness waiting
    // for a held write lock) is answered, not cut off.
    let blocker = crate::harness::store::WriteLock::take(&daemon.data_dir);
    let mut conn = connect(daemon.addr);
    conn.write_all(b"GET /readyz HTTP/1.1\r\nHost: idle\r\n\r\n").expect("request");
    let (status, _) = read_response(&mut conn);
    assert_eq!(status, 503);
    blocker.release();

    // Then, kept alive with nothing in flight, it is closed.
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n").expect("second request");
    assert_eq!(read_response(&mut conn), (200, "ok".to_string()));
    let idle_from = Instant::now();
    assert!(read_until_closed(&mut conn).is_empty(), "nothing more is sent");
    let idled = idle_from.elapsed();
    assert!(idled >= Duration::from_millis(900), "closed before the idle timeout: {idled:?}");
}

/// CPU time (user + system, in clock ticks) the process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which is in parentheses): utime is the
    // 12th and stime the 13th of them.
    let after_name = stat.rsplit_once(')').expect("comm").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn an_idle_connection_flood_under_a_low_open_files_limit_leaves_health_and_webhooks_answering() {
    let daemon = Daemon::start_with_open_files(
        DaemonOptions { env: vec![("TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into())], ..Default::default() },
        200,
    );
    daemon.add_tenant_with(
        "flooded",
        &["--webhook-url", "http://127.0.0.1:9/hooks", "--twilio-number", NUMBER],
    );

    // More idle connections than the daemon has descriptors.
    let flood: Vec<TcpStream> = (0..220).map(|_| TcpStream::connect(daemon.addr).expect("connect")).collect();

    assert_eq!(raw_get(daemon.addr, "/healthz", &[]), (200, "ok".to_string()));
    let url = daemon.url("/webhook/sms");
    let params = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("To", NUMBER),
        ("From", "+15557654321"),
        ("Body", "hi"),
    ];
    let response = http()
        .post(&url)
        .header("X-Twilio-Signature", twilio_signature(AUTH_TOKEN, &url, &params))
        .form(&params)
        .send()
        .expect("the webhook is answered");
    assert_eq!(response.status().as_u16(), 200, "{}", response.text().unwrap_or_default());

    // Still up, and not spinning on accept while the flood is held open.
    // A fixed window: the CPU used while nothing happens is what is measured.
    let before = cpu_ticks(daemon.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(daemon.pid()) - before;
    assert!(used < 100, "the daemon used {used} ticks of CPU in 2 s with only idle connections");
    assert_eq!(raw_get(daemon.addr, "/healthz", &[]), (200, "ok".to_string()));
    assert!(daemon.log().contains("http.max_connections lowered"), "the cap follows the descriptor limit");
    drop(flood);
}
