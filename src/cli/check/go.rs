//! `agentlocator check go`: the four GO checks (README, "Health"), in order,
//! against a running deployment; text, JSON and JUnit reports.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use crate::error::AppError;

/// Why `check go` did not end in GO; each maps to an exit code (the `From`
/// at the end of this file).
#[derive(Debug, thiserror::Error)]
pub enum GoError {
    #[error("--url {base}: not a URL ({source})")]
    BadUrl { base: String, source: url::ParseError },
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("cannot encode the report: {0}")]
    Report(serde_json::Error),
    #[error("cannot render JUnit XML: {0}")]
    Junit(quick_junit::SerializeError),
    #[error("cannot write JUnit report {}: {source}", path.display())]
    WriteJunit { path: PathBuf, source: std::io::Error },
    #[error(
        "cannot reach agentlocator at {base}: {reason}; is `agentlocator serve` running there (or pass --url)?"
    )]
    Unreachable { base: String, reason: String },
    #[error("NO-GO: {passed}/{total} checks passed")]
    NoGo { passed: usize, total: usize },
}

/// Why one check failed: its `reason` in the report.
#[derive(Debug, thiserror::Error)]
enum CheckFailure {
    #[error("HTTP {status}: {}", one_line(.body))]
    Status { status: u16, body: String },
    #[error("not JSON ({0})")]
    NotJson(serde_json::Error),
    #[error("status is not \"ok\": {}", one_line(.0))]
    NotOk(String),
    #[error("no numeric `build` field")]
    NoBuild,
}

/// A request that got no answer: why, and whether nothing answered at all
/// (a connection-level failure).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
struct RequestFailed {
    reason: String,
    unreachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

pub struct GoOptions {
    pub base_url: String,
    pub timeout: Duration,
    pub format: ReportFormat,
    pub junit: Option<PathBuf>,
}

/// One GO check: a route and what its answer must be.
struct GoCheck {
    name: &'static str,
    path: &'static str,
    verify: fn(u16, &str) -> Result<String, CheckFailure>,
}

const CHECKS: [GoCheck; 4] = [
    GoCheck { name: "healthz", path: "/healthz", verify: expect_ok_text },
    GoCheck { name: "version", path: "/version", verify: expect_version },
    GoCheck { name: "whatsapp", path: "/healthz/whatsapp", verify: expect_ok_text },
    GoCheck { name: "readyz", path: "/readyz", verify: expect_ready },
];

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub path: &'static str,
    pub passed: bool,
    pub duration_ms: u64,
    pub reason: String,
    /// Failed because nothing answered at all (connection-level failure).
    #[serde(skip)]
    pub unreachable: bool,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    go: bool,
    passed: usize,
    total: usize,
    url: &'a str,
    checks: &'a [CheckResult],
}

