//! Reading stanzas: the two accessors every stanza handler uses.

use wacore_binary::{Node, NodeContent};

/// An attribute as a string (JIDs rendered).
pub(crate) fn attr(node: &Node, key: &str) -> Option<String> {
    node.attrs.get(key).map(|v| v.as_str().into_owned())
}

/// A child's byte content.
pub(crate) fn child_bytes<'a>(node: &'a Node, tag: &str) -> Option<&'a [u8]> {
    match &node.get_optional_child(tag)?.content {
        Some(NodeContent::Bytes(b)) => Some(b),
        _ => None,
    }
}
