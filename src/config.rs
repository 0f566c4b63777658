//! The effective configuration: built-in defaults, then the TOML file, then the
//! environment, validated once so the rest of the program can
//! trust every value it reads.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Where the checked-in configuration lives, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/agentlocator.toml";

/// The seed deployment's variable names, each mapped to the key it sets. Listed
/// in order; a later entry wins (so `PUBLIC_BASE_URL` beats its alias).
const NAMED_ENV_VARS: &[(&str, &str)] = &[
    ("AGENTLOCATOR_LISTEN", "http.listen"),
    ("FLASK_BASE_URL", "http.public_base_url"),
    ("PUBLIC_BASE_URL", "http.public_base_url"),
    ("INTERNAL_SECRET", "security.internal_secret"),
    ("DATABASE_URL", "store.url"),
    ("TWILIO_AUTH_TOKEN", "twilio.auth_token"),
    ("TWILIO_ACCOUNT_SID", "twilio.account_sid"),
    ("TWILIO_API_BASE_URL", "twilio.api_base_url"),
    ("WHATSAPP_WS_URL", "whatsapp.ws_url"),
];

/// Prefix of the generic overrides: `AGENTLOCATOR_DELIVERY__MAX_ATTEMPTS=5`
/// sets `delivery.max_attempts`. The double underscore separates the section
/// from the key, which keeps `AGENTLOCATOR_DATA_DIR` and friends (global
/// options, not config keys) out of this namespace.
const GENERIC_ENV_PREFIX: &str = "AGENTLOCATOR_";

/// Keys whose values are secrets: never echoed in an error, and taken
/// verbatim as strings from a generic override (an all-digit secret stays a
/// string instead of failing as a number).
const SECRET_KEYS: &[&str] = &["security.internal_secret", "twilio.auth_token", "store.url"];

/// Longest `whatsapp.restart_backoff_cap` accepted: a day. Longer waits are
/// no backoff.
const MAX_RESTART_BACKOFF_CAP: Duration = Duration::from_secs(86_400);
/// Longest `delivery.retention_days` accepted (a century).
const MAX_RETENTION_DAYS: f64 = 36_500.0;
/// WhatsApp's own largest file.
const MAX_MEDIA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub security: SecurityConfig,
    pub twilio: TwilioConfig,
    pub whatsapp: WhatsappConfig,
    pub delivery: DeliveryConfig,
    pub store: StoreConfig,
    pub cluster: ClusterConfig,
    pub health: HealthConfig,
    pub jobs: JobsConfig,
    pub media: MediaConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    pub body_limit_bytes: usize,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// A request whose head (request line and headers) has not fully arrived
    /// this long after its first byte is closed (slowloris).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no new request begun is
    /// closed after this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Open client connections at most; serve lowers it to half the process's
    /// open-files limit when that is smaller.
    pub max_connections: NonZeroUsize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:5000".into(),
            public_base_url: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: NonZeroUsize::new(1024).expect("non-zero"),
        }
    }
}

impl HttpConfig {
    fn validate(&self) -> AppResult<()> {
        positive("http.body_limit_bytes", self.body_limit_bytes as u64)?;
        positive_duration("http.request_timeout", self.request_timeout)?;
        positive_duration("http.header_read_timeout", self.header_read_timeout)?;
        positive_duration("http.idle_timeout", self.idle_timeout)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    pub api_base_url: String,
    /// `wav` or `mp3`: the format recordings are fetched in.
    pub recording_format: String,
    /// A recording download that receives nothing for this long is abandoned
    /// (and retried); the size cap, not a clock, bounds a whole download.
    #[serde(with = "humantime_serde")]
    pub recording_fetch_timeout: Duration,
    /// A recording larger than this is not kept: the fetch fails (`too_large`).
    pub recording_max_bytes: u64,
    /// Body limit of the /webhook routes (Twilio's requests are small; the
    /// larger `http.body_limit_bytes` stays for the API).
    pub webhook_body_limit_bytes: usize,
    /// A form webhook with more parameters than this is refused before any
    /// signature work is done.
    pub webhook_max_params: NonZeroUsize,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            auth_token: None,
            account_sid: None,
            api_base_url: "https://api.twilio.com".into(),
            recording_format: "wav".into(),
            recording_fetch_timeout: Duration::from_secs(60),
            recording_max_bytes: 512 * 1024 * 1024,
            webhook_body_limit_bytes: 64 * 1024,
            webhook_max_params: NonZeroUsize::new(500).expect("non-zero"),
        }
    }
}

impl TwilioConfig {
    fn validate(&self) -> AppResult<()> {
        check_http_url("twilio.api_base_url", &self.api_base_url)?;
        if !matches!(self.recording_format.as_str(), "wav" | "mp3") {
            return Err(AppError::config("twilio.recording_format: must be \"wav\" or \"mp3\""));
        }
        positive_duration("twilio.recording_fetch_timeout", self.recording_fetch_timeout)?;
        positive("twilio.recording_max_bytes", self.recording_max_bytes)?;
        positive("twilio.webhook_body_limit_bytes", self.webhook_body_limit_bytes as u64)?;
        // Not echoed: a mistyped secret may sit in its place.
        if let Some(sid) = &self.account_sid {
            if crate::ids::twilio_sid::parse(crate::ids::twilio_sid::ACCOUNT, sid).is_none() {
                return Err(AppError::config(
                    "twilio.account_sid: not a Twilio account SID (AC followed by 32 lower-case hex digits)",
                ));
            }
        }
        Ok(())
    }
}

