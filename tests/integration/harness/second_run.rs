//! The end-to-end suite's second run, on PostgreSQL: this test binary run
//! again as a child with `AGENTLOCATOR_TEST_STORE=postgres`, on the server in
//! `AGENTLOCATOR_TEST_DATABASE_URL` or, when that is unset, on a throwaway
//! server of its own (`scripts/pg-throwaway`).

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::store::{self, PREFIX_ENV, SERVER_ENV, STORE_ENV};

/// Tests the child leaves out: this one (it would recurse), and the modules
/// that do not run the daemon (nothing there depends on the store).
const NOT_END_TO_END: &[&str] = &["the_whole_suite_runs_on_postgres", "architecture::", "routes::"];

/// An optional filter for the child: only the tests whose name contains it
/// run on PostgreSQL (e.g. `delivery::`), to try the second run on a few.
const FILTER_ENV: &str = "AGENTLOCATOR_TEST_POSTGRES_FILTER";

/// Generous: the whole suite takes a few minutes; a hung child must not hang CI.
const CHILD_LIMIT: Duration = Duration::from_secs(20 * 60);

/// A throwaway server started for this run, stopped when dropped.
struct Throwaway {
    dir: tempfile::TempDir,
    url: String,
}

impl Throwaway {
    fn start() -> Throwaway {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = Command::new(script())
            .arg(dir.path())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/pg-throwaway");
        assert!(
            output.status.success(),
            "scripts/pg-throwaway could not start PostgreSQL (see above); set {SERVER_ENV} to a server \
             of yours, or {STORE_ENV}=sqlite to run on SQLite only"
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Throwaway { dir, url }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("--stop").arg(self.dir.path()).output();
    }
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-throwaway")
}

/// Runs the suite again on PostgreSQL and fails with the child's failures.
pub fn run() {
    if store::on_postgres() {
        return; // this is the child (or a run on PostgreSQL only)
    }
    if std::env::var(STORE_ENV).is_ok() {
        println!("{STORE_ENV}=sqlite: the suite runs on SQLite only, not again on PostgreSQL");
        return;
    }
    // Declared before the server's URL is used, so it outlives the child.
    let (throwaway, server) = match std::env::var(SERVER_ENV) {
        Ok(url) => (None, url),
        Err(_) => {
            let started = Throwaway::start();
            let url = started.url.clone();
            (Some(started), url)
        }
    };
    // Databases of this run only (the usual prefix and a run id), so it can
    // drop exactly them afterwards.
    let run_id = super::sha256_hex(format!("{:?}", std::time::SystemTime::now()).as_bytes());
    let prefix = format!("{}{}_", store::prefix(), &run_id[..8]);
    let output = run_child(&server, &prefix);
    drop_databases_of(&server, &prefix);
    drop(throwaway);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the suite failed on PostgreSQL ({}):\n{}\n{}",
        output.status,
        failures(&stdout),
        super::tail(&String::from_utf8_lossy(&output.stderr))
    );
    println!("{}", summary(&stdout));
}

/// Runs this test binary on PostgreSQL; its output, once it exits (killed
/// after `CHILD_LIMIT`).
fn run_child(server: &str, prefix: &str) -> Output {
    let exe = std::env::current_exe().expect("this test binary");
    let mut cmd = Command::new(exe);
    if let Ok(filter) = std::env::var(FILTER_ENV) {
        cmd.arg(filter);
    }
    for skipped in NOT_END_TO_END {
        cmd.args(["--skip", skipped]);
    }
    if let Some(threads) = test_threads() {
        cmd.arg(format!("--test-threads={threads}"));
    }
    cmd.env(STORE_ENV, "postgres").env(SERVER_ENV, server).env(PREFIX_ENV, prefix);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the suite on PostgreSQL");
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let finished = super::wait_child(&mut child, CHILD_LIMIT);
    let status = finished.unwrap_or_else(|| kill_with_children(&mut child));
    let collect = |reader: std::thread::JoinHandle<Vec<u8>>| reader.join().unwrap_or_default();
    let output = Output { status, stdout: collect(stdout), stderr: collect(stderr) };
    assert!(
        finished.is_some(),
        "the suite on PostgreSQL did not finish within {CHILD_LIMIT:?} and was killed; its output so far:\n{}",
        super::tail(&String::from_utf8_lossy(&output.stdout))
    );
    output
}

/// Reads a child's pipe to its end on a thread of its own (a full pipe would
/// otherwise stop the child).
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// SIGKILLs the child and, first, the daemons and CLI calls it started (its
/// own children: once it is gone they could no longer be told apart); its
/// exit status. (Not a process group of its own: Ctrl-C must reach it too.)
fn kill_with_children(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("pkill").args(["-KILL", "-P", &child.id().to_string()]).status();
    let _ = child.kill();
    child.wait().expect("wait for the killed child")
}

/// The parent's `--test-threads` (argument or RUST_TEST_THREADS), when it set one.
fn test_threads() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args.iter().enumerate().find_map(|(i, arg)| match arg.strip_prefix("--test-threads") {
        Some("") => args.get(i + 1).cloned(),
        Some(rest) => rest.strip_prefix('=').map(str::to_string),
        None => None,
    });
    from_args.or_else(|| std::env::var("RUST_TEST_THREADS").ok())
}

/// The failures section of libtest's output and its summary line: from the
/// first line that is exactly `failures:` to the end.
fn failures(stdout: &str) -> String {
    match stdout.find("\nfailures:\n") {
        Some(start) => stdout[start + 1..].trim_end().to_string(),
        None => super::tail(stdout),
    }
}

/// libtest's `test result: ...` line.
fn summary(stdout: &str) -> String {
    stdout.lines().rev().find(|line| line.starts_with("test result:")).unwrap_or_default().to_string()
}

/// Drops every database named with `prefix` on `server`.
fn drop_databases_of(server: &str, prefix: &str) {
    let mut client = store::connect_server(server);
    let names: Vec<String> = match client.query("SELECT datname FROM pg_database", &[]) {
        Ok(rows) => {
            rows.iter().map(|row| row.get::<_, String>(0)).filter(|n| n.starts_with(prefix)).collect()
        }
        Err(e) => {
            eprintln!("note: could not list the test databases: {e}");
            return;
        }
    };
    drop(client);
    store::drop_databases(server, &names);
}
