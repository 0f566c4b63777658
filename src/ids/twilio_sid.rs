//! Twilio resource SIDs (`AC…` accounts, `RE…` recordings): two upper-case
//! letters naming the resource type, then 32 lower-case hex digits.
//!
//! They are checked strictly because they become parts of an outbound URL
//! (and of a file name): with only `[0-9a-f]` after a fixed prefix, a SID
//! cannot carry a `/`, `@`, `..` or anything else that changes where a
//! request goes or where a file lands.

/// The prefix of an account SID.
pub const ACCOUNT: &str = "AC";
/// The prefix of a recording SID.
pub const RECORDING: &str = "RE";

/// Length of every SID: the prefix and 32 hex digits.
const LEN: usize = 34;

/// `raw` when it is a SID with exactly this prefix, else `None`.
pub fn parse<'a>(prefix: &str, raw: &'a str) -> Option<&'a str> {
    let digits = raw.strip_prefix(prefix)?;
    let ok = prefix.len() == 2
        && raw.len() == LEN
        && digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(raw)
}

/// A value that is not an account SID: the start of it, escaped for a log line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not a Twilio account SID (AC followed by 32 lower-case hex digits)")]
pub struct NotAnAccountSid(String);

/// An account SID given by an operator (`--twilio-account-sid`,
/// `twilio.account_sid`), or why it is not one.
pub fn parse_account(raw: &str) -> Result<String, NotAnAccountSid> {
    parse(ACCOUNT, raw)
        .map(str::to_string)
        .ok_or_else(|| NotAnAccountSid(raw.chars().take(40).flat_map(char::escape_default).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefix_and_32_hex_digits_pass() {
        let good = "AC0123456789abcdef0123456789abcdef";
        assert_eq!(parse(ACCOUNT, good), Some(good));
        assert_eq!(parse(RECORDING, good), None);
        assert!(parse_account(good).is_ok());
        for bad in [
            "",
            "AC",
            "ac0123456789abcdef0123456789abcdef",
            "AC0123456789ABCDEF0123456789abcdef",
            "AC0123456789abcdef0123456789abcde",
            "AC0123456789abcdef0123456789abcdef0",
            "AC0123456789abcdef0123456789abcde/",
            "AC0123456789abcdef0123456789abc@de",
            "AC0123456789abcdef0123456789ab..de",
            "AC0123456789abcdef0123456789abcdeé",
        ] {
            assert_eq!(parse(ACCOUNT, bad), None, "{bad}");
            assert!(parse_account(bad).is_err(), "{bad}");
        }
    }
}