/// Background jobs (e.g. recording fetches): durable, retried with backoff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Jobs running at once.
    pub concurrency: NonZeroUsize,
    /// Attempts before a job fails for good (its event is released with the error).
    pub max_attempts: NonZeroU32,
    /// Delay before retry n is min(cap, base * 2^(n-1)), with jitter.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_cap: Duration,
    /// How often the queue is checked for jobs queued by another process.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: NonZeroUsize::new(4).expect("non-zero"),
            max_attempts: NonZeroU32::new(8).expect("non-zero"),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl JobsConfig {
    fn validate(&self) -> AppResult<()> {
        let j = self;
        positive_duration("jobs.backoff_base", j.backoff_base)?;
        if j.backoff_cap < j.backoff_base {
            return Err(AppError::config("jobs.backoff_cap: must be at least jobs.backoff_base"));
        }
        positive_duration("jobs.poll_interval", j.poll_interval)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsappConfig {
    /// Only honoured by builds with the `sim` feature (validated below).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
    /// Shortest time between two messages one tenant sends: sending fast is how
    /// WhatsApp accounts get banned.
    #[serde(with = "humantime_serde")]
    pub send_interval: Duration,
    /// A send that would wait longer than this for its turn is refused with 429.
    #[serde(with = "humantime_serde")]
    pub send_queue_max_wait: Duration,
    /// Time between two tenants' first connects at start-up, so a thousand
    /// tenants do not reconnect in the same second.
    #[serde(with = "humantime_serde")]
    pub connect_stagger: Duration,
    /// A worker restarted more than `max_restarts` times within
    /// `restart_window` is quarantined until an operator restarts it.
    pub max_restarts: NonZeroUsize,
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    /// First restart delay (doubles per restart, with jitter) and its cap.
    #[serde(with = "humantime_serde")]
    pub restart_backoff_base: Duration,
    #[serde(with = "humantime_serde")]
    pub restart_backoff_cap: Duration,
    /// One-time prekeys a newly paired device uploads. WhatsApp Web uses 812;
    /// fewer keeps each tenant's session store and start-up smaller.
    pub prekeys: usize,
    /// How long a send may take once it is its turn. A send that takes longer
    /// has an unknown outcome (it may have reached WhatsApp).
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    /// How long an Idempotency-Key of a send is remembered (a retry within it
    /// answers the first outcome); older keys are pruned.
    #[serde(with = "humantime_serde")]
    pub idempotency_retention: Duration,
    /// Largest media file taken in either direction: an inbound file over it
    /// is not downloaded (its event says `too_large`), an outbound one is
    /// refused with 413.
    pub media_max_bytes: u64,
    /// How long one media download or upload may take in all, and how long
    /// the media host may take to connect and to answer.
    #[serde(with = "humantime_serde")]
    pub media_transfer_timeout: Duration,
}

impl Default for WhatsappConfig {
    fn default() -> Self {
        Self {
            ws_url: None,
            send_interval: Duration::from_secs(1),
            send_queue_max_wait: Duration::from_secs(5),
            connect_stagger: Duration::from_millis(10),
            max_restarts: NonZeroUsize::new(5).expect("non-zero"),
            restart_window: Duration::from_secs(600),
            restart_backoff_base: Duration::from_secs(1),
            restart_backoff_cap: Duration::from_secs(300),
            prekeys: 812,
            send_timeout: Duration::from_secs(10),
            idempotency_retention: Duration::from_secs(24 * 3600),
            media_max_bytes: 64 * 1024 * 1024,
            media_transfer_timeout: Duration::from_secs(600),
        }
    }
}

impl WhatsappConfig {
    fn validate(&self) -> AppResult<()> {
        if let Some(url) = &self.ws_url {
            check_ws_url(url, cfg!(feature = "sim"))?;
        }
        let w = self;
        if !(1..=MAX_MEDIA_BYTES).contains(&w.media_max_bytes) {
            return Err(AppError::config(format!(
                "whatsapp.media_max_bytes: must be between 1 and {MAX_MEDIA_BYTES} (WhatsApp's own limit, 2 GiB)"
            )));
        }
        if w.media_transfer_timeout.is_zero() {
            return Err(AppError::config(
                "whatsapp.media_transfer_timeout: must be longer than 0 (e.g. \"10m\")",
            ));
        }
        positive_duration("whatsapp.restart_window", w.restart_window)?;
        positive_duration("whatsapp.restart_backoff_base", w.restart_backoff_base)?;
        if w.restart_backoff_cap.is_zero() || w.restart_backoff_cap > MAX_RESTART_BACKOFF_CAP {
            return Err(AppError::config(
                "whatsapp.restart_backoff_cap: must be longer than 0 and at most a day (\"24h\")",
            ));
        }
        if w.restart_backoff_cap < w.restart_backoff_base {
            return Err(AppError::config(
                "whatsapp.restart_backoff_cap: must be at least whatsapp.restart_backoff_base",
            ));
        }
        if !(10..=2000).contains(&w.prekeys) {
            return Err(AppError::config("whatsapp.prekeys: must be between 10 and 2000"));
        }
        if w.send_timeout.is_zero() {
            return Err(AppError::config("whatsapp.send_timeout: must be greater than 0 (e.g. \"10s\")"));
        }
        if w.idempotency_retention.is_zero() {
            return Err(AppError::config(
                "whatsapp.idempotency_retention: must be greater than 0 (e.g. \"24h\")",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    pub max_attempts: NonZeroU32,
    /// Attempts for answers that say the receiver rejects the event (4xx other
    /// than 408/429): a misconfigured receiver gets fixed, so keep trying, but
    /// not for the whole schedule.
    pub client_error_attempts: NonZeroU32,
    /// First retry delay; doubles per attempt.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest delay between two attempts; also caps `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub backoff_cap: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub concurrency: NonZeroUsize,
    /// Delivered events older than this are pruned (fractions allowed); pending,
    /// held and dead never are. A pull-only tenant's events count as delivered
    /// once it has pulled past them.
    pub retention_days: f64,
    /// How often the delivery workers look for events stored or re-queued by
    /// other processes (the CLI, another connection). Events stored by the
    /// daemon itself are picked up at once.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl DeliveryConfig {
    /// `retention_days` as a duration (validated finite and in range).
    pub fn retention(&self) -> Duration {
        Duration::try_from_secs_f64(self.retention_days * 86_400.0).unwrap_or(Duration::MAX)
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: NonZeroU32::new(12).expect("non-zero"),
            client_error_attempts: NonZeroU32::new(4).expect("non-zero"),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(900),
            timeout: Duration::from_secs(10),
            concurrency: NonZeroUsize::new(32).expect("non-zero"),
            retention_days: 7.0,
            poll_interval: Duration::from_millis(250),
        }
    }
}

impl DeliveryConfig {
    fn validate(&self) -> AppResult<()> {
        let d = self;
        if d.client_error_attempts > d.max_attempts {
            return Err(AppError::config(
                "delivery.client_error_attempts: must not exceed delivery.max_attempts",
            ));
        }
        if d.backoff_base < Duration::from_millis(1) {
            return Err(AppError::config("delivery.backoff_base: must be at least 1ms"));
        }
        if d.backoff_cap < d.backoff_base {
            return Err(AppError::config("delivery.backoff_cap: must be at least delivery.backoff_base"));
        }
        if !(Duration::from_millis(1)..=Duration::from_secs(60)).contains(&d.poll_interval) {
            return Err(AppError::config("delivery.poll_interval: must be between 1ms and 60s"));
        }
        positive_duration("delivery.timeout", d.timeout)?;
        if !(d.retention_days.is_finite() && d.retention_days > 0.0 && d.retention_days <= MAX_RETENTION_DAYS)
        {
            return Err(AppError::config(format!(
                "delivery.retention_days: must be greater than 0 and at most {MAX_RETENTION_DAYS} (fractions allowed)"
            )));
        }
        Ok(())
    }
}

/// Stored content: WhatsApp media and call recordings served by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Stored files are deleted this long after they were stored (fractions
    /// allowed); the API then answers 410 `expired`.
    pub retention_days: f64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self { retention_days: 7.0 }
    }
}

impl MediaConfig {
    /// `retention_days` as a duration (validated finite and in range).
    pub fn retention(&self) -> Duration {
        Duration::try_from_secs_f64(self.retention_days * 86_400.0).unwrap_or(Duration::MAX)
    }

    fn validate(&self) -> AppResult<()> {
        let days = self.retention_days;
        if !(days.is_finite() && days > 0.0 && days <= MAX_RETENTION_DAYS) {
            return Err(AppError::config(format!(
                "media.retention_days: must be greater than 0 and at most {MAX_RETENTION_DAYS} (fractions allowed)"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Unset: the embedded SQLite database in the data directory.
    /// `postgres://user:password@host:port/db?sslmode=...`: PostgreSQL holds
    /// every piece of daemon state. A secret (it may carry a password).
    pub url: Option<String>,
    /// How long a write waits for a lock another connection holds (SQLite
    /// busy timeout, PostgreSQL lock_timeout).
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// PostgreSQL connections in the daemon's pool (all tenants share them).
    pub pool_size: NonZeroUsize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            busy_timeout: Duration::from_secs(5),
            pool_size: NonZeroUsize::new(16).expect("non-zero"),
        }
    }
}

/// Several nodes on one PostgreSQL store (ignored with the embedded SQLite,
/// where one daemon holds every tenant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's name among the nodes; unset: the host name plus a random
    /// suffix, chosen at each start. `[A-Za-z0-9._-]{1,64}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Where the other nodes reach this one (calls that need a tenant's live
    /// WhatsApp client are forwarded to its node); unset: the address the
    /// daemon listens on, which only works when that address is reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_url: Option<String>,
    /// How long a tenant's lease lasts without renewal: the longest a dead
    /// node's tenants wait before another node takes them over.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { node_id: None, advertise_url: None, lease_ttl: Duration::from_secs(15) }
    }
}

/// The shortest and longest `cluster.lease_ttl`: renewals run every third of
/// it, and a node stops a tenant's client a third before expiry, so below a
/// few seconds a slow database round trip would cost leases; above minutes a
/// dead node's tenants would wait too long.
const LEASE_TTL_RANGE: std::ops::RangeInclusive<Duration> = Duration::from_secs(3)..=Duration::from_secs(600);

impl ClusterConfig {
    fn validate(&self) -> AppResult<()> {
        if let Some(id) = &self.node_id {
            if !valid_node_id(id) {
                return Err(AppError::config(format!(
                    "cluster.node_id: `{id}` must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
                )));
            }
        }
        if let Some(url) = &self.advertise_url {
            check_http_url("cluster.advertise_url", url)?;
        }
        if !LEASE_TTL_RANGE.contains(&self.lease_ttl) {
            return Err(AppError::config(format!(
                "cluster.lease_ttl: must be between {:?} and {:?}",
                LEASE_TTL_RANGE.start(),
                LEASE_TTL_RANGE.end()
            )));
        }
        Ok(())
    }
}

/// Whether `id` can name a node: it is shown in tables and sent between nodes.
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Each readiness check must answer within this time or counts as failed.
    #[serde(with = "humantime_serde")]
    pub check_timeout: Duration,
    /// A supervisor or event-loop heartbeat older than this means "wedged".
    #[serde(with = "humantime_serde")]
    pub wedged_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self { check_timeout: Duration::from_secs(2), wedged_after: Duration::from_secs(3) }
    }
}

impl Config {
    /// Loads defaults, then `path` (or the default file when it exists), then the
    /// environment, and validates the result. Any failure is a config error (exit 3).
    pub fn load(explicit_path: Option<&Path>) -> AppResult<Self> {
        Self::load_from(explicit_path, std::env::vars())
    }

    /// As `load`, with the environment passed in (so tests need not mutate it).
    pub fn load_from(
        explicit_path: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> AppResult<Self> {
        let env: Vec<(String, String)> = env.collect();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = config_file(explicit_path)? {
            figment = figment.merge(LegacyKeys(Toml::file_exact(path)));
        }
        figment = figment
            .merge(EnvOverrides { name: "the environment", dict: named_env_overrides(&env) })
            .merge(LegacyKeys(EnvOverrides {
                name: "an AGENTLOCATOR_<SECTION>__<KEY> variable",
                dict: generic_env_overrides(&env),
            }));
        let config: Config = figment.extract().map_err(describe_figment_error)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> AppResult<()> {
        self.listen_addr()?;
        if let Some(url) = &self.http.public_base_url {
            check_http_url("http.public_base_url", url)?;
        }
        self.http.validate()?;
        if let Some(secret) = &self.security.internal_secret {
            if secret.len() < 16 {
                return Err(AppError::config(
                    "security.internal_secret: too short (use at least 16 characters, e.g. `openssl rand -hex 32`)",
                ));
            }
        }
        self.twilio.validate()?;
        self.jobs.validate()?;
        self.whatsapp.validate()?;
        self.delivery.validate()?;
        self.media.validate()?;
        positive_duration("store.busy_timeout", self.store.busy_timeout)?;
        check_store_url(self.store.url.as_deref())?;
        self.cluster.validate()?;
        positive_duration("health.check_timeout", self.health.check_timeout)?;
        positive_duration("health.wedged_after", self.health.wedged_after)?;
        Ok(())
    }

    pub fn listen_addr(&self) -> AppResult<SocketAddr> {
        self.http.listen.parse().map_err(|_| {
            AppError::config(format!(
                "http.listen: `{}` is not an address:port (e.g. 0.0.0.0:5000 or 127.0.0.1:0)",
                self.http.listen
            ))
        })
    }

    /// The configuration as it may be shown: every secret replaced by a marker.
    pub fn redacted(&self) -> Config {
        fn hide(secret: &Option<String>) -> Option<String> {
            secret.as_ref().map(|_| "<redacted>".to_string())
        }
        let mut shown = self.clone();
        shown.security.internal_secret = hide(&self.security.internal_secret);
        shown.twilio.auth_token = hide(&self.twilio.auth_token);
        shown.store.url = self.store.url.as_deref().map(redact_url_password);
        shown
    }
}

/// Which file to read: the one named (it must exist), else the default path when
/// it exists, else none (built-in defaults).
fn config_file(explicit: Option<&Path>) -> AppResult<Option<PathBuf>> {
    match explicit {
        Some(path) if path.is_file() => Ok(Some(path.to_path_buf())),
        Some(path) => Err(AppError::config(format!(
            "--config {}: no such file; pass an existing TOML file or drop the option to use built-in defaults",
            path.display()
        ))),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_PATH);
            Ok(default.is_file().then_some(default))
        }
    }
}

/// The seed's variable names as string values. They are taken verbatim (an auth
/// token of digits stays a string) rather than parsed like the generic ones.
fn named_env_overrides(env: &[(String, String)]) -> Dict {
    let mut dict = Dict::new();
    for (var, key) in NAMED_ENV_VARS {
        let Some((_, value)) = env.iter().find(|(name, _)| name == var) else { continue };
        if value.is_empty() {
            continue;
        }
        let (section, field) = key.split_once('.').unwrap_or((key, ""));
        let entry = dict.entry(section.to_string()).or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, inner) = entry {
            inner.insert(field.to_string(), Value::from(value.clone()));
        }
    }
    dict
}

/// `AGENTLOCATOR_<SECTION>__<KEY>` variables of `env` (never the process
/// environment: `load_from`'s caller decides what the environment is), each
/// value parsed like TOML scalars (`5`, `true`, `0.5`), secrets kept verbatim.
fn generic_env_overrides(env: &[(String, String)]) -> Dict {
    let mut dict = Dict::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(GENERIC_ENV_PREFIX) else { continue };
        let Some((section, field)) = rest.split_once("__") else { continue };
        let (section, field) = (section.trim().to_ascii_lowercase(), field.trim().to_ascii_lowercase());
        if section.is_empty() || field.is_empty() || field.contains("__") {
            continue;
        }
        let value = if is_secret(&format!("{section}.{field}")) {
            Value::from(value.clone())
        } else {
            value.parse::<Value>().unwrap_or_else(|never| match never {})
        };
        let entry = dict.entry(section).or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, inner) = entry {
            inner.insert(field, value);
        }
    }
    dict
}

