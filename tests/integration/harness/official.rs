//! Verification by the official Standard Webhooks libraries, exactly as a
//! tenant's backend would call them: the Python package `standardwebhooks`
//! (PyPI) and, when node is installed, the npm package of the same name.
//!
//! Neither is assumed to be installed: the first use installs it under the
//! cargo target directory (`test-venv/`, `test-node/`), once, under a file
//! lock so parallel tests and test binaries share one install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::receiver::Received;

/// What a backend calls, as the README shows it.
const PYTHON_VERIFY: &str = r#"
import json, os, sys
from standardwebhooks.webhooks import Webhook
body = open(sys.argv[1], "rb").read()
headers = json.load(open(sys.argv[2]))
event = Webhook(os.environ["AGENTLOCATOR_SIGNING_SECRET"]).verify(body, headers)
print(event["id"])
"#;

const NODE_VERIFY: &str = r#"
const fs = require("fs");
const { Webhook } = require("standardwebhooks");
const body = fs.readFileSync(process.argv[2]);
const headers = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const event = new Webhook(process.env.AGENTLOCATOR_SIGNING_SECRET).verify(body, headers);
console.log(event.id);
"#;

/// Verifies `received` with the official Python package; `Err` carries the
/// library's complaint. Panics (failing the test) when the package cannot be
/// installed.
pub fn verify_with_python(secret: &str, received: &Received) -> Result<(), String> {
    let python = python().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (body, headers) = write_request(dir.path(), received);
    let script = dir.path().join("verify.py");
    std::fs::write(&script, PYTHON_VERIFY).expect("script");
    run(Command::new(python).arg(&script).arg(&body).arg(&headers), secret, received)
}

/// Verifies `received` with the official npm package. `None` when node is
/// not installed (the caller says so); panics when it is but the package
/// cannot be installed.
pub fn verify_with_node(secret: &str, received: &Received) -> Option<Result<(), String>> {
    if Command::new("node").arg("--version").output().is_err() {
        return None;
    }
    let dir = node_package().unwrap_or_else(|e| panic!("{e}"));
    let files = tempfile::tempdir().expect("tempdir");
    let (body, headers) = write_request(files.path(), received);
    // The script lives beside node_modules so `require` finds the package; one
    // name per call, as tests of this process may verify at the same time.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let script = dir.join(format!("verify-{}-{call}.js", std::process::id()));
    std::fs::write(&script, NODE_VERIFY).expect("script");
    let result = run(Command::new("node").arg(&script).arg(&body).arg(&headers), secret, received);
    let _ = std::fs::remove_file(&script);
    Some(result)
}

/// The raw body and the three headers as a backend framework hands them over.
fn write_request(dir: &Path, received: &Received) -> (PathBuf, PathBuf) {
    let body = dir.join("body");
    let headers = dir.join("headers.json");
    std::fs::write(&body, &received.body).expect("body");
    let map = serde_json::json!({
        "webhook-id": received.event_id,
        "webhook-timestamp": received.timestamp,
        "webhook-signature": received.signature,
        "content-type": "application/json",
    });
    std::fs::write(&headers, map.to_string()).expect("headers");
    (body, headers)
}

fn run(command: &mut Command, secret: &str, received: &Received) -> Result<(), String> {
    let out = command.env("AGENTLOCATOR_SIGNING_SECRET", secret).output().expect("run the verifier");
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && printed == received.event_id {
        Ok(())
    } else {
        Err(format!("{}{}", printed, String::from_utf8_lossy(&out.stderr)))
    }
}

/// The cargo target directory (parent of the integration tests' temp dir).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").to_path_buf()
}

/// Runs `install` once per machine: in-process by the caller's `OnceLock`,
/// across processes by an exclusive lock on `<target>/<name>.lock`.
fn locked<T>(name: &str, install: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    use fs4::fs_std::FileExt;
    let path = target_dir().join(format!("{name}.lock"));
    let lock = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    lock.lock_exclusive().map_err(|e| format!("lock {}: {e}", path.display()))?;
    install()
}

fn python_imports(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import standardwebhooks.webhooks"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A python3 that imports `standardwebhooks`: the machine's, else a venv
/// under the target directory with the package installed from PyPI.
fn python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if python_imports(Path::new("python3")) {
                return Ok(PathBuf::from("python3"));
            }
            locked("test-venv", || {
                let venv = target_dir().join("test-venv");
                let python = venv.join("bin/python");
                if python_imports(&python) {
                    return Ok(python);
                }
                install_step(Command::new("python3").args(["-m", "venv"]).arg(&venv), "a Python venv")?;
                install_step(
                    Command::new(venv.join("bin/pip")).args(["install", "--quiet", "standardwebhooks"]),
                    "the Python package standardwebhooks",
                )?;
                if python_imports(&python) {
                    Ok(python)
                } else {
                    Err(format!("{} still cannot import standardwebhooks", python.display()))
                }
            })
        })
        .clone()
}

/// A directory whose node_modules holds the npm package `standardwebhooks`.
fn node_package() -> Result<PathBuf, String> {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    NODE.get_or_init(|| {
        locked("test-node", || {
            let dir = target_dir().join("test-node");
            if dir.join("node_modules/standardwebhooks/package.json").exists() {
                return Ok(dir);
            }
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            install_step(
                Command::new("npm")
                    .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&dir)
                    .arg("standardwebhooks"),
                "the npm package standardwebhooks",
            )?;
            Ok(dir)
        })
    })
    .clone()
}

fn install_step(command: &mut Command, what: &str) -> Result<(), String> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|e| format!("cannot install {what}: {shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot install {what} for the signature tests: {shown} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
