//! `agentlocator tenant pair <id> [--phone +E164] [--timeout SECS]` and
//! `tenant logout <id>`.
//!
//! With a daemon running, pairing streams the daemon's own worker's codes over
//! the admin socket (two processes must never connect the same device).
//! Without one, it pairs in-process: the same worker, under a local
//! supervisor, holding the tenant's session lock so a daemon started meanwhile
//! waits instead of fighting over the device.

use crate::ownership::Ownership;
use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::GlobalOptions;
use crate::admin::client::{AdminClient, ClientError};
use crate::admin::AdminRequest;
use crate::error::{AppError, AppResult};
use crate::qr::{self, QrError, TerminalStyle};
use crate::tenants::TenantId;
use crate::whatsapp::{PairRequest, Pairing, PairingError, PairingUpdate};

/// What the display loop receives from either source.
type Step = Result<PairingUpdate, PairError>;

/// Why `tenant pair` ended without linking the device.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("the daemon did not take the request: {0}")]
    Refused(#[source] ClientError),
    #[error("the daemon sent a step this command cannot read: {0}")]
    Unreadable(#[source] serde_json::Error),
    /// The daemon's own answer, as it worded it.
    #[error("{0}")]
    Daemon(String),
    #[error("lost the daemon: {0}")]
    LostDaemon(#[source] ClientError),
    /// The in-process worker refused to start pairing.
    #[error(transparent)]
    Worker(#[from] PairingError),
    #[error("the pairing worker stopped")]
    WorkerStopped,
    #[error("pairing timed out after {seconds}s; {hint}")]
    TimedOut { seconds: u64, hint: &'static str },
    #[error("pairing stopped without an answer; see the daemon's log")]
    NoAnswer,
    #[error("{reason}; run `agentlocator tenant pair {tenant}` again for new codes, or pair by code with --phone +E164")]
    Ended { reason: String, tenant: TenantId },
    #[error(transparent)]
    Qr(#[from] QrError),
    #[error("cannot write to the terminal: {0}")]
    Terminal(#[source] std::io::Error),
}

pub fn pair(global: &GlobalOptions, id: TenantId, phone: Option<String>, timeout: Duration) -> AppResult<()> {
    let config = global.load_config()?;
    let data = global.data();
    let phone = phone
        .map(|p| crate::tenants::parse_e164(&p).map_err(|e| AppError::usage(format!("--phone: {e}"))))
        .transpose()?;
    let connected = AdminClient::connect(&data.socket_path())
        .map_err(|e| AppError::unreachable(format!("{e}; check that you may access the data directory")))?;
    let (steps_tx, steps) = mpsc::channel::<Step>();
    // Keeps the in-process worker (if any) alive until the display is done.
    let local = match connected {
        Some(client) => {
            stream_from_daemon(client, id.clone(), phone.clone(), steps_tx);
            None
        }
        None => Some(LocalPairing::start(&config, &data, &id, phone.clone(), steps_tx)?),
    };
    let outcome = display(&id, phone.as_deref(), &steps, timeout).map_err(AppError::from);
    if let Some(local) = local {
        local.stop();
    }
    outcome
}

/// Reads the daemon's pairing stream on a thread.
fn stream_from_daemon(
    mut client: AdminClient,
    tenant: TenantId,
    phone: Option<String>,
    steps: mpsc::Sender<Step>,
) {
    std::thread::spawn(move || {
        if let Err(e) = client.send(&AdminRequest::Pair { tenant, phone }) {
            let _ = steps.send(Err(PairError::Refused(e)));
            return;
        }
        loop {
            // The display loop owns the deadline; this only notices a dead daemon.
            let step = match client.next_reply_within(Duration::from_secs(3600)) {
                Ok(value) => serde_json::from_value::<PairingUpdate>(value).map_err(PairError::Unreadable),
                Err(ClientError::Remote(e)) => Err(PairError::Daemon(e.message)),
                Err(e) => Err(PairError::LostDaemon(e)),
            };
            let last = !matches!(step, Ok(PairingUpdate::Code { .. }));
            if steps.send(step).is_err() || last {
                return;
            }
        }
    });
}

/// Pairing without a daemon: a runtime on its own thread running the
/// tenant's worker under a local supervisor.
struct LocalPairing {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl LocalPairing {
    fn start(
        config: &crate::config::Config,
        data: &crate::paths::DataDir,
        id: &TenantId,
        phone: Option<String>,
        steps: mpsc::Sender<Step>,
    ) -> AppResult<LocalPairing> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}")))?;
        // Opened on the runtime that uses it: a PostgreSQL connection lives on
        // the runtime it was made on.
        let (store, events) = runtime.block_on(open_for_tenant(config, data, id))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (settings, policy) = (
            crate::whatsapp::Settings::from_config(&config.whatsapp),
            crate::whatsapp::restart_policy(&config.whatsapp),
        );
        let (data, id) = (data.clone(), id.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let supervisor = crate::supervisor::Supervisor::start(policy, Duration::ZERO);
                let (handle, lone) = (supervisor.handle(), Ownership::everything());
                let whatsapp = crate::whatsapp::WhatsApp::new(store, events, data, settings, handle, lone);
                let mut session = whatsapp.pairing(&id);
                let request = phone.map_or(PairRequest::Qr, PairRequest::Phone);
                match session.begin(request).await {
                    Err(e) => {
                        let _ = steps.send(Err(PairError::Worker(e)));
                    }
                    Ok(()) => {
                        whatsapp.start(&id);
                        let follow = async {
                            while let Some(update) = session.next().await {
                                let last = !matches!(update, PairingUpdate::Code { .. });
                                if steps.send(Ok(update)).is_err() || last {
                                    return;
                                }
                            }
                            let _ = steps.send(Err(PairError::WorkerStopped));
                        };
                        tokio::select! {
                            _ = follow => {}
                            _ = stopped => {}
                        }
                    }
                }
                // Records `stopped`: the daemon connects the tenant when it starts.
                supervisor.shutdown(Duration::from_secs(15)).await;
            });
        });
        Ok(LocalPairing { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// The store and an event writer for working on tenant `id` without a
/// daemon; refuses an unknown tenant.
async fn open_for_tenant(
    config: &crate::config::Config,
    data: &crate::paths::DataDir,
    id: &TenantId,
) -> AppResult<(crate::store::Store, crate::store::EventWriter)> {
    data.ensure()?;
    let store = crate::store::Store::open(&config.store, data).await?;
    if !store.tenants().exists(id.as_str()).await? {
        return Err(AppError::failed(format!(
            "no tenant `{id}`; add it with `agentlocator tenant add {id}`"
        )));
    }
    let events = crate::store::EventWriter::start(&store)?;
    Ok((store, events))
}

/// Shows each code until the phone links the device, the attempt ends or
/// `timeout` passes.
fn display(
    id: &TenantId,
    phone: Option<&str>,
    steps: &mpsc::Receiver<Step>,
    timeout: Duration,
) -> Result<(), PairError> {
    let mut screen = Screen {
        phone,
        interactive: std::io::stdout().is_terminal(),
        timeout,
        deadline: Instant::now() + timeout,
        codes_shown: 0,
        countdown: None,
    };
    eprintln!("Pairing tenant {id}: waiting for WhatsApp to send a code...");
    loop {
        let update = screen.wait(steps);
        finish(&mut screen.countdown);
        match update? {
            PairingUpdate::Code { pairing } => screen.show(&pairing)?,
            PairingUpdate::Paired { phone } => {
                println!(
                    "Paired: tenant {id} is linked to WhatsApp {}.",
                    phone.as_deref().unwrap_or("(number not reported)")
                );
                return Ok(());
            }
            PairingUpdate::Ended { reason } => return Err(PairError::Ended { reason, tenant: id.clone() }),
        }
    }
}

/// The terminal side of one `tenant pair`: the code on screen and its countdown.
struct Screen<'a> {
    /// The number pairing by code, shown in the instructions.
    phone: Option<&'a str>,
    /// Stdout is a terminal: colours, width check, and each code replacing the last.
    interactive: bool,
    timeout: Duration,
    deadline: Instant,
    codes_shown: u32,
    countdown: Option<indicatif::ProgressBar>,
}

impl Screen<'_> {
    /// The next step, ticking the countdown while it waits; an error once the
    /// deadline passes or no source is left.
    fn wait(&self, steps: &mpsc::Receiver<Step>) -> Step {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match steps.recv_timeout(left.min(Duration::from_millis(250))) {
                Ok(step) => return step,
                Err(mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                    let hint = if self.codes_shown == 0 {
                        "WhatsApp sent no pairing code: can the daemon reach it? (see its log)"
                    } else {
                        "run it again for new codes, or raise --timeout"
                    };
                    return Err(PairError::TimedOut { seconds: self.timeout.as_secs(), hint });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => tick(&self.countdown),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PairError::NoAnswer),
            }
        }
    }

    /// Draws a new code and starts its countdown.
    fn show(&mut self, pairing: &Pairing) -> Result<(), PairError> {
        self.codes_shown += 1;
        show_code(pairing, self.phone, self.interactive, self.codes_shown)?;
        self.countdown = Some(start_countdown(pairing));
        Ok(())
    }
}

fn show_code(pairing: &Pairing, phone: Option<&str>, interactive: bool, shown: u32) -> Result<(), PairError> {
    let mut out = std::io::stdout().lock();
    let write =
        |out: &mut std::io::StdoutLock<'_>, text: &str| writeln!(out, "{text}").map_err(PairError::Terminal);
    match pairing {
        Pairing::Qr { code, codes_left, .. } => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let style = if interactive && !no_color { TerminalStyle::Ansi } else { TerminalStyle::Glyphs };
            let columns = if interactive { terminal_columns() } else { None };
            let drawn = qr::terminal(code, style, columns)?;
            if interactive && shown > 1 {
                // A new code replaces the old one on screen.
                write(&mut out, "\x1b[2J\x1b[H")?;
            }
            write(&mut out, &drawn)?;
            write(
                &mut out,
                &format!(
                    "Scan with WhatsApp on the phone: Settings > Linked devices > Link a device ({codes_left} more code{} after this one)",
                    if *codes_left == 1 { "" } else { "s" }
                ),
            )?;
        }
        Pairing::PhoneCode { code, .. } => {
            let shown = if code.len() == 8 && code.is_ascii() {
                format!("{}-{}", &code[..4], &code[4..])
            } else {
                code.clone()
            };
            write(&mut out, &format!("Pair code: {shown}"))?;
            write(
                &mut out,
                &format!(
                    "On the phone {}: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead, then enter the code.",
                    phone.unwrap_or("")
                ),
            )?;
        }
    }
    out.flush().map_err(PairError::Terminal)
}

fn start_countdown(pairing: &Pairing) -> indicatif::ProgressBar {
    let seconds = pairing.expires_in_s().max(1) as u64;
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(seconds), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(format!("expires in {seconds}s"));
    bar.tick();
    bar
}

fn tick(countdown: &Option<indicatif::ProgressBar>) {
    if let Some(bar) = countdown {
        let total = bar.length().unwrap_or(0);
        let elapsed = bar.elapsed().as_secs().min(total);
        bar.set_position(elapsed);
        bar.set_message(format!("expires in {}s", total - elapsed));
    }
}

fn finish(countdown: &mut Option<indicatif::ProgressBar>) {
    if let Some(bar) = countdown.take() {
        bar.finish_and_clear();
    }
}

/// The terminal's width, when stdout is one.
fn terminal_columns() -> Option<usize> {
    let (terminal_size::Width(columns), _) = terminal_size::terminal_size_of(std::io::stdout())?;
    (columns > 0).then_some(usize::from(columns))
}

/// `tenant logout <id>`: on the daemon's worker when one runs, else here.
pub fn logout(global: &GlobalOptions, id: TenantId, json: bool) -> AppResult<()> {
    let config = global.load_config()?;
    let data = global.data();
    let connected = AdminClient::connect(&data.socket_path())
        .map_err(|e| AppError::unreachable(format!("{e}; check that you may access the data directory")))?;
    let state = match connected {
        Some(mut client) => match client.call(&AdminRequest::Logout { tenant: id.clone() }) {
            Ok(value) => value.get("state").and_then(|s| s.as_str()).unwrap_or("logged_out").to_string(),
            Err(ClientError::Remote(e)) => return Err(AppError::failed(e.message)),
            Err(e) => return Err(AppError::unreachable(format!("daemon did not answer: {e}"))),
        },
        None => logout_locally(&config, &data, &id)?,
    };
    if json {
        return super::render::print_json(&serde_json::json!({"tenant": id, "state": state}));
    }
    println!("Logged out tenant {id}: the session store is wiped; pair again with `agentlocator tenant pair {id}`.");
    Ok(())
}

fn logout_locally(
    config: &crate::config::Config,
    data: &crate::paths::DataDir,
    id: &TenantId,
) -> AppResult<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}")))?;
    let (store, events) = runtime.block_on(open_for_tenant(config, data, id))?;
    runtime.block_on(async {
        let supervisor = crate::supervisor::Supervisor::start(
            crate::whatsapp::restart_policy(&config.whatsapp),
            Duration::ZERO,
        );
        let whatsapp = crate::whatsapp::WhatsApp::new(
            store,
            events,
            data.clone(),
            crate::whatsapp::Settings::from_config(&config.whatsapp),
            supervisor.handle(),
            Ownership::everything(),
        );
        let outcome = whatsapp.logout(id).await;
        supervisor.shutdown(Duration::from_secs(5)).await;
        outcome.map(|s| s.as_str().to_string()).map_err(|e| AppError::failed(e.to_string()))
    })
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for PairError {}
