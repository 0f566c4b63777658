//! The one harness of the integration tests: runs the built binary (a daemon
//! on 127.0.0.1:0 in a temporary data directory, and the CLI against it),
//! waits for conditions, signs Twilio requests, and serves the things a daemon
//! talks to (backend receivers, a Twilio API, the simulated WhatsApp network).

pub mod in_process;
pub mod official;
pub mod receiver;
pub mod second_run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod stored;
pub mod twilio_api;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Variables of the host environment that would change the daemon's config.
const ISOLATED_ENV: &[&str] = &[
    "AGENTLOCATOR_CONFIG",
    "AGENTLOCATOR_DATA_DIR",
    "AGENTLOCATOR_LISTEN",
    "AGENTLOCATOR_LOG_FORMAT",
    "PUBLIC_BASE_URL",
    "FLASK_BASE_URL",
    "INTERNAL_SECRET",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_API_BASE_URL",
    "WHATSAPP_WS_URL",
    "RUST_LOG",
    "NOTIFY_SOCKET",
    "DATABASE_URL",
    "AGENTLOCATOR_STORE__URL",
];

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_agentlocator")
}

/// A command for the binary with a clean environment, run in `cwd` (so the
/// repository's config/agentlocator.toml is not picked up by accident), on
/// the store of the binary's default data dir there (`cwd/data`, which is
/// where the tests keep it): see [`command_for`].
pub fn command(cwd: &Path) -> Command {
    command_for(cwd, &cwd.join("data"))
}

/// As [`command`], on the store of `data_dir` (in postgres mode, its database;
/// the caller still passes `--data-dir` when it is not the default).
pub fn command_for(cwd: &Path, data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd);
    for var in ISOLATED_ENV {
        cmd.env_remove(var);
    }
    store::point_at(&mut cmd, data_dir);
    cmd
}

/// Runs the CLI with `--data-dir DATA` and returns its output.
pub fn cli(cwd: &Path, data_dir: &Path, args: &[&str]) -> Output {
    command_for(cwd, data_dir).arg("--data-dir").arg(data_dir).args(args).output().expect("run agentlocator")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one JSON document a successful command printed (panics otherwise).
pub fn json_out(output: &Output) -> Value {
    assert!(output.status.success(), "failed: {}{}", stdout(output), stderr(output));
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", stdout(output)))
}

#[derive(Default)]
pub struct DaemonOptions {
    /// Extra environment for `serve`.
    pub env: Vec<(String, String)>,
    /// Written to `<dir>/agentlocator.toml` and passed with --config.
    pub config_toml: Option<String>,
    /// Reuse this data dir (e.g. after a restart) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
}

/// What `tenant add --json` showed once: the tenant's API token and its
/// webhook signing secret.
pub struct Added {
    pub token: String,
    pub signing_secret: String,
}

/// A running `agentlocator serve`, stopped (SIGKILL) when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    log: Arc<(Mutex<String>, Condvar)>,
    _tmp: Option<tempfile::TempDir>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_with(DaemonOptions::default())
    }

    pub fn start_with(options: DaemonOptions) -> Daemon {
        Daemon::spawn(options, |_| {})
    }

    /// As `start_with`, the daemon limited to `limit` open files (soft and
    /// hard, so it cannot raise it).
    pub fn start_with_open_files(options: DaemonOptions, limit: u64) -> Daemon {
        Daemon::spawn(options, |cmd| limit_open_files(cmd, limit))
    }

    fn spawn(options: DaemonOptions, customize: impl FnOnce(&mut Command)) -> Daemon {
        let (tmp, dir) = match &options.data_dir {
            Some(data) => (None, data.parent().expect("data dir has a parent").to_path_buf()),
            None => {
                let tmp = tempfile::tempdir().expect("tempdir");
                let dir = tmp.path().to_path_buf();
                (Some(tmp), dir)
            }
        };
        let data_dir = options.data_dir.clone().unwrap_or_else(|| dir.join("data"));
        let mut cmd = command_for(&dir, &data_dir);
        cmd.arg("--data-dir").arg(&data_dir).arg("--log-format").arg("json");
        if let Some(toml) = &options.config_toml {
            let path = dir.join("agentlocator.toml");
            std::fs::write(&path, toml).expect("write config");
            cmd.arg("--config").arg(path);
        }
        cmd.arg("serve").env("AGENTLOCATOR_LISTEN", "127.0.0.1:0").env("RUST_LOG", "info");
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        customize(&mut cmd);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn serve");
        let log = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (text, changed) = &*sink;
                let mut text = text.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        let mut daemon = Daemon {
            child: Some(child),
            addr: "0.0.0.0:0".parse().expect("addr"),
            dir,
            data_dir,
            log,
            _tmp: tmp,
        };
        daemon.addr = daemon.wait_for_listen_addr(Duration::from_secs(30));
        daemon
    }

    fn wait_for_listen_addr(&mut self, limit: Duration) -> SocketAddr {
        let deadline = Instant::now() + limit;
        let (text, changed) = &*self.log;
        let mut guard = text.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            for line in guard.lines() {
                let Ok(json) = serde_json::from_str::<Value>(line) else { continue };
                if json["message"] == "listening" {
                    if let Some(addr) = json["addr"].as_str() {
                        return addr.parse().expect("listen addr");
                    }
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("serve exited with {status} before listening; log:\n{guard}");
            }
            let now = Instant::now();
            assert!(now < deadline, "serve did not report its address in time; log:\n{guard}");
            guard = changed.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The CLI against this daemon's data dir (so through its admin socket).
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.dir, &self.data_dir, args)
    }

    /// The CLI with `args` (which end in `--json`): its one JSON document.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        json_out(&self.cli(args))
    }

    /// `tenant add ID ARGS... --json` through the daemon.
    pub fn add_tenant_with(&self, id: &str, args: &[&str]) -> Added {
        let mut full = vec!["tenant", "add", id];
        full.extend_from_slice(args);
        full.push("--json");
        let added = self.cli_json(&full);
        let field =
            |name: &str| added[name].as_str().unwrap_or_else(|| panic!("{name}: {added}")).to_string();
        Added { token: field("token"), signing_secret: field("signing_secret") }
    }

    /// The daemon's database, opened by this (another) process, on either store.
    pub fn db(&self) -> store::Db {
        store::Db::open(&self.data_dir)
    }

    /// The number the query `sql` returns (e.g. a COUNT), on either store.
    pub fn db_i64(&self, sql: &str) -> i64 {
        self.db().i64(sql)
    }

    /// Every row of the query `sql`, values as text, on either store.
    pub fn db_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.db().rows(sql)
    }

    pub fn log(&self) -> String {
        self.log.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The log's last lines, for assertion messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    // Tests send signals to their own children; std has no kill(2) with a signal.
    #[allow(unsafe_code)]
    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process.
        let rc = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait(limit)
    }

    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        match wait_child(&mut child, limit) {
            Some(status) => status,
            None => {
                self.child = Some(child);
                panic!("daemon did not exit within {limit:?}; log:\n{}", self.log())
            }
        }
    }

    /// SIGKILL, as a crash would: no graceful anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        // A data dir this daemon made goes away with it: so does its database.
        if self._tmp.is_some() {
            store::drop_database(&self.data_dir);
        }
    }
}

