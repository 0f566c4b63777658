//! Twilio: webhook signature verification, what a webhook becomes (its
//! dedupe key, its event, its TwiML answer), and the background fetch of call
//! recordings. The webhook routes themselves are `http::twilio`.
//!
//! A webhook is verified (`X-Twilio-Signature`), stored as an event through
//! the group-commit writer (durable before we answer), and answered at once;
//! a completed recording's event is stored `held`, which queues a job
//! (`twilio.recording`) that downloads the audio and then releases the event
//! for delivery.

mod download;
pub mod recording;
pub mod signature;
pub mod twiml;
mod wav;
pub mod webhook;

pub use crate::ids::twilio_sid as sid;
pub use recording::RecordingFetch;

/// The event types of the README's "Events delivered to your backend", by webhook kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    Voice,
    Sms,
    Status,
    Recording,
}

impl WebhookKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "voice" => Some(Self::Voice),
            "sms" => Some(Self::Sms),
            "status" => Some(Self::Status),
            "recording" => Some(Self::Recording),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Sms => "sms",
            Self::Status => "status",
            Self::Recording => "recording",
        }
    }

    pub fn event_type(self) -> &'static str {
        match self {
            Self::Voice => "twilio.voice",
            Self::Sms => "twilio.sms",
            Self::Status => "twilio.call_status",
            Self::Recording => RECORDING_EVENT,
        }
    }

    /// The parameters naming the call, message or recording, first found wins.
    fn sid_params(self) -> &'static [&'static str] {
        match self {
            Self::Voice => &["CallSid"],
            Self::Sms => &["MessageSid", "SmsSid"],
            Self::Status => &["CallSid", "MessageSid", "SmsSid"],
            Self::Recording => &["RecordingSid"],
        }
    }

    /// The parameters carrying the status that makes a redelivery the same event.
    fn status_params(self) -> &'static [&'static str] {
        match self {
            Self::Voice => &["CallStatus"],
            Self::Sms => &["SmsStatus", "MessageStatus"],
            Self::Status => &["CallStatus", "MessageStatus", "SmsStatus"],
            Self::Recording => &["RecordingStatus"],
        }
    }
}

/// The event type (and job kind) of a recording status callback.
pub const RECORDING_EVENT: &str = "twilio.recording";
