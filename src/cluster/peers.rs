//! How one node calls another node's API: at the address the other node
//! advertised (read from the lease table, never one a caller chose), under
//! the internal secret every node shares, naming itself as the forwarder.
//! The HTTP API's forwarding of live-client calls (`http::forward`) and the
//! admin socket's `tenant pair` for a tenant on another node both go
//! through [`Peers`], so both authenticate the same way.
//!
//! A request carrying [`FORWARDED_BY`] is answered where it lands: two nodes
//! that disagree about a lease for a moment cannot bounce a request between
//! them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;

use crate::ownership::NodeIdentity;
use crate::store::cluster::Owner;

/// Set on a forwarded request to the forwarding node's id: the loop guard.
pub const FORWARDED_BY: HeaderName = HeaderName::from_static("x-agentlocator-forwarded-by");

/// How long a call waits to connect to another node: nodes share a network,
/// so a longer wait means the node is gone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Headers that concern one connection, not the request (RFC 9110 §7.6.1,
/// plus the legacy ones still seen): never copied across a hop. `expect` is
/// answered by the hop that receives it.
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

/// This node as a caller of the other nodes.
#[derive(Clone)]
pub struct Peers {
    node: Arc<NodeIdentity>,
    secret: Arc<String>,
}

/// Why a call to another node could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The address the node advertised cannot be called.
    #[error("node {node}'s address `{address}` is unusable: {why}")]
    Address { node: String, address: String, why: &'static str },
    #[error("no HTTP client for calls between nodes: {0}")]
    Client(&'static str),
    /// The internal secret or the node id cannot travel in a header.
    #[error("{0} cannot be sent in a header")]
    Header(&'static str),
}

impl Peers {
    /// `secret`: the internal secret, which every node of the cluster shares.
    pub fn new(node: Arc<NodeIdentity>, secret: Arc<String>) -> Peers {
        Peers { node, secret }
    }

    /// This node.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// A request to `owner` for `path_and_query` (absolute, from `/`) with
    /// the end-to-end ones of `headers`, the caller's credentials replaced
    /// by the internal secret (this node has authorized the caller; the
    /// owner trusts its peers). No overall time limit: the caller sets one
    /// when the answer is not a stream.
    pub fn request(
        &self,
        owner: &Owner,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Result<reqwest::RequestBuilder, PeerError> {
        let url = target(&owner.address, path_and_query).map_err(|why| PeerError::Address {
            node: owner.node.clone(),
            address: owner.address.clone(),
            why,
        })?;
        let headers = outgoing_headers(headers, &self.secret, &self.node.id)?;
        Ok(client().map_err(PeerError::Client)?.request(method, url).headers(headers))
    }
}

/// The owner's URL for a request: its address (from the database, as the
/// owner advertised it) with the request's path and query. Anything but an
/// absolute http(s) URL with no query, fragment or credentials of its own is
/// refused.
fn target(address: &str, path_and_query: &str) -> Result<reqwest::Url, &'static str> {
    let base = reqwest::Url::parse(address).map_err(|_| "not a URL")?;
    if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
        return Err("not an absolute http:// or https:// URL");
    }
    if base.query().is_some()
        || base.fragment().is_some()
        || !base.username().is_empty()
        || base.password().is_some()
    {
        return Err("it carries a query, a fragment or credentials");
    }
    if !path_and_query.starts_with('/') {
        return Err("the request's path is not absolute");
    }
    reqwest::Url::parse(&format!("{}{path_and_query}", address.trim_end_matches('/')))
        .map_err(|_| "not a URL with the request's path")
}

/// The request's end-to-end headers, with the internal secret as the
/// credentials and `node` named as the forwarder.
fn outgoing_headers(incoming: &HeaderMap, secret: &str, node: &str) -> Result<HeaderMap, PeerError> {
    let mut headers = end_to_end(incoming);
    // reqwest sets the owner's own.
    headers.remove(header::HOST);
    let mut bearer = HeaderValue::from_str(&format!("Bearer {secret}"))
        .map_err(|_| PeerError::Header("the internal secret"))?;
    bearer.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, bearer);
    let by = HeaderValue::from_str(node).map_err(|_| PeerError::Header("the node id"))?;
    headers.insert(FORWARDED_BY, by);
    Ok(headers)
}

/// `headers` without the hop-by-hop ones, including any the `Connection`
/// header names.
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(name) && !named.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The one client every call between nodes uses (its connections pooled per
/// node). Redirects are relayed, not followed; no proxy from the
/// environment sits between nodes.
fn client() -> Result<&'static reqwest::Client, &'static str> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .map_err(|e| crate::outbound_error::describe(&e))
        })
        .as_ref()
        .map_err(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absolute_http_address_is_a_target() {
        let path = "/api/whatsapp/acme/qr?format=png";
        let url = target("https://node-2.internal:8080/", path).expect("an http URL");
        assert_eq!(url.as_str(), "https://node-2.internal:8080/api/whatsapp/acme/qr?format=png");
        let url = target("http://10.0.0.2:8080/prefix", path).expect("a path prefix");
        assert_eq!(url.path(), "/prefix/api/whatsapp/acme/qr");
        for refused in
            ["", "node-2:8080", "/relative", "ftp://node-2/", "http://u:p@node-2/", "http://node-2/?a=1"]
        {
            assert!(target(refused, path).is_err(), "{refused}");
        }
        assert!(target("http://node-2", "@evil.example/x").is_err(), "a path must start at /");
    }

    #[test]
    fn hop_by_hop_headers_stay_and_the_credentials_are_replaced() {
        let mut incoming = HeaderMap::new();
        incoming.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer tenant-token"));
        incoming.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, X-Hop"));
        incoming.insert("x-hop", HeaderValue::from_static("1"));
        incoming.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        incoming.insert(header::HOST, HeaderValue::from_static("lb.example"));
        incoming.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        incoming.insert("x-request-id", HeaderValue::from_static("r-1"));
        let out = outgoing_headers(&incoming, "s3cret", "node-1").expect("headers");
        assert_eq!(out[header::AUTHORIZATION], "Bearer s3cret");
        assert!(out[header::AUTHORIZATION].is_sensitive());
        assert_eq!(out[&FORWARDED_BY], "node-1");
        assert_eq!(out[header::CONTENT_TYPE], "application/json");
        assert_eq!(out["x-request-id"], "r-1");
        for gone in ["connection", "x-hop", "transfer-encoding", "host"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }
}
