//! Stamps the binary with its build number (commits on the branch) and commit,
//! for `/version` and `--version`. Outside a git checkout both fall back to
//! AGENTLOCATOR_BUILD / AGENTLOCATOR_COMMIT, then to 0 / "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let build = std::env::var("AGENTLOCATOR_BUILD")
        .ok()
        .or_else(|| git(&["rev-list", "--count", "HEAD"]))
        .unwrap_or_else(|| "0".into());
    let commit = std::env::var("AGENTLOCATOR_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=AGENTLOCATOR_BUILD_NUMBER={build}");
    println!("cargo:rustc-env=AGENTLOCATOR_COMMIT_HASH={commit}");
    println!("cargo:rerun-if-env-changed=AGENTLOCATOR_BUILD");
    println!("cargo:rerun-if-env-changed=AGENTLOCATOR_COMMIT");
    // Re-stamp when HEAD moves (a commit or a checkout), not on every edit.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(refs) = git(&["rev-parse", "--git-path", "refs/heads"]) {
        println!("cargo:rerun-if-changed={refs}");
    }
}
