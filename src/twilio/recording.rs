//! The `twilio.recording` job: downloads a completed recording from the
//! Twilio API, hands it to the store (a file
//! `DATA_DIR/tenants/<id>/recordings/<RecordingSid>.<ext>` with SQLite,
//! chunks in the database with PostgreSQL) and records its size, SHA-256 and
//! duration on the event, which is then released for delivery. The event
//! also carries the `url` the content API serves it at (until
//! `media.retention_days` prunes it).
//!
//! Our credentials (HTTP basic auth: account SID and auth token) go to
//! `twilio.api_base_url` only: the URL is built from it, the account SID and
//! the RecordingSid (both checked to be Twilio SIDs), never from the
//! webhook's `RecordingUrl`. And only for the account the credentials belong
//! to: a webhook naming another `AccountSid` fails the job.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::download::{self, Target};
use super::{sid, wav};
use crate::config::Config;
use crate::content::PublicUrls;
use crate::ids::TenantId;
use crate::jobs::{BoxFuture, JobError, JobHandler};
use crate::paths::{ContentKind, DataDir};
use crate::store::content::Content;
use crate::store::events::EventRow;
use crate::store::jobs::Job;
use crate::store::tenants::TwilioTenant;
use crate::store::Store;

/// The recording fetcher could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for recording fetches: {0}")]
pub struct ClientError(reqwest::Error);

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
    urls: PublicUrls,
}

