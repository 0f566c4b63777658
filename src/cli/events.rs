//! `agentlocator events ...`: the outbox as an operator sees it. These
//! commands act on the database directly (WAL lets them run beside the
//! daemon); the daemon's delivery workers notice re-queued events within
//! `delivery.poll_interval`.

use clap::Subcommand;
use serde::Serialize;

use super::render::{or_dash, print_json, print_table, safe};
use super::GlobalOptions;
use crate::clock::format_ms;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::delivery::{AttemptRow, Requeued};
use crate::store::events::{EventRow, EventStatus};
use crate::store::Store;
use crate::tenants::TenantId;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The most recent events, oldest first
    List {
        /// Only this tenant's events
        #[arg(long, value_name = "ID")]
        tenant: Option<TenantId>,
        /// Only events in this state
        #[arg(long, value_enum)]
        status: Option<EventStatus>,
        /// How many events at most (the most recent ones)
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One event, its data and every delivery attempt
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Queue events again for delivery, keeping their ids (any state but held)
    Replay {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Queue every dead event again (of one tenant, or of all)
    RetryDead {
        #[arg(long, value_name = "ID")]
        tenant: Option<TenantId>,
        #[arg(long)]
        json: bool,
    },
}

/// An event as shown to operators (timestamps in RFC 3339).
#[derive(Debug, Serialize)]
struct EventView {
    id: String,
    tenant: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    /// Attempts since the event was last queued.
    attempts: i64,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<String>,
    last_error: Option<String>,
}

impl From<&EventRow> for EventView {
    fn from(r: &EventRow) -> Self {
        EventView {
            id: r.id.clone(),
            tenant: r.tenant_id.clone(),
            kind: r.kind.clone(),
            status: r.status.clone(),
            attempts: r.attempts,
            created_at: format_ms(r.created_at_ms),
            next_attempt_at: (r.status == "pending").then(|| format_ms(r.next_attempt_at_ms)),
            delivered_at: r.delivered_at_ms.map(format_ms),
            last_error: r.last_error.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct AttemptView {
    attempt: i64,
    at: String,
    status_code: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        AttemptView {
            attempt: a.attempt,
            at: format_ms(a.at_ms),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EventDetail {
    #[serde(flatten)]
    event: EventView,
    data: serde_json::Value,
    delivery_attempts: Vec<AttemptView>,
}

pub fn run(global: &GlobalOptions, command: EventsCommand) -> AppResult<()> {
    super::runtime()?.block_on(async {
        let store = super::open_existing_store(global).await?;
        match command {
            EventsCommand::List { tenant, status, limit, json } => {
                list(&store, tenant, status, limit, json).await
            }
            EventsCommand::Show { id, json } => show(&store, &id, json).await,
            EventsCommand::Replay { ids, json } => replay(&store, ids, json).await,
            EventsCommand::RetryDead { tenant, json } => retry_dead(&store, tenant, json).await,
        }
    })
}

async fn list(
    store: &Store,
    tenant: Option<TenantId>,
    status: Option<EventStatus>,
    limit: u32,
    json: bool,
) -> AppResult<()> {
    let tenant = tenant.map(|t| t.to_string());
    let status = status.map(EventStatus::as_str);
    let rows = store.outbox().recent(tenant.as_deref(), status, limit as usize).await?;
    let views: Vec<EventView> = rows.iter().map(EventView::from).collect();
    if json {
        return print_json(&serde_json::json!({ "events": views }));
    }
    if views.is_empty() {
        println!("No events match.");
        return Ok(());
    }
    let table: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let when = v.delivered_at.clone().or_else(|| v.next_attempt_at.clone());
            vec![
                v.id.clone(),
                v.tenant.clone(),
                v.kind.clone(),
                v.status.clone(),
                v.attempts.to_string(),
                v.created_at.clone(),
                or_dash(when.as_deref()),
                or_dash(v.last_error.as_deref().map(|e| truncate(e, 60)).as_deref()),
            ]
        })
        .collect();
    print_table(
        &["ID", "TENANT", "TYPE", "STATUS", "ATTEMPTS", "CREATED", "DELIVERED/NEXT", "LAST ERROR"],
        &table,
    );
    Ok(())
}

async fn show(store: &Store, id: &str, json: bool) -> AppResult<()> {
    let (row, attempts) = store.outbox().event_with_attempts(id).await?.ok_or_else(|| unknown_event(id))?;
    let detail = EventDetail {
        event: EventView::from(&row),
        data: row.data.clone(),
        delivery_attempts: attempts.iter().map(AttemptView::from).collect(),
    };
    if json {
        return print_json(&detail);
    }
    print_detail(&detail);
    Ok(())
}

async fn replay(store: &Store, ids: Vec<String>, json: bool) -> AppResult<()> {
    let done: Vec<Requeued> = store.outbox().requeue(ids, now_ms()).await??;
    if json {
        return print_json(&serde_json::json!({ "requeued": done }));
    }
    for r in &done {
        println!("Re-queued {} for tenant {} (was {}).", r.id, r.tenant_id, r.previous_status);
    }
    Ok(())
}

async fn retry_dead(store: &Store, tenant: Option<TenantId>, json: bool) -> AppResult<()> {
    let tenant = tenant.map(|t| t.to_string());
    let ids = store.outbox().retry_dead(tenant.as_deref(), now_ms()).await?;
    if json {
        return print_json(&serde_json::json!({ "requeued": ids, "count": ids.len() }));
    }
    match ids.len() {
        0 => println!("No dead events."),
        n => println!("Re-queued {n} dead event{}.", if n == 1 { "" } else { "s" }),
    }
    Ok(())
}

fn unknown_event(id: &str) -> AppError {
    AppError::failed(format!("no event {id}; see `agentlocator events list`"))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn print_detail(d: &EventDetail) {
    let e = &d.event;
    println!("id:            {}", e.id);
    println!("tenant:        {}", e.tenant);
    println!("type:          {}", e.kind);
    println!(
        "status:        {} ({} attempt{} since queued)",
        e.status,
        e.attempts,
        if e.attempts == 1 { "" } else { "s" }
    );
    println!("created:       {}", e.created_at);
    if let Some(next) = &e.next_attempt_at {
        println!("next attempt:  {next}");
    }
    println!("delivered:     {}", or_dash(e.delivered_at.as_deref()));
    println!("last error:    {}", or_dash(e.last_error.as_deref()));
    // JSON text escapes C0 controls but not C1 ones nor bidi overrides.
    println!("data:          {}", safe(&d.data.to_string()));
    if d.delivery_attempts.is_empty() {
        println!("attempts:      none yet");
        return;
    }
    println!("attempts:");
    let rows: Vec<Vec<String>> = d
        .delivery_attempts
        .iter()
        .map(|a| {
            vec![
                a.attempt.to_string(),
                a.at.clone(),
                a.status_code.map_or("-".into(), |s| s.to_string()),
                format!("{} ms", a.latency_ms),
                or_dash(a.error.as_deref()),
            ]
        })
        .collect();
    print_table(&["#", "AT", "STATUS", "LATENCY", "ERROR"], &rows);
}