/// Overrides taken from the environment, named in errors as `name`.
struct EnvOverrides {
    name: &'static str,
    dict: Dict,
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The unit a legacy duration key counted in.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

/// Duration keys as they were once spelled, a number in `Unit`, and the
/// humantime key (`"30s"`, `"15m"`) each became. The old spellings are still
/// accepted, in the file and as `AGENTLOCATOR_<SECTION>__<KEY>` variables;
/// `config check` shows the new ones.
const LEGACY_DURATION_KEYS: &[(&str, &str, Unit)] = &[
    ("http.request_timeout_s", "http.request_timeout", Unit::Seconds),
    ("http.shutdown_grace_s", "http.shutdown_grace", Unit::Seconds),
    ("twilio.recording_fetch_timeout_s", "twilio.recording_fetch_timeout", Unit::Seconds),
    ("jobs.backoff_base_ms", "jobs.backoff_base", Unit::Millis),
    ("jobs.backoff_cap_ms", "jobs.backoff_cap", Unit::Millis),
    ("jobs.poll_interval_ms", "jobs.poll_interval", Unit::Millis),
    ("whatsapp.send_interval_ms", "whatsapp.send_interval", Unit::Millis),
    ("whatsapp.send_queue_max_wait_ms", "whatsapp.send_queue_max_wait", Unit::Millis),
    ("whatsapp.connect_stagger_ms", "whatsapp.connect_stagger", Unit::Millis),
    ("whatsapp.restart_window_s", "whatsapp.restart_window", Unit::Seconds),
    ("whatsapp.restart_backoff_base_ms", "whatsapp.restart_backoff_base", Unit::Millis),
    ("whatsapp.restart_backoff_cap_s", "whatsapp.restart_backoff_cap", Unit::Seconds),
    ("delivery.backoff_base_s", "delivery.backoff_base", Unit::Seconds),
    ("delivery.backoff_cap_s", "delivery.backoff_cap", Unit::Seconds),
    ("delivery.timeout_s", "delivery.timeout", Unit::Seconds),
    ("delivery.poll_interval_ms", "delivery.poll_interval", Unit::Millis),
    ("store.busy_timeout_ms", "store.busy_timeout", Unit::Millis),
    ("health.check_timeout_ms", "health.check_timeout", Unit::Millis),
    ("health.wedged_after_ms", "health.wedged_after", Unit::Millis),
];

/// A provider whose legacy duration keys are rewritten to their humantime
/// successors (see [`LEGACY_DURATION_KEYS`]) before they are merged. Done per
/// source, so a file that sets both spellings of a key is an error, while the
/// environment still overrides the file whichever spelling each uses.
struct LegacyKeys<P>(P);

impl<P: Provider> Provider for LegacyKeys<P> {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for dict in data.values_mut() {
            rename_legacy_keys(dict).map_err(|(key, detail)| {
                let mut error = figment::Error::from(detail);
                error.path = key.split('.').map(str::to_string).collect();
                error
            })?;
        }
        Ok(data)
    }
}

