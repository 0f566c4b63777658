//! Validation of the settings an operator gives a tenant (`add`/`set`).

use serde::{Deserialize, Serialize};

use crate::store::tenants::TenantUpdate;

/// Why a tenant's settings were refused; each message names the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--name: give 1 to 200 printable characters")]
    Name,
    #[error("--webhook-url: `{url}` is not a URL ({reason}); give an absolute http:// or https:// URL")]
    WebhookUrlUnparsable {
        url: String,
        #[source]
        reason: url::ParseError,
    },
    #[error("--webhook-url: `{0}` must be an absolute http:// or https:// URL")]
    WebhookUrlNotHttp(String),
    #[error("--webhook-url: credentials in the URL would be logged and shown; the receiver verifies our signature instead")]
    WebhookUrlCredentials,
    #[error("--twilio-auth-token: expected Twilio's auth token (printable ASCII, at most 128 characters)")]
    AuthToken,
    #[error("--twilio-account-sid: {0}")]
    AccountSid(#[source] crate::ids::twilio_sid::NotAnAccountSid),
    #[error(transparent)]
    Number(#[from] InvalidPhone),
    /// The voice TwiML template's own message.
    #[error(transparent)]
    VoiceTwiml(#[from] crate::twilio::twiml::TemplateError),
}

/// A phone number that is not E.164.
#[derive(Debug, thiserror::Error)]
#[error("`{shown}` is not an E.164 phone number (like +14155550100)")]
pub struct InvalidPhone {
    /// The rejected input, cut to 40 characters and escaped so control characters cannot reach a
    /// terminal.
    shown: String,
}

/// Settings as given on the command line or over the admin socket. On `set`,
/// an empty string clears an optional setting.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TenantSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Replaces the tenant's whole list when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twilio_numbers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twilio_auth_token: Option<String>,
    /// The Twilio account the tenant's own auth token belongs to (`AC…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twilio_account_sid: Option<String>,
    /// TwiML answered to voice webhooks; `{{recording_status_callback}}` and
    /// `{{tenant}}` are filled in. Empty on `set` restores the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_twiml: Option<String>,
}

/// Debug output never shows the auth token, so a stray `{:?}` cannot leak it.
impl std::fmt::Debug for TenantSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSettings")
            .field("name", &self.name)
            .field("webhook_url", &self.webhook_url)
            .field("twilio_numbers", &self.twilio_numbers)
            .field("twilio_auth_token", &self.twilio_auth_token.as_ref().map(|_| "<redacted>"))
            .field("twilio_account_sid", &self.twilio_account_sid)
            .finish_non_exhaustive()
    }
}

impl TenantSettings {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.webhook_url.is_none()
            && self.twilio_numbers.is_none()
            && self.twilio_auth_token.is_none()
            && self.twilio_account_sid.is_none()
            && self.voice_twiml.is_none()
    }

    /// Checks every value and turns the settings into a store update.
    pub fn validate(&self) -> Result<TenantUpdate, SettingsError> {
        let name = match &self.name {
            Some(name) => Some(validate_name(name)?),
            None => None,
        };
        let webhook_url = match self.webhook_url.as_deref() {
            Some("") => Some(None),
            Some(url) => Some(Some(validate_webhook_url(url)?)),
            None => None,
        };
        let twilio_auth_token = match self.twilio_auth_token.as_deref() {
            Some("") => Some(None),
            Some(token) => Some(Some(validate_auth_token(token)?)),
            None => None,
        };
        let twilio_account_sid = match self.twilio_account_sid.as_deref() {
            Some("") => Some(None),
            Some(sid) => {
                Some(Some(crate::twilio::sid::parse_account(sid).map_err(SettingsError::AccountSid)?))
            }
            None => None,
        };
        let twilio_numbers = match &self.twilio_numbers {
            Some(numbers) => {
                let mut parsed = numbers.iter().map(|n| parse_e164(n)).collect::<Result<Vec<_>, _>>()?;
                parsed.sort();
                parsed.dedup();
                Some(parsed)
            }
            None => None,
        };
        let voice_twiml = match self.voice_twiml.as_deref() {
            Some("") => Some(None),
            Some(twiml) => Some(Some(crate::twilio::twiml::validate_template(twiml)?)),
            None => None,
        };
        Ok(TenantUpdate {
            name,
            webhook_url,
            twilio_auth_token,
            twilio_account_sid,
            twilio_numbers,
            voice_twiml,
        })
    }
}

fn validate_name(name: &str) -> Result<String, SettingsError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(SettingsError::Name);
    }
    Ok(name.to_string())
}

fn validate_webhook_url(url: &str) -> Result<String, SettingsError> {
    let parsed = url::Url::parse(url)
        .map_err(|reason| SettingsError::WebhookUrlUnparsable { url: url.to_string(), reason })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(SettingsError::WebhookUrlNotHttp(url.to_string()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SettingsError::WebhookUrlCredentials);
    }
    Ok(parsed.to_string())
}

fn validate_auth_token(token: &str) -> Result<String, SettingsError> {
    if token.len() > 128 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(SettingsError::AuthToken);
    }
    Ok(token.to_string())
}

/// An E.164 phone number: `+`, then 2 to 15 digits, the first not 0.
pub fn parse_e164(raw: &str) -> Result<String, InvalidPhone> {
    let digits = raw.strip_prefix('+').unwrap_or("");
    let ok = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(raw.to_string())
    } else {
        let shown: String = raw.chars().take(40).flat_map(char::escape_default).collect();
        Err(InvalidPhone { shown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert!(parse_e164("+14155550100").is_ok());
        for bad in ["14155550100", "+0123", "+1", "+1234567890123456", "+1-415", ""] {
            assert!(parse_e164(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_the_flag_to_fix() {
        let refusal = |s: TenantSettings| s.validate().expect_err("refused").to_string();
        let name = TenantSettings { name: Some(" ".into()), ..Default::default() };
        assert_eq!(refusal(name), "--name: give 1 to 200 printable characters");
        let url = TenantSettings { webhook_url: Some("ftp://x".into()), ..Default::default() };
        assert_eq!(refusal(url), "--webhook-url: `ftp://x` must be an absolute http:// or https:// URL");
        let numbers = TenantSettings { twilio_numbers: Some(vec!["+0123".into()]), ..Default::default() };
        assert_eq!(refusal(numbers), "`+0123` is not an E.164 phone number (like +14155550100)");
    }

    #[test]
    fn empty_strings_clear_and_bad_urls_are_refused() {
        let s = TenantSettings { webhook_url: Some(String::new()), ..Default::default() };
        assert_eq!(s.validate().expect("ok").webhook_url, Some(None));
        for bad in ["ftp://x", "not a url", "http://user:pw@host/"] {
            let s = TenantSettings { webhook_url: Some(bad.into()), ..Default::default() };
            assert!(s.validate().is_err(), "{bad}");
        }
    }
}
