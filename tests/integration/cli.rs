//! The command line itself: completions kept in sync, `config check`, version.

use crate::harness::{command, stderr, stdout};
use serde_json::Value;

const SHELLS: [(&str, &str); 5] = [
    ("bash", "agentlocator.bash"),
    ("zsh", "_agentlocator"),
    ("fish", "agentlocator.fish"),
    ("elvish", "agentlocator.elv"),
    ("powershell", "_agentlocator.ps1"),
];

#[test]
fn checked_in_completions_match_the_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, file) in SHELLS {
        let output = command(root).args(["completions", shell]).output().expect("run");
        assert!(output.status.success());
        let checked_in = std::fs::read(root.join("completions").join(file)).unwrap_or_default();
        assert!(
            checked_in == output.stdout,
            "completions/{file} is stale; regenerate with `scripts/gen-completions`"
        );
    }
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = command(dir.path())
        .args(["config", "check"])
        .env("INTERNAL_SECRET", "very-secret-value-123456")
        .env("TWILIO_AUTH_TOKEN", "twilio-token-abc")
        .env("AGENTLOCATOR_LISTEN", "127.0.0.1:6001")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("listen = \"127.0.0.1:6001\""), "{text}");
    assert!(text.contains("<redacted>"));
    assert!(!text.contains("very-secret-value-123456") && !text.contains("twilio-token-abc"), "{text}");
}

#[test]
fn the_checked_in_config_file_is_valid_and_shows_the_defaults() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let with_file = command(dir.path())
        .arg("--config")
        .arg(root.join("config/agentlocator.toml"))
        .args(["config", "check", "--json"])
        .output()
        .expect("run");
    assert!(with_file.status.success(), "{}", stderr(&with_file));
    let defaults = command(dir.path()).args(["config", "check", "--json"]).output().expect("run");
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&with_file.stdout).expect("json"),
        serde_json::from_slice(&defaults.stdout).expect("json"),
    );
    assert_eq!(a, b, "config/agentlocator.toml must show exactly the built-in defaults");

    // Every key appears in the file, set or commented out, so operators see it.
    let text = std::fs::read_to_string(root.join("config/agentlocator.toml")).expect("read");
    let mut keys = vec!["internal_secret", "auth_token", "account_sid", "public_base_url", "ws_url"];
    for section in b.as_object().expect("object").values() {
        keys.extend(section.as_object().expect("section").keys().map(String::as_str));
    }
    for key in keys {
        assert!(
            text.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with(&format!("{key} ="))),
            "config/agentlocator.toml does not show `{key}`"
        );
    }
}

#[test]
fn invalid_configuration_exits_3_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    for (toml, key) in [
        ("[http]\nlisten = \"nowhere\"\n", "http.listen"),
        ("[http]\nlisten = \"127.0.0.1:1\"\nlistn = 2\n", "http.listn"),
        ("[delivery]\nmax_attempts = 0\n", "delivery.max_attempts"),
        ("[twilio]\napi_base_url = \"ftp://x\"\n", "twilio.api_base_url"),
        ("[bogus]\n", "bogus"),
    ] {
        std::fs::write(&file, toml).expect("write");
        for args in [&["config", "check"][..], &["serve"][..], &["tenant", "list"][..]] {
            let output = command(dir.path()).arg("--config").arg(&file).args(args).output().expect("run");
            assert_eq!(output.status.code(), Some(3), "{toml} {args:?}");
            let err = stderr(&output);
            assert!(err.starts_with(&format!("error: {key}")), "{err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
    }
    let output = command(dir.path())
        .args(["config", "check"])
        .env("AGENTLOCATOR_DELIVERY__TIMEOUT_S", "soon")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("delivery.timeout_s"), "{}", stderr(&output));
}

#[cfg(not(feature = "sim"))]
#[test]
fn a_production_build_refuses_ws_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = command(dir.path())
        .args(["config", "check"])
        .env("WHATSAPP_WS_URL", "ws://127.0.0.1:9/ws/chat")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("whatsapp.ws_url"), "{}", stderr(&output));
}

#[test]
fn version_and_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = command(dir.path()).arg("--version").output().expect("run");
    assert!(stdout(&output).contains(env!("CARGO_PKG_VERSION")));
    let output = command(dir.path()).arg("frobnicate").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_secret_of_the_wrong_type_is_named_but_never_echoed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    for (toml, key) in [
        ("[security]\ninternal_secret = 987654321098765432\n", "security.internal_secret"),
        ("[twilio]\nauth_token = 987654321098765432\n", "twilio.auth_token"),
        ("[twilio]\nauth_token = \"987654321098765432\n", "configuration"),
    ] {
        std::fs::write(&file, toml).expect("write");
        let output =
            command(dir.path()).arg("--config").arg(&file).args(["config", "check"]).output().expect("run");
        assert_eq!(output.status.code(), Some(3), "{toml}");
        let err = stderr(&output);
        assert!(err.starts_with(&format!("error: {key}")), "{err}");
        assert!(!err.contains("987654321098765432"), "the secret is echoed: {err}");
    }
    // A generic override of a secret is taken as the string it is.
    let output = command(dir.path())
        .args(["config", "check", "--json"])
        .env("AGENTLOCATOR_SECURITY__INTERNAL_SECRET", "98765432109876543210")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stdout(&output).contains("98765432109876543210"));
}

#[test]
fn a_data_dir_writable_by_others_is_refused_and_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let output = command(dir.path())
        .arg("--data-dir")
        .arg(&shared)
        .args(["tenant", "add", "acme"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("writable by other users") && err.contains("chmod go-w"), "{err}");
    let mode = std::fs::metadata(&shared).expect("metadata").permissions().mode() & 0o7777;
    assert_eq!(mode, 0o777, "the existing directory's mode is unchanged");
    assert!(!shared.join("agentlocator.db").exists(), "nothing was written there");
    // A directory of its own inside it is created private and used.
    let own = shared.join("agentlocator");
    let output = command(dir.path())
        .arg("--data-dir")
        .arg(&own)
        .args(["tenant", "add", "acme"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::metadata(&own).expect("metadata").permissions().mode() & 0o7777, 0o700);
}
