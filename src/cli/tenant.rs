//! `agentlocator tenant ...`: through the daemon's admin socket when a daemon
//! runs (the change takes effect at once), else straight on the database.
//! Both paths run `tenants::execute`, so the result is the same.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::render::{or_dash, print_json, print_table, safe};
use super::GlobalOptions;
use crate::admin::client::{AdminClient, ClientError};
use crate::admin::AdminRequest;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::tenants::{
    self, TenantDetail, TenantError, TenantId, TenantRequest, TenantResponse, TenantSettings, TenantView,
};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its API token and webhook signing secret once
    Add {
        id: TenantId,
        #[command(flatten)]
        settings: SettingsArgs,
        #[arg(long)]
        json: bool,
    },
    /// One line per tenant
    List {
        #[arg(long)]
        json: bool,
    },
    /// Everything about one tenant (secrets redacted)
    Show {
        id: TenantId,
        #[arg(long)]
        json: bool,
    },
    /// Change a tenant's settings (an empty value clears an optional one)
    Set {
        id: TenantId,
        #[command(flatten)]
        settings: SettingsArgs,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new API token; the old one stops working at once
    Token {
        id: TenantId,
        /// Required: rotation is the only token operation
        #[arg(long, required = true)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new webhook signing secret (shown once); the old one keeps
    /// signing for --grace
    SigningSecret {
        id: TenantId,
        /// Required: the current secret is never shown again, only replaced
        #[arg(long)]
        rotate: bool,
        /// How long the old secret keeps signing too (e.g. 90m, 24h; 0s: it stops at once)
        #[arg(long, default_value = "24h", value_name = "DURATION", value_parser = humantime::parse_duration)]
        grace: Duration,
        #[arg(long)]
        json: bool,
    },
    /// Pair the tenant's WhatsApp: QR codes in the terminal, or a pair code with --phone
    Pair {
        id: TenantId,
        /// Pair by phone-number code for this number instead of by QR
        #[arg(long, value_name = "+E164")]
        phone: Option<String>,
        /// Give up after this many seconds
        #[arg(long, default_value_t = 180, value_name = "SECS")]
        timeout: u64,
    },
    /// Unlink the tenant's WhatsApp device and wipe its session store
    Logout {
        id: TenantId,
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant and all its data
    Remove {
        id: TenantId,
        /// Confirm the deletion
        #[arg(long, required = true)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Display name [default on add: the id]
    #[arg(long)]
    name: Option<String>,
    /// Where this tenant's events are POSTed
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// A Twilio number (+E164) routed to this tenant; repeat for more. On
    /// `set`, replaces the tenant's list
    #[arg(long = "twilio-number", value_name = "+E164")]
    twilio_numbers: Vec<String>,
    /// This tenant's own Twilio auth token (else the global one is used)
    #[arg(long, value_name = "TOKEN")]
    twilio_auth_token: Option<String>,
    /// The Twilio account (AC...) of this tenant's own auth token: recordings
    /// are fetched only for webhooks of that account. Empty on `set` clears it
    #[arg(long, value_name = "AC...")]
    twilio_account_sid: Option<String>,
    /// TwiML answered to this tenant's voice calls, or @FILE to read it from a
    /// file; `{{recording_status_callback}}` and `{{tenant}}` are filled in.
    /// Empty on `set` restores the default (greeting + record)
    #[arg(long, value_name = "TWIML|@FILE")]
    voice_twiml: Option<String>,
}

impl SettingsArgs {
    fn into_settings(self) -> AppResult<TenantSettings> {
        // Read here, by the operator's process: the daemon may not see the file.
        let voice_twiml = match self.voice_twiml {
            Some(arg) if arg.starts_with('@') => {
                Some(std::fs::read_to_string(&arg[1..]).map_err(|e| {
                    AppError::usage(format!("--voice-twiml {arg}: cannot read the file ({e})"))
                })?)
            }
            other => other,
        };
        Ok(TenantSettings {
            name: self.name,
            webhook_url: self.webhook_url,
            twilio_numbers: (!self.twilio_numbers.is_empty()).then_some(self.twilio_numbers),
            twilio_auth_token: self.twilio_auth_token,
            twilio_account_sid: self.twilio_account_sid,
            voice_twiml,
        })
    }
}

pub fn run(global: &GlobalOptions, command: TenantCommand) -> AppResult<()> {
    let (request, json) = match command {
        TenantCommand::Add { id, settings, json } => {
            (TenantRequest::Add { id, settings: settings.into_settings()? }, json)
        }
        TenantCommand::List { json } => (TenantRequest::List, json),
        TenantCommand::Show { id, json } => (TenantRequest::Show { id }, json),
        TenantCommand::Set { id, settings, json } => {
            (TenantRequest::Set { id, settings: settings.into_settings()? }, json)
        }
        TenantCommand::Token { id, json, .. } => (TenantRequest::RotateToken { id }, json),
        TenantCommand::SigningSecret { id, rotate, grace, json } => {
            (signing_secret_request(id, rotate, grace)?, json)
        }
        TenantCommand::Remove { id, json, .. } => (TenantRequest::Remove { id }, json),
        TenantCommand::Pair { id, phone, timeout } => {
            return super::pair::pair(global, id, phone, Duration::from_secs(timeout))
        }
        TenantCommand::Logout { id, json } => return super::pair::logout(global, id, json),
    };
    let response = perform(global, request)?;
    if json {
        return print_json(&response);
    }
    print_text(&response);
    Ok(())
}

fn signing_secret_request(id: TenantId, rotate: bool, grace: Duration) -> AppResult<TenantRequest> {
    if !rotate {
        return Err(AppError::usage(format!(
            "a signing secret is shown only once, when it is created or rotated, and cannot be shown again; \
             `agentlocator tenant signing-secret {id} --rotate [--grace 24h]` issues a new one \
             (the old one keeps signing during the grace period)"
        )));
    }
    let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
    Ok(TenantRequest::RotateSigningSecret { id, grace_ms })
}

/// Runs the request on the daemon when one answers, else on the database.
fn perform(global: &GlobalOptions, request: TenantRequest) -> AppResult<TenantResponse> {
    let config = global.load_config()?;
    let data = global.data();
    let connected = AdminClient::connect(&data.socket_path())
        .map_err(|e| AppError::unreachable(format!("{e}; check that you may access the data directory")))?;
    let result = match connected {
        Some(mut client) => match client.call(&AdminRequest::Tenant { request }) {
            Ok(value) => Ok(serde_json::from_value::<TenantResponse>(value).map_err(|e| {
                AppError::failed(format!("the daemon answered in a form this command cannot read ({e}); are both the same version?"))
            })?),
            Err(ClientError::Remote(remote)) => Err(TenantError::from(remote)),
            Err(e) => return Err(AppError::unreachable(format!("daemon did not answer: {e}"))),
        },
        None => {
            data.ensure()?;
            super::runtime()?.block_on(async {
                let store = Store::open(&config.store, &data).await?;
                tenants::execute(&store, &data, &request).await
            })
        }
    };
    Ok(result?)
}

fn print_text(response: &TenantResponse) {
    match response {
        TenantResponse::Created(created) => {
            println!("Created tenant {}.", created.tenant.id);
            println!("API token (shown once; only its hash is stored):");
            println!("{}", created.token);
            println!(
                "Webhook signing secret (shown once; give it to the tenant's backend to verify deliveries):"
            );
            println!("{}", created.signing_secret);
        }
        TenantResponse::List { tenants } => print_list(tenants),
        TenantResponse::Detail(detail) => print_detail(detail),
        TenantResponse::Updated { tenant } => println!("Updated tenant {}.", tenant.id),
        TenantResponse::Token(token) => {
            println!("New API token for {} (shown once; the old one no longer works):", token.tenant);
            println!("{}", token.token);
        }
        TenantResponse::SigningSecret(rotated) => {
            println!("New webhook signing secret for {} (shown once):", rotated.tenant);
            println!("{}", rotated.signing_secret);
            match &rotated.previous_valid_until {
                Some(until) => println!("The previous secret also signs every delivery until {until}."),
                None => println!("The previous secret no longer signs."),
            }
        }
        TenantResponse::Removed(removed) => println!("Removed tenant {} and its data.", removed.tenant),
    }
}

fn print_list(tenants: &[TenantView]) {
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                t.whatsapp.state.clone(),
                or_dash(t.whatsapp.phone.as_deref()),
                or_dash(t.webhook_url.as_deref()),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("No tenants yet; add one with `agentlocator tenant add <id>`.");
    } else {
        print_table(&["ID", "NAME", "WHATSAPP", "PHONE", "WEBHOOK URL"], &rows);
    }
}

fn print_detail(detail: &TenantDetail) {
    let t = &detail.tenant;
    let numbers = if t.twilio_numbers.is_empty() { "-".into() } else { t.twilio_numbers.join(", ") };
    println!("id:                 {}", t.id);
    println!("name:               {}", safe(&t.name));
    println!("webhook url:        {}", or_dash(t.webhook_url.as_deref()));
    println!("twilio numbers:     {numbers}");
    println!(
        "twilio auth token:  {}",
        if t.twilio_auth_token_set { "set (redacted)" } else { "not set (global token used)" }
    );
    println!("twilio account:     {}", or_dash(t.twilio_account_sid.as_deref()));
    println!("whatsapp state:     {} since {}", t.whatsapp.state, t.whatsapp.since);
    println!("whatsapp phone:     {}", or_dash(t.whatsapp.phone.as_deref()));
    println!("reconnects:         {}", t.whatsapp.reconnects);
    println!("last error:         {}", or_dash(t.whatsapp.last_error.as_deref()));
    println!("created:            {}", t.created_at);
    println!("updated:            {}", t.updated_at);
    println!("token issued:       {}", t.token_rotated_at);
    println!(
        "signing secret:     {}",
        if t.signing_secret_set { "set (redacted)" } else { "none (rotate it to issue one)" }
    );
    println!(
        "previous secret:    {}",
        match &t.previous_signing_secret_valid_until {
            Some(until) => format!("still signs until {until}"),
            None => "none".into(),
        }
    );
    println!("recent state changes:");
    for change in &detail.recent_state_changes {
        println!("  {}  {:<12}  {}", change.at, change.state, safe(&change.reason));
    }
}