pub async fn run(options: GoOptions) -> Result<(), GoError> {
    let base = options.base_url.trim_end_matches('/').to_string();
    if let Err(source) = url::Url::parse(&base) {
        return Err(GoError::BadUrl { base, source });
    }
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("agentlocator-check-go/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(GoError::Client)?;
    let results = run_checks(&client, &base).await;
    report(&options, &base, &results)?;
    verdict(base, &results)
}

/// Every check in order, with a progress line while they run.
async fn run_checks(client: &reqwest::Client, base: &str) -> Vec<CheckResult> {
    let progress = ProgressBar::new(CHECKS.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] checking {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    let mut results = Vec::with_capacity(CHECKS.len());
    for check in &CHECKS {
        progress.set_message(check.path);
        results.push(run_check(client, base, check).await);
        progress.inc(1);
    }
    progress.finish_and_clear();
    results
}

/// The report on stdout (text or JSON) and, when asked, the JUnit file.
fn report(options: &GoOptions, base: &str, results: &[CheckResult]) -> Result<(), GoError> {
    let passed = results.iter().filter(|r| r.passed).count();
    match options.format {
        ReportFormat::Text => print_text(results, passed),
        ReportFormat::Json => {
            let go = passed == CHECKS.len();
            let report = Report { go, passed, total: CHECKS.len(), url: base, checks: results };
            let text = serde_json::to_string_pretty(&report).map_err(GoError::Report)?;
            println!("{text}");
        }
    }
    if let Some(path) = &options.junit {
        write_junit(path, base, results)?;
    }
    Ok(())
}

/// GO when every check passed; unreachable when nothing answered at all.
fn verdict(base: String, results: &[CheckResult]) -> Result<(), GoError> {
    if results.iter().all(|r| r.unreachable) {
        let reason = results.first().map(|r| r.reason.clone()).unwrap_or_default();
        return Err(GoError::Unreachable { base, reason });
    }
    let passed = results.iter().filter(|r| r.passed).count();
    if passed == CHECKS.len() {
        Ok(())
    } else {
        Err(GoError::NoGo { passed, total: CHECKS.len() })
    }
}

async fn run_check(client: &reqwest::Client, base: &str, check: &GoCheck) -> CheckResult {
    let started = Instant::now();
    let outcome = fetch(client, &format!("{base}{}", check.path)).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let (passed, reason, unreachable) = match outcome {
        Ok((status, body)) => match (check.verify)(status, &body) {
            Ok(reason) => (true, reason, false),
            Err(failure) => (false, failure.to_string(), false),
        },
        Err(RequestFailed { reason, unreachable }) => (false, reason, unreachable),
    };
    CheckResult { name: check.name, path: check.path, passed, duration_ms, reason, unreachable }
}

/// The status and body, or why there is none.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<(u16, String), RequestFailed> {
    let response = client.get(url).send().await.map_err(describe_request_error)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(describe_request_error)?;
    Ok((status, body))
}

fn describe_request_error(e: reqwest::Error) -> RequestFailed {
    let reason = crate::outbound_error::describe(&e);
    if e.is_timeout() {
        let reason = format!("{reason} (raise --timeout if the server is just slow)");
        return RequestFailed { reason, unreachable: e.is_connect() };
    }
    RequestFailed { reason, unreachable: e.is_connect() }
}

fn one_line(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 160 {
        format!("{}...", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

fn http_status(status: u16, body: &str) -> CheckFailure {
    CheckFailure::Status { status, body: body.to_string() }
}

fn expect_ok_text(status: u16, body: &str) -> Result<String, CheckFailure> {
    if status == 200 && body.trim() == "ok" {
        Ok("ok".into())
    } else {
        Err(http_status(status, body))
    }
}

fn expect_version(status: u16, body: &str) -> Result<String, CheckFailure> {
    if status != 200 {
        return Err(http_status(status, body));
    }
    let json: Value = serde_json::from_str(body).map_err(CheckFailure::NotJson)?;
    if json.get("status").and_then(Value::as_str) != Some("ok") {
        return Err(CheckFailure::NotOk(body.to_string()));
    }
    let build = json.get("build").and_then(Value::as_u64).ok_or(CheckFailure::NoBuild)?;
    let version = json.get("version").and_then(Value::as_str).unwrap_or("?");
    Ok(format!("version {version}, build {build}"))
}

fn expect_ready(status: u16, body: &str) -> Result<String, CheckFailure> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let word = json.as_ref().and_then(|j| j.get("status")).and_then(Value::as_str);
    if status == 200 && word == Some("ready") {
        return Ok("ready".into());
    }
    // Name the failing checks rather than dumping the whole document.
    let failed: Vec<String> = json
        .as_ref()
        .and_then(|j| j.get("checks"))
        .and_then(Value::as_object)
        .map(|checks| {
            checks
                .iter()
                .filter(|(_, v)| v.as_str() != Some("ok"))
                .map(|(k, v)| {
                    format!("{k}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    if failed.is_empty() {
        Err(http_status(status, body))
    } else {
        Err(http_status(status, &failed.join("; ")))
    }
}

fn print_text(results: &[CheckResult], passed: usize) {
    let path_width = results.iter().map(|r| r.path.len()).max().unwrap_or(0);
    for r in results {
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        println!("{verdict}  {:<path_width$}  {:>6} ms  {}", r.path, r.duration_ms, r.reason);
    }
    let total = results.len();
    if passed == total {
        println!("GO: {passed}/{total} checks passed");
    } else {
        let failed: Vec<&str> = results.iter().filter(|r| !r.passed).map(|r| r.name).collect();
        println!("NO-GO: {passed}/{total} checks passed (failed: {})", failed.join(", "));
    }
}

fn write_junit(path: &std::path::Path, base: &str, results: &[CheckResult]) -> Result<(), GoError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("agentlocator check go");
    for r in results {
        let status = if r.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(r.reason.clone());
            status
        };
        let mut case = TestCase::new(format!("{} {}", r.name, r.path), status);
        case.set_classname(base.to_string());
        case.set_time(Duration::from_millis(r.duration_ms));
        suite.add_test_case(case);
    }
    let mut report = Report::new("agentlocator");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(GoError::Junit)?;
    std::fs::write(path, xml).map_err(|source| GoError::WriteJunit { path: path.to_path_buf(), source })
}

/// `check go`'s failures as exit codes: a bad `--url` is a usage error (2),
/// an unreachable deployment 4, anything else (NO-GO included) 1.
impl From<GoError> for AppError {
    fn from(e: GoError) -> Self {
        match e {
            GoError::BadUrl { .. } => AppError::usage(e.to_string()),
            GoError::Unreachable { .. } => AppError::unreachable(e.to_string()),
            GoError::Client(_)
            | GoError::Report(_)
            | GoError::Junit(_)
            | GoError::WriteJunit { .. }
            | GoError::NoGo { .. } => AppError::failed(e.to_string()),
        }
    }
}