/// Rewrites `dict`'s legacy keys; on failure, the key at fault and what is wrong.
fn rename_legacy_keys(dict: &mut Dict) -> Result<(), (&'static str, String)> {
    for &(old, new, unit) in LEGACY_DURATION_KEYS {
        let (section, old_field) = old.split_once('.').unwrap_or((old, ""));
        let new_field = new.split_once('.').map_or(new, |(_, field)| field);
        let Some(Value::Dict(_, inner)) = dict.get_mut(section) else { continue };
        let Some(value) = inner.remove(old_field) else { continue };
        let refuse = |detail: String| (old, detail);
        if inner.contains_key(new_field) {
            return Err(refuse(format!("both {old} and {new} are set; keep only {new}")));
        }
        let duration =
            legacy_duration(&value, unit).map_err(|detail| refuse(format!("{detail} (or set {new})")))?;
        let text = humantime::format_duration(duration).to_string();
        if humantime::parse_duration(&text).ok() != Some(duration) {
            return Err(refuse("too large".to_string()));
        }
        inner.insert(new_field.to_string(), Value::from(text));
    }
    Ok(())
}

/// Why a legacy key's value is not a duration in its old unit.
#[derive(Debug, thiserror::Error)]
enum LegacyDurationError {
    #[error("expected a number of {0}")]
    NotANumber(&'static str),
    #[error("too large")]
    TooLarge,
    #[error("must not be negative")]
    Negative,
}

/// A legacy key's number (integer or fraction, as TOML or as a variable's
/// text) of `unit`s as a duration.
fn legacy_duration(value: &Value, unit: Unit) -> Result<Duration, LegacyDurationError> {
    let unit_name = match unit {
        Unit::Seconds => "seconds",
        Unit::Millis => "milliseconds",
    };
    let number = value.to_num_lossy().ok_or(LegacyDurationError::NotANumber(unit_name))?;
    if let Some(whole) = number.to_u128_lossy() {
        let whole = u64::try_from(whole).map_err(|_| LegacyDurationError::TooLarge)?;
        return Ok(match unit {
            Unit::Seconds => Duration::from_secs(whole),
            Unit::Millis => Duration::from_millis(whole),
        });
    }
    let fraction = number.to_f64().filter(|f| *f >= 0.0).ok_or(LegacyDurationError::Negative)?;
    let secs = match unit {
        Unit::Seconds => fraction,
        Unit::Millis => fraction / 1000.0,
    };
    Duration::try_from_secs_f64(secs).map_err(|_| LegacyDurationError::NotANumber(unit_name))
}

/// `store.url` is unset (the embedded SQLite) or a PostgreSQL URL; its value
/// may hold a password, so an error never repeats it.
fn check_store_url(url: Option<&str>) -> AppResult<()> {
    match url {
        None => Ok(()),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(()),
        Some(_) => Err(AppError::config(
            "store.url: must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite)",
        )),
    }
}

/// A URL as it may be shown: its password replaced by a marker (the host and
/// database stay, they are what an operator checks).
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("<redacted>"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<redacted: not a URL>".to_string(),
    }
}

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// A TOML syntax error without the quoted source line, which would show
/// whatever the line holds (a secret, say): "TOML parse error at line 2,
/// column 19: invalid string".
fn without_source_lines(text: &str) -> String {
    let quoted = |line: &str| {
        line.trim_start().trim_start_matches(|c: char| c.is_ascii_digit()).trim_start().starts_with('|')
    };
    text.lines().filter(|line| !line.trim().is_empty() && !quoted(line)).collect::<Vec<_>>().join(": ")
}