/// Waits (bounded) for `child` to exit; `None` when it is still running.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    eventually(limit, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status
}

/// Adds a tenant delivering to `webhook_url` (pull-only without one); returns its API token.
pub fn add_tenant(daemon: &Daemon, id: &str, webhook_url: Option<&str>) -> String {
    add_tenant_with_secret(daemon, id, webhook_url).0
}

/// Adds a tenant; returns its API token and its webhook signing secret.
pub fn add_tenant_with_secret(daemon: &Daemon, id: &str, webhook_url: Option<&str>) -> (String, String) {
    let args = match webhook_url {
        Some(url) => vec!["--webhook-url", url],
        None => Vec::new(),
    };
    let added = daemon.add_tenant_with(id, &args);
    (added.token, added.signing_secret)
}

/// The last lines of a log, for assertion messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Makes `cmd`'s process start with at most `limit` open files.
// `pre_exec` is unsafe by its signature: no safe std or crate call sets a
// child's limit between fork and exec.
#[allow(unsafe_code)]
fn limit_open_files(cmd: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let rlimit = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
    // SAFETY: runs in the forked child before exec; setrlimit is
    // async-signal-safe and the closure touches nothing shared.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// Twilio's request signature, written out here (not the daemon's code): the
/// URL, then each parameter's name and value in sorted order, HMAC-SHA1 with
/// the auth token, base64.
pub fn twilio_signature<K: AsRef<str>, V: AsRef<str>>(token: &str, url: &str, params: &[(K, V)]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut sorted: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    sorted.sort();
    let mut text = url.to_string();
    for (name, value) in sorted {
        text.push_str(name);
        text.push_str(value);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `params` as an `application/x-www-form-urlencoded` body, in their order.
pub fn form_body<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        body.append_pair(name.as_ref(), value.as_ref());
    }
    body.finish()
}

/// A blocking HTTP client with a short timeout, for tests.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(15)).build().expect("client")
}

/// The one way the tests wait for something: polls `check` every 50 ms until
/// it returns true or `limit` passes; returns whether it did.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Sends one raw request line to the daemon's admin socket and returns the reply.
pub fn admin_request(data_dir: &Path, request: Value) -> Value {
    use std::io::Write;
    let mut stream = std::os::unix::net::UnixStream::connect(data_dir.join("agentlocator.sock"))
        .expect("connect admin socket");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    writeln!(stream, "{request}").expect("write");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("read");
    serde_json::from_str(&line).expect("reply is JSON")
}

/// File mode bits (e.g. 0o600) of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A GET sent byte for byte (no client-side URL normalisation, so paths like
/// `/%2e%2e/` reach the server as written). Returns status and body.
pub fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A request head read off a raw socket, byte by byte (at most 16 KiB), by
/// the stand-in servers that answer what axum would not.
pub struct RequestHead {
    pub path: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn read(stream: &mut std::net::TcpStream) -> Option<RequestHead> {
        use std::io::Read;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 || stream.read(&mut byte).ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8(head).ok()?;
        let mut lines = text.lines();
        let path = lines.next()?.split(' ').nth(1)?.to_string();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        Some(RequestHead { path, headers })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}
