//! The `twilio.recording` job: downloads a completed recording from the
//! Twilio API into `DATA_DIR/tenants/<id>/recordings/<RecordingSid>.<ext>`
//! (file 0600, directories 0700) and records its size, SHA-256 and duration
//! on the event, which is then released for delivery.
//!
//! Only the *path* of the webhook's `RecordingUrl` is used: it is fetched from
//! `twilio.api_base_url`, so our credentials (HTTP basic auth: account SID and
//! auth token) go to the configured API and nowhere else.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::jobs::{BoxFuture, JobError, JobHandler};
use crate::paths::{create_private_dir, replace_private_file, DataDir};
use crate::store::jobs::Job;
use crate::store::{events, tenants as rows, Store};
use crate::tenants::TenantId;

/// Fetches recordings; register it for [`super::RECORDING_EVENT`] jobs.
#[derive(Clone)]
pub struct RecordingFetch {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    data: DataDir,
    config: Arc<Config>,
    client: reqwest::Client,
}

impl RecordingFetch {
    pub fn new(store: Store, data: DataDir, config: Arc<Config>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.twilio.recording_fetch_timeout_s))
            .connect_timeout(Duration::from_secs(config.twilio.recording_fetch_timeout_s.min(10)))
            .user_agent(concat!("agentlocator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for recording fetches: {e}"))?;
        Ok(Self { inner: Arc::new(Inner { store, data, config, client }) })
    }
}

impl JobHandler for RecordingFetch {
    fn run(&self, job: Job) -> BoxFuture<Result<Value, JobError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.fetch(job).await })
    }

    fn failure_patch(&self, job: &Job, error: &str) -> Value {
        json!({"recording": {"status": "failed", "error": error, "attempts": job.attempts}})
    }
}

fn text(data: &Value, name: &str) -> Option<String> {
    data.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Inner {
    async fn fetch(&self, job: Job) -> Result<Value, JobError> {
        let event_id = job.event_id.clone().ok_or_else(|| JobError::permanent("the job names no event"))?;
        let event = self
            .store
            .run(move |c| events::get(c, &event_id))
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .ok_or_else(|| JobError::permanent("the event is gone"))?;
        let tenant_id = TenantId::parse(&event.tenant_id).map_err(|e| JobError::permanent(e.to_string()))?;
        let lookup = tenant_id.to_string();
        let tenant = self
            .store
            .run(move |c| rows::twilio_tenant_by_id(c, &lookup))
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .ok_or_else(|| JobError::permanent("the tenant was removed"))?;
        let data = &event.data;
        let sid = text(data, "RecordingSid")
            .filter(|s| s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| JobError::permanent("the event has no valid RecordingSid"))?;
        let twilio = &self.config.twilio;
        // A tenant with its own token is its own (sub)account: the webhook's
        // AccountSid goes with that token. Otherwise the configured account.
        let (account, token) = match &tenant.auth_token {
            Some(token) => (text(data, "AccountSid").or_else(|| twilio.account_sid.clone()), token.clone()),
            None => (
                twilio.account_sid.clone().or_else(|| text(data, "AccountSid")),
                twilio.auth_token.clone().ok_or_else(|| {
                    JobError::permanent(
                        "no Twilio auth token configured (twilio.auth_token or the tenant's own)",
                    )
                })?,
            ),
        };
        let account = account.ok_or_else(|| {
            JobError::permanent("no Twilio account SID (twilio.account_sid, or AccountSid in the webhook)")
        })?;
        let format = twilio.recording_format.as_str();
        let path = match text(data, "RecordingUrl").and_then(|u| url::Url::parse(&u).ok()) {
            Some(url) => url.path().to_string(),
            None => format!("/2010-04-01/Accounts/{account}/Recordings/{sid}"),
        };
        let path = ["wav", "mp3", "json"]
            .iter()
            .find_map(|ext| path.strip_suffix(&format!(".{ext}")))
            .unwrap_or(&path)
            .to_string();
        let url = format!("{}{}.{}", twilio.api_base_url.trim_end_matches('/'), path, format);

        let response = self
            .client
            .get(&url)
            .basic_auth(&account, Some(&token))
            .send()
            .await
            .map_err(|e| JobError::retry(format!("GET {path}.{format}: {}", describe(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(JobError::retry(format!("GET {path}.{format}: HTTP {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| JobError::retry(format!("GET {path}.{format}: body: {}", describe(&e))))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let duration_s = text(data, "RecordingDuration")
            .and_then(|d| d.parse::<f64>().ok())
            .or_else(|| (format == "wav").then(|| wav_duration_s(&bytes)).flatten());

        let file = self.save(&tenant_id, &sid, format, bytes.to_vec()).await?;
        Ok(json!({"recording": {
            "status": "fetched",
            "path": file.display().to_string(),
            "bytes": bytes.len(),
            "sha256": sha256,
            "duration_s": duration_s,
            "format": format,
            "content_type": content_type,
            "attempts": job.attempts,
        }}))
    }

    async fn save(
        &self,
        tenant: &TenantId,
        sid: &str,
        format: &str,
        bytes: Vec<u8>,
    ) -> Result<PathBuf, JobError> {
        let data = self.data.clone();
        let (tenant, name) = (tenant.clone(), format!("{sid}.{format}"));
        tokio::task::spawn_blocking(move || {
            let dir = data.ensure_tenant_dir(&tenant).map_err(|e| e.message)?.join("recordings");
            create_private_dir(&dir).map_err(|e| e.message)?;
            let file = dir.join(name);
            replace_private_file(&file, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok::<_, String>(file)
        })
        .await
        .map_err(|e| JobError::retry(e.to_string()))?
        .map_err(JobError::retry)
    }
}

/// A reqwest error without the URL (it may carry more than we want logged).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    let detail = std::error::Error::source(error).map(|s| s.to_string()).unwrap_or_default();
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

/// Duration of a PCM WAV file from its header: data bytes / byte rate.
fn wav_duration_s(bytes: &[u8]) -> Option<f64> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut pos = 12;
    let mut byte_rate = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " && body + 12 <= bytes.len() {
            byte_rate = Some(u32::from_le_bytes(bytes[body + 8..body + 12].try_into().ok()?));
        } else if id == b"data" {
            let rate = byte_rate.filter(|r| *r > 0)?;
            let size = size.min(bytes.len() - body);
            return Some(size as f64 / f64::from(rate));
        }
        pos = body + size + (size & 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_duration_from_header() {
        // 8 kHz, mono, 16-bit: 16000 bytes/s; 8000 data bytes = 0.5 s.
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(36u32 + 8000).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend_from_slice(&16000u32.to_le_bytes());
        wav.extend_from_slice(&2u16.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend(std::iter::repeat_n(0u8, 8000));
        assert_eq!(wav_duration_s(&wav), Some(0.5));
        assert_eq!(wav_duration_s(b"not a wav"), None);
    }
}