/// What was wrong with a secret's value, without the value.
fn redacted_detail(kind: &figment::error::Kind) -> String {
    match kind {
        figment::error::Kind::InvalidType(_, expected) => {
            format!("invalid type: expected {expected} (the value is a secret and is not shown)")
        }
        _ => "invalid value (the value is a secret and is not shown)".to_string(),
    }
}

fn describe_figment_error(error: figment::Error) -> AppError {
    // figment paths start with the profile name ("default"); operators never see profiles.
    let path: Vec<&str> = error.path.iter().map(String::as_str).filter(|p| *p != "default").collect();
    let mut key = path.join(".");
    let detail = match &error.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            if path.last() != Some(&field.as_str()) {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(field);
            }
            format!("unknown key (known keys here: {})", expected.join(", "))
        }
        other if is_secret(&key) => redacted_detail(other),
        // serde's own words for a NonZero* field given 0.
        figment::error::Kind::InvalidValue(_, expected) if expected.starts_with("a nonzero") => {
            "must be greater than 0".to_string()
        }
        figment::error::Kind::Message(text) => without_source_lines(text),
        other => other.to_string(),
    };
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" (from {source})"),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let key = if key.is_empty() { "configuration".to_string() } else { key };
    AppError::config(format!("{key}: {detail}{source}"))
}

fn check_http_url(key: &str, value: &str) -> AppResult<()> {
    let parsed = url::Url::parse(value)
        .map_err(|e| AppError::config(format!("{key}: `{value}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(AppError::config(format!(
            "{key}: `{value}` must be an absolute http:// or https:// URL"
        )));
    }
    Ok(())
}