impl RecordingFetch {
    pub fn new(
        store: Store,
        data: DataDir,
        config: Arc<Config>,
        urls: PublicUrls,
    ) -> Result<Self, ClientError> {
        // Redirects are followed (Twilio answers a recording with one to its
        // media storage); reqwest drops the Authorization header whenever a
        // redirect leaves the host, so the credentials stay with the API.
        // A time limit per read, not per download: a recording near the size
        // cap takes minutes on an ordinary link, while a stalled API is still
        // noticed within the limit (and the fetch retried).
        let client = reqwest::Client::builder()
            .read_timeout(config.twilio.recording_fetch_timeout)
            .connect_timeout(config.twilio.recording_fetch_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("agentlocator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)?;
        Ok(Self { inner: Arc::new(Inner { store, data, config, client, urls }) })
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

/// Basic-auth credentials of one Twilio account.
struct Credentials {
    account: String,
    token: String,
}

impl Inner {
    async fn fetch(&self, job: Job) -> Result<Value, JobError> {
        let (event, tenant_id, tenant) = self.load(&job).await?;
        let data = &event.data;
        let recording = text(data, "RecordingSid")
            .filter(|s| sid::parse(sid::RECORDING, s).is_some())
            .ok_or_else(|| {
                JobError::permanent(
                    "the webhook's RecordingSid is not a Twilio recording SID (RE + 32 hex digits)",
                )
            })?;
        let credentials = self.credentials(&tenant, data)?;
        let twilio = &self.config.twilio;
        let format = twilio.recording_format.as_str();
        let url = recording_url(&twilio.api_base_url, &credentials.account, &recording, format)?;
        let blobs = self.store.blobs(&self.data);
        let dir = blobs
            .staging_dir(&tenant_id, ContentKind::Recording)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let name = format!("{recording}.{format}");
        let target = Target { dir: &dir, name: &name, max_bytes: twilio.recording_max_bytes };
        let auth = (credentials.account.as_str(), credentials.token.as_str());
        let saved = download::get_to_file(&self.client, url, auth, target).await?;
        let duration_s = duration_s(data, format, &saved.path).await;
        let content = Content {
            tenant_id: tenant_id.to_string(),
            kind: ContentKind::Recording,
            id: recording.clone(),
            event_id: job.event_id.clone(),
            file: name,
            mimetype: mimetype(saved.content_type.as_deref(), format),
            bytes: saved.bytes,
            sha256: saved.sha256.clone(),
            stored_at_ms: crate::clock::now_ms(),
            expired_at_ms: None,
        };
        let kept = blobs
            .keep(&saved.path, &content)
            .await
            .map_err(|e| JobError::retry(format!("cannot store the recording: {e}")))?;
        let mut fetched = json!({"recording": {
            "status": "fetched",
            "url": self.urls.of(ContentKind::Recording, &tenant_id, &recording),
            "bytes": saved.bytes,
            "sha256": saved.sha256,
            "duration_s": duration_s,
            "format": format,
            "content_type": saved.content_type,
            "attempts": job.attempts,
        }});
        // Where the file is on this machine, for an operator: only when the
        // store keeps recordings as files (SQLite), never a path that does not exist.
        if let Some(path) = kept {
            fetched["recording"]["path"] = json!(path.display().to_string());
        }
        Ok(fetched)
    }

    /// The job's event and the tenant it belongs to.
    async fn load(&self, job: &Job) -> Result<(EventRow, TenantId, TwilioTenant), JobError> {
        let event_id = job.event_id.clone().ok_or_else(|| JobError::permanent("the job names no event"))?;
        let event = self
            .store
            .events()
            .get(&event_id)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .ok_or_else(|| JobError::permanent("the event is gone"))?;
        let tenant_id = TenantId::parse(&event.tenant_id).map_err(|e| JobError::permanent(e.to_string()))?;
        let tenant = self
            .store
            .tenants()
            .twilio_tenant_by_id(tenant_id.as_str())
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .ok_or_else(|| JobError::permanent("the tenant was removed"))?;
        Ok((event, tenant_id, tenant))
    }

    /// The account whose credentials we hold for this tenant — its own when
    /// it has its own auth token, else the global one — provided the webhook
    /// names that very account. Anything else would send one account's
    /// credentials on behalf of another, so it fails for good.
    fn credentials(&self, tenant: &TwilioTenant, data: &Value) -> Result<Credentials, JobError> {
        let twilio = &self.config.twilio;
        let (account, token, whose) = match &tenant.auth_token {
            Some(token) => (
                tenant.account_sid.clone(),
                token.clone(),
                format!(
                    "tenant {}'s own account (tenant set {} --twilio-account-sid AC...)",
                    tenant.id, tenant.id
                ),
            ),
            None => (
                twilio.account_sid.clone(),
                twilio.auth_token.clone().ok_or_else(|| {
                    JobError::permanent(
                        "no Twilio auth token configured (twilio.auth_token or the tenant's own)",
                    )
                })?,
                "the global account (twilio.account_sid)".to_string(),
            ),
        };
        let account = account.ok_or_else(|| {
            JobError::permanent(format!("no account SID is set for {whose}; the recording is not fetched"))
        })?;
        match text(data, "AccountSid") {
            Some(claimed) if claimed == account => Ok(Credentials { account, token }),
            Some(claimed) => {
                let shown = sid::parse(sid::ACCOUNT, &claimed).unwrap_or("(not an account SID)");
                Err(JobError::permanent(format!(
                    "account mismatch: the webhook's AccountSid {shown} is not {whose}, {account}; the recording is not fetched with that account's credentials"
                )))
            }
            None => Err(JobError::permanent("the webhook has no AccountSid; the recording is not fetched")),
        }
    }
}

/// The recording's length: as the webhook declares it, else read from a WAV file.
async fn duration_s(data: &Value, format: &str, path: &std::path::Path) -> Option<f64> {
    let declared = text(data, "RecordingDuration").and_then(|d| d.parse::<f64>().ok());
    match declared.filter(|d| d.is_finite() && *d >= 0.0) {
        Some(seconds) => Some(seconds),
        None if format == "wav" => {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || wav::duration_s(&path)).await.ok().flatten()
        }
        None => None,
    }
}

/// The audio type Twilio served, else the one we asked for: Twilio serves
/// .wav as audio/x-wav, .mp3 as audio/mpeg.
fn mimetype(served: Option<&str>, format: &str) -> String {
    match served {
        Some(given) if given.starts_with("audio/") => given.to_string(),
        _ if format == "mp3" => "audio/mpeg".to_string(),
        _ => "audio/x-wav".to_string(),
    }
}

/// `{base}/2010-04-01/Accounts/{account}/Recordings/{recording}.{format}`,
/// each part a path segment of its own (percent-encoded by `url`), so no
/// value can change the scheme, host or credentials of `base`.
fn recording_url(base: &str, account: &str, recording: &str, format: &str) -> Result<url::Url, JobError> {
    let mut url = url::Url::parse(base)
        .map_err(|e| JobError::permanent(format!("twilio.api_base_url is not a URL ({e})")))?;
    url.set_query(None);
    url.set_fragment(None);
    let file = format!("{recording}.{format}");
    url.path_segments_mut()
        .map_err(|()| JobError::permanent("twilio.api_base_url cannot take a path"))?
        .pop_if_empty()
        .extend(["2010-04-01", "Accounts", account, "Recordings", &file]);
    Ok(url)
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for ClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_the_configured_authority_and_encodes_each_part() {
        let url = recording_url("https://api.twilio.com", "AC1", "RE2", "wav").expect("url");
        assert_eq!(url.as_str(), "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE2.wav");
        let url = recording_url("http://127.0.0.1:9/prefix/?q=1", "AC1", "RE2", "mp3").expect("url");
        assert_eq!(url.as_str(), "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Recordings/RE2.mp3");
        // Even an unchecked value stays inside its segment.
        let url = recording_url("https://api.twilio.com", "x:@127.0.0.1:1/a", "../b", "wav").expect("url");
        assert_eq!(url.host_str(), Some("api.twilio.com"));
        assert_eq!(url.path(), "/2010-04-01/Accounts/x:@127.0.0.1:1%2Fa/Recordings/..%2Fb.wav");
    }
}
