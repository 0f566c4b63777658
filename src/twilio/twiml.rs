//! The TwiML we answer with. Voice calls get the tenant's template (or the
//! default: a short greeting, then `<Record>` whose status callback brings the
//! recording back to us); every other webhook gets an empty `<Response/>`.

/// Answer to sms, status and recording webhooks.
pub const EMPTY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// The placeholders a template may use. Values are XML-escaped.
pub const RECORDING_CALLBACK_PLACEHOLDER: &str = "{{recording_status_callback}}";
pub const TENANT_PLACEHOLDER: &str = "{{tenant}}";

/// The voice answer when a tenant has configured none.
pub const DEFAULT_VOICE_TEMPLATE: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<Response>",
    "<Say>Hello. Please leave a message after the tone.</Say>",
    "<Record maxLength=\"120\" playBeep=\"true\" ",
    "recordingStatusCallback=\"{{recording_status_callback}}\" ",
    "recordingStatusCallbackMethod=\"POST\" recordingStatusCallbackEvent=\"completed\"/>",
    "</Response>"
);

/// Longest template accepted (Twilio itself refuses TwiML over 64 KB).
const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Why an operator's voice template was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    #[error("--voice-twiml: at most {MAX_TEMPLATE_BYTES} bytes")]
    TooLong,
    #[error("--voice-twiml: expected TwiML, e.g. `<Response><Say>Hi</Say></Response>` (or @FILE)")]
    NotTwiml,
}

/// Checks an operator's template: non-empty TwiML with a `<Response` root.
pub fn validate_template(raw: &str) -> Result<String, TemplateError> {
    let twiml = raw.trim();
    if twiml.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLong);
    }
    let body =
        twiml.strip_prefix("<?xml").map(|rest| rest.split_once("?>").map_or("", |(_, r)| r.trim_start()));
    let body = body.unwrap_or(twiml);
    if !body.starts_with("<Response") || !(body.ends_with("</Response>") || body.ends_with("/>")) {
        return Err(TemplateError::NotTwiml);
    }
    Ok(twiml.to_string())
}

/// The voice answer for `tenant`: its template (or the default) with the
/// placeholders filled in.
pub fn voice(template: Option<&str>, tenant: &str, recording_status_callback: &str) -> String {
    template
        .unwrap_or(DEFAULT_VOICE_TEMPLATE)
        .replace(RECORDING_CALLBACK_PLACEHOLDER, &escape(recording_status_callback))
        .replace(TENANT_PLACEHOLDER, &escape(tenant))
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_voice_records_back_to_us() {
        let twiml = voice(None, "acme", "https://h.example/webhook/acme/recording?a=1&b=2");
        assert!(twiml.contains("<Record "), "{twiml}");
        assert!(
            twiml
                .contains("recordingStatusCallback=\"https://h.example/webhook/acme/recording?a=1&amp;b=2\""),
            "{twiml}"
        );
        assert!(!twiml.contains("{{"), "{twiml}");
    }

    #[test]
    fn templates_are_checked_and_filled() {
        assert!(validate_template("<Response><Say>{{tenant}}</Say></Response>").is_ok());
        assert!(validate_template("<?xml version=\"1.0\"?>\n<Response/>").is_ok());
        for bad in ["", "hello", "<Say>x</Say>", "<Response><Say>x</Say>"] {
            assert!(validate_template(bad).is_err(), "{bad}");
        }
        assert_eq!(
            voice(Some("<Response><Say>{{tenant}}</Say></Response>"), "a<b", "u"),
            "<Response><Say>a&lt;b</Say></Response>"
        );
    }
}
