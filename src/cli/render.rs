//! Output helpers shared by the commands: plain tables and `--json` documents.
//!
//! Text output shows values that others wrote (backends' error answers,
//! WhatsApp's reasons, contacts' names). Every such value passes through
//! [`safe`] here before it reaches the terminal, so none can move the cursor,
//! clear the screen or retitle the window. JSON output needs nothing: serde
//! escapes control characters.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{AppError, AppResult};

/// Prints one JSON document on stdout (and nothing else there).
pub fn print_json<T: Serialize>(value: &T) -> AppResult<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| AppError::failed(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `text` with every character a terminal would act on shown as an escape
/// instead: C0 and C1 controls (ESC, CR, BEL, CSI, ...), DEL, and the
/// bidirectional overrides that reorder what is shown (`\x1b`, `\u{202e}`).
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Prints rows under a header, columns padded to their widest cell. Cells
/// are shown through [`safe`].
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| safe(cell).into_owned()).collect()).collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `-` for an absent value, so table columns never collapse; a present one
/// is shown through [`safe`].
pub fn or_dash(value: Option<&str>) -> String {
    safe(value.filter(|v| !v.is_empty()).unwrap_or("-")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_shown_escaped() {
        assert!(matches!(safe("plain text, ünïcode"), Cow::Borrowed(_)));
        assert_eq!(safe("HTTP 500: \x1b[2Jgone\r\n"), "HTTP 500: \\x1b[2Jgone\\r\\n");
        assert_eq!(safe("\u{9b}31m\u{7}\u{7f}"), "\\x9b31m\\x07\\x7f");
        assert_eq!(safe("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(or_dash(Some("\x1b]0;pwned\x07")), "\\x1b]0;pwned\\x07");
        assert_eq!(or_dash(None), "-");
    }
}
