//! An outbound HTTP request's failure in a few words an operator can act on:
//! "timed out", "cannot connect: …", "reading the body failed: …" or
//! "request failed: …". The detail is the innermost cause (e.g.
//! "Connection refused (os error 111)"); the URL, which may carry a secret in
//! its query, is never part of it.

/// A `reqwest` failure as one short line without the URL. Callers add their
/// own context (what was fetched, a hint) around it.
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    match innermost_cause(error) {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

/// The deepest `source()` of `error` (not `error` itself, whose text names the URL).
fn innermost_cause(error: &reqwest::Error) -> Option<String> {
    let mut cause = std::error::Error::source(error)?;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Some(cause.to_string()).filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_named_without_the_url() {
        // A port nothing listens on: bind one, then free it.
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let url = format!("http://127.0.0.1:{port}/hook?token=SECRET");
        let error = reqwest::get(&url).await.expect_err("nothing listens");
        let text = describe(&error);
        assert!(text.starts_with("cannot connect"), "{text}");
        assert!(!text.contains("SECRET") && !text.contains("/hook"), "{text}");
    }
}