/// `whatsapp.ws_url` points a build at the simulated network; a production
/// build (`sim_build` false) must refuse it, since such a build verifies the
/// real server's certificate chain and the simulator's cannot pass.
fn check_ws_url(url: &str, sim_build: bool) -> AppResult<()> {
    if !sim_build {
        return Err(AppError::config(
            "whatsapp.ws_url: only builds with the `sim` feature may point at a simulated network; remove it (or WHATSAPP_WS_URL) from a production configuration",
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| AppError::config(format!("whatsapp.ws_url: `{url}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "ws" | "wss") {
        return Err(AppError::config(format!("whatsapp.ws_url: `{url}` must start with ws:// or wss://")));
    }
    // The WebSocket client takes an `http::Uri`, which is stricter than a URL
    // in places: refuse here what it would refuse at every connect.
    url.parse::<http::Uri>().map_err(|e| {
        AppError::config(format!("whatsapp.ws_url: `{url}` is not a URI the WebSocket client takes ({e})"))
    })?;
    Ok(())
}

fn positive(key: &str, value: u64) -> AppResult<()> {
    if value == 0 {
        return Err(AppError::config(format!("{key}: must be greater than 0")));
    }
    Ok(())
}

fn positive_duration(key: &str, value: Duration) -> AppResult<()> {
    if value.is_zero() {
        return Err(AppError::config(format!("{key}: must be longer than 0 (e.g. \"10s\")")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> AppResult<Config> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).expect("write");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load_from(Some(&path), env.collect::<Vec<_>>().into_iter())
    }

    #[test]
    fn defaults_are_valid() {
        let c = load("", &[]).expect("defaults");
        assert_eq!(c.http.listen, "0.0.0.0:5000");
        assert_eq!(c.twilio.api_base_url, "https://api.twilio.com");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load("[http]\nlisten = \"127.0.0.1:1\"\nbogus = 1\n", &[]).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message.starts_with("http.bogus"), "{}", err.message);
    }

    #[test]
    fn bad_value_is_named() {
        let err = load("[delivery]\nmax_attempts = \"many\"\n", &[]).unwrap_err();
        assert!(err.message.starts_with("delivery.max_attempts"), "{}", err.message);
        let err = load("[http]\nlisten = \"nowhere\"\n", &[]).unwrap_err();
        assert!(err.message.starts_with("http.listen"), "{}", err.message);
    }

    #[test]
    fn seed_env_names_override_the_file_and_stay_strings() {
        let c = load(
            "[twilio]\nauth_token = \"fromfile\"\n",
            &[
                ("TWILIO_AUTH_TOKEN", "12345"),
                ("FLASK_BASE_URL", "https://alias.example"),
                ("AGENTLOCATOR_LISTEN", "127.0.0.1:7000"),
            ],
        )
        .expect("load");
        assert_eq!(c.twilio.auth_token.as_deref(), Some("12345"));
        assert_eq!(c.http.public_base_url.as_deref(), Some("https://alias.example"));
        assert_eq!(c.http.listen, "127.0.0.1:7000");
        let c = load(
            "",
            &[("FLASK_BASE_URL", "https://alias.example"), ("PUBLIC_BASE_URL", "https://main.example")],
        )
        .expect("load");
        assert_eq!(c.http.public_base_url.as_deref(), Some("https://main.example"));
    }

    #[test]
    fn redaction_hides_every_secret() {
        let c = load(
            "[security]\ninternal_secret = \"0123456789abcdef0123\"\n[twilio]\nauth_token = \"tok\"\n",
            &[],
        )
        .expect("load");
        let shown = toml::to_string(&c.redacted()).expect("toml");
        assert!(!shown.contains("0123456789abcdef0123") && !shown.contains("\"tok\""), "{shown}");
    }

    #[test]
    fn the_store_url_is_postgres_or_unset_and_its_password_is_never_shown() {
        let c = load("", &[("DATABASE_URL", "postgres://app:s3cret@db:5432/agent?sslmode=require")])
            .expect("load");
        assert_eq!(c.store.url.as_deref(), Some("postgres://app:s3cret@db:5432/agent?sslmode=require"));
        let shown = toml::to_string(&c.redacted()).expect("toml");
        assert!(!shown.contains("s3cret") && shown.contains("db:5432/agent"), "{shown}");
        let err = load("[store]\nurl = \"mysql://root:hunter2@db/x\"\n", &[]).unwrap_err();
        assert!(err.message.starts_with("store.url:") && !err.message.contains("hunter2"), "{}", err.message);
    }

    #[test]
    fn only_a_sim_build_accepts_ws_url() {
        let url = "ws://127.0.0.1:1/ws/chat";
        let err = check_ws_url(url, false).unwrap_err();
        assert!(err.message.contains("`sim` feature"), "{}", err.message);
        check_ws_url(url, true).expect("a sim build takes a ws:// URL");
        let err = check_ws_url("http://127.0.0.1:1/", true).unwrap_err();
        assert!(err.message.contains("ws://"), "{}", err.message);
        // A URL (a space is escaped in one) but not a URI (it is not).
        let err = check_ws_url("ws://127.0.0.1:1/ws chat", true).unwrap_err();
        assert!(err.message.contains("not a URI the WebSocket client takes"), "{}", err.message);
        // The loader applies the rule of the build it runs in.
        let loaded = load("[whatsapp]\nws_url = \"ws://127.0.0.1:1/ws/chat\"\n", &[]);
        assert_eq!(loaded.is_ok(), cfg!(feature = "sim"));
    }

    #[test]
    fn whatsapp_keys_are_checked() {
        let c = load("[whatsapp]\nsend_interval_ms = 0\nmax_restarts = 2\n", &[]).expect("whatsapp");
        assert_eq!((c.whatsapp.send_interval, c.whatsapp.max_restarts.get()), (Duration::ZERO, 2));
        for (toml, key) in [
            ("[whatsapp]\nmax_restarts = 0\n", "whatsapp.max_restarts"),
            ("[whatsapp]\nprekeys = 5\n", "whatsapp.prekeys"),
            (
                "[whatsapp]\nrestart_backoff_base_ms = 5000\nrestart_backoff_cap_s = 1\n",
                "whatsapp.restart_backoff_cap",
            ),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
        }
    }
    #[test]
    fn generic_overrides_come_from_the_env_passed_in() {
        // The process environment is not read: a variable set there (as a
        // developer's shell might) changes nothing.
        // (A key no other test reads, so setting it cannot disturb them.)
        std::env::set_var("AGENTLOCATOR_STORE__BUSY_TIMEOUT_MS", "1234");
        let c = load("", &[]).expect("defaults");
        std::env::remove_var("AGENTLOCATOR_STORE__BUSY_TIMEOUT_MS");
        assert_eq!(c.store.busy_timeout, Duration::from_secs(5));
        let c = load(
            "[delivery]\nmax_attempts = 7\n",
            &[
                ("AGENTLOCATOR_DELIVERY__MAX_ATTEMPTS", "5"),
                ("AGENTLOCATOR_DELIVERY__BACKOFF_BASE_S", "0.5"),
                ("AGENTLOCATOR_WHATSAPP__IDEMPOTENCY_RETENTION", "2h"),
                ("AGENTLOCATOR_SECURITY__INTERNAL_SECRET", "12345678901234567890"),
                ("AGENTLOCATOR_DATA_DIR", "/not/a/key"),
            ],
        )
        .expect("load");
        assert_eq!(c.delivery.max_attempts.get(), 5);
        assert_eq!(c.delivery.backoff_base, Duration::from_millis(500));
        assert_eq!(c.whatsapp.idempotency_retention, Duration::from_secs(7200));
        assert_eq!(c.security.internal_secret.as_deref(), Some("12345678901234567890"));
        let err = load("", &[("AGENTLOCATOR_HTTP__NOPE", "1")]).unwrap_err();
        assert!(err.message.starts_with("http.nope: unknown key"), "{}", err.message);
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_named_but_never_echoed() {
        for (toml, key) in [
            ("[security]\ninternal_secret = 987654321098765432\n", "security.internal_secret"),
            ("[twilio]\nauth_token = 987654321098765432\n", "twilio.auth_token"),
            ("[twilio]\nauth_token = [\"987654321098765432\"]\n", "twilio.auth_token"),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
            assert!(!err.message.contains("987654321098765432"), "{toml}: {}", err.message);
        }
        // A syntax error names the line, without quoting it.
        let err = load("[twilio]\nauth_token = \"987654321098765432\n", &[]).unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
        assert!(!err.message.contains("987654321098765432"), "{}", err.message);
        // Other keys still say what they found.
        let err = load("[delivery]\nmax_attempts = \"many\"\n", &[]).unwrap_err();
        assert!(err.message.contains("many"), "{}", err.message);
    }

    #[test]
    fn the_restart_backoff_cap_is_range_checked_without_overflow() {
        // (TOML integers stop at i64::MAX; the environment reaches u64::MAX.)
        let max = u64::MAX.to_string();
        let err = load("", &[("AGENTLOCATOR_WHATSAPP__RESTART_BACKOFF_CAP_S", &max)]).unwrap_err();
        assert!(err.message.starts_with("whatsapp.restart_backoff_cap"), "{}", err.message);
        let err = load(
            "[whatsapp]\nrestart_backoff_cap_s = 86400\n",
            &[("AGENTLOCATOR_WHATSAPP__RESTART_BACKOFF_BASE_MS", &max)],
        )
        .unwrap_err();
        assert!(err.message.starts_with("whatsapp.restart_backoff_cap"), "{}", err.message);
        load("[whatsapp]\nrestart_backoff_cap_s = 86400\n", &[]).expect("a day is fine");
        let err = load("[whatsapp]\nrestart_backoff_cap = \"25h\"\n", &[]).unwrap_err();
        assert!(err.message.starts_with("whatsapp.restart_backoff_cap: must be"), "{}", err.message);
    }

    #[test]
    fn retention_and_send_durations() {
        let c = load("", &[]).expect("defaults");
        assert_eq!(c.delivery.retention(), Duration::from_secs(7 * 86_400));
        assert_eq!(c.whatsapp.idempotency_retention, Duration::from_secs(86_400));
        assert_eq!(c.whatsapp.send_timeout, Duration::from_secs(10));
        let c = load(
            "[delivery]\nretention_days = 0.5\n[whatsapp]\nidempotency_retention = \"90s\"\nsend_timeout = \"250ms\"\n",
            &[],
        )
        .expect("load");
        assert_eq!(c.delivery.retention(), Duration::from_secs(43_200));
        assert_eq!(c.whatsapp.idempotency_retention, Duration::from_secs(90));
        assert_eq!(c.whatsapp.send_timeout, Duration::from_millis(250));
        for (toml, key) in [
            ("[delivery]\nretention_days = 0\n", "delivery.retention_days"),
            ("[delivery]\nretention_days = 1e9\n", "delivery.retention_days"),
            ("[whatsapp]\nsend_timeout = \"0s\"\n", "whatsapp.send_timeout"),
            ("[whatsapp]\nidempotency_retention = \"soon\"\n", "whatsapp.idempotency_retention"),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
        }
    }

    #[test]
    fn jobs_and_recording_keys_are_checked() {
        let c = load("[jobs]\nmax_attempts = 3\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\n", &[])
            .expect("jobs");
        assert_eq!(
            (c.jobs.max_attempts.get(), c.jobs.backoff_base, c.jobs.backoff_cap),
            (3, Duration::from_millis(50), Duration::from_millis(200))
        );
        assert_eq!(c.twilio.recording_format, "wav");
        for (toml, key) in [
            ("[jobs]\nmax_attempts = 0\n", "jobs.max_attempts"),
            ("[jobs]\nbackoff_base_ms = 100\nbackoff_cap_ms = 10\n", "jobs.backoff_cap"),
            ("[jobs]\nconcurrency = 0\n", "jobs.concurrency"),
            ("[twilio]\nrecording_format = \"ogg\"\n", "twilio.recording_format"),
            ("[twilio]\nrecording_fetch_timeout_s = 0\n", "twilio.recording_fetch_timeout"),
            ("[twilio]\nrecording_max_bytes = 0\n", "twilio.recording_max_bytes"),
            ("[twilio]\nwebhook_body_limit_bytes = 0\n", "twilio.webhook_body_limit_bytes"),
            ("[twilio]\nwebhook_max_params = 0\n", "twilio.webhook_max_params"),
            ("[twilio]\naccount_sid = \"ACtest\"\n", "twilio.account_sid"),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
        }
    }

    #[test]
    fn delivery_keys_accept_fractions_and_are_checked() {
        let c = load("[delivery]\nbackoff_base_s = 0.05\nbackoff_cap_s = 1\npoll_interval_ms = 20\n", &[])
            .expect("fractions");
        assert_eq!(c.delivery.backoff_base, Duration::from_millis(50));
        assert_eq!(c.delivery.backoff_cap, Duration::from_secs(1));
        assert_eq!(c.delivery.poll_interval, Duration::from_millis(20));
        assert_eq!(load("", &[]).expect("defaults").delivery.poll_interval, Duration::from_millis(250));
        for (toml, key) in [
            ("[delivery]\npoll_interval_ms = 0\n", "delivery.poll_interval"),
            ("[delivery]\npoll_interval = \"2m\"\n", "delivery.poll_interval"),
            ("[delivery]\nbackoff_base_s = 0\n", "delivery.backoff_base"),
            ("[delivery]\nbackoff_base_s = 10\nbackoff_cap_s = 5\n", "delivery.backoff_cap"),
            ("[delivery]\nbackoff_base = \"10s\"\nbackoff_cap = \"5s\"\n", "delivery.backoff_cap"),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
        }
    }

    #[test]
    fn an_old_duration_key_has_the_same_effect_as_its_new_one() {
        let old = load(
            "[http]\nrequest_timeout_s = 30\n[delivery]\nbackoff_base_s = 0.25\n[store]\nbusy_timeout_ms = 1500\n",
            &[("AGENTLOCATOR_HEALTH__WEDGED_AFTER_MS", "4500")],
        )
        .expect("old keys");
        let new = load(
            "[http]\nrequest_timeout = \"30s\"\n[delivery]\nbackoff_base = \"250ms\"\n[store]\nbusy_timeout = \"1s 500ms\"\n",
            &[("AGENTLOCATOR_HEALTH__WEDGED_AFTER", "4.5s")],
        )
        .expect("new keys");
        for c in [&old, &new] {
            assert_eq!(c.http.request_timeout, Duration::from_secs(30));
            assert_eq!(c.delivery.backoff_base, Duration::from_millis(250));
            assert_eq!(c.store.busy_timeout, Duration::from_millis(1500));
            assert_eq!(c.health.wedged_after, Duration::from_millis(4500));
        }
        // Every old key is still a key, and its successor one the config has.
        let defaults = serde_json::to_value(Config::default()).expect("json");
        for (old, new, _) in LEGACY_DURATION_KEYS {
            let (section, field) = new.split_once('.').expect("section.key");
            assert!(defaults[section].get(field).is_some(), "{old} -> {new}");
            let toml = format!("[{section}]\n{} = 7\n", old.split_once('.').expect("key").1);
            if let Err(e) = load(&toml, &[]) {
                assert!(!e.message.contains("unknown key"), "{old}: {}", e.message);
            }
        }
        // The environment overrides the file whichever spelling each uses.
        let c = load("[delivery]\ntimeout = \"3s\"\n", &[("AGENTLOCATOR_DELIVERY__TIMEOUT_S", "4")])
            .expect("load");
        assert_eq!(c.delivery.timeout, Duration::from_secs(4));
    }

    #[test]
    fn both_spellings_of_a_key_in_one_source_are_refused_naming_both() {
        let err = load("[delivery]\ntimeout_s = 5\ntimeout = \"5s\"\n", &[]).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message.starts_with("delivery.timeout_s:"), "{}", err.message);
        assert!(err.message.contains("delivery.timeout "), "{}", err.message);
        let err = load(
            "",
            &[("AGENTLOCATOR_STORE__BUSY_TIMEOUT_MS", "5"), ("AGENTLOCATOR_STORE__BUSY_TIMEOUT", "5ms")],
        )
        .unwrap_err();
        assert!(err.message.contains("store.busy_timeout_ms") && err.message.contains("store.busy_timeout "));
    }

    #[test]
    fn an_old_key_with_a_bad_value_is_named() {
        for (toml, key) in [
            ("[delivery]\ntimeout_s = \"soon\"\n", "delivery.timeout_s: expected a number of seconds"),
            ("[delivery]\ntimeout_s = \"10s\"\n", "delivery.timeout_s: expected a number of seconds"),
            ("[jobs]\npoll_interval_ms = -5\n", "jobs.poll_interval_ms: must not be negative"),
        ] {
            let err = load(toml, &[]).unwrap_err();
            assert!(err.message.starts_with(key), "{toml}: {}", err.message);
            assert!(err.message.contains("(or set "), "{toml}: {}", err.message);
        }
        let err = load("[delivery]\ntimeout = \"soon\"\n", &[]).unwrap_err();
        assert!(err.message.starts_with("delivery.timeout:"), "{}", err.message);
    }

    #[test]
    fn zero_for_a_count_is_refused_naming_the_key() {
        for key in [
            "delivery.max_attempts",
            "delivery.client_error_attempts",
            "delivery.concurrency",
            "jobs.max_attempts",
            "jobs.concurrency",
            "whatsapp.max_restarts",
            "http.max_connections",
            "twilio.webhook_max_params",
        ] {
            let (section, field) = key.split_once('.').expect("key");
            let err = load(&format!("[{section}]\n{field} = 0\n"), &[]).unwrap_err();
            assert_eq!(err.exit_code(), 3);
            assert!(err.message.starts_with(&format!("{key}: must be greater than 0")), "{}", err.message);
            let var = format!("AGENTLOCATOR_{}__{}", section.to_uppercase(), field.to_uppercase());
            let err = load("", &[(&var, "0")]).unwrap_err();
            assert!(err.message.starts_with(&format!("{key}: must be greater than 0")), "{}", err.message);
        }
    }
}
