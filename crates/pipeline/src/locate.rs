//! Field path -> line and column in a spec's text, so later stages (the planner) can point
//! at the place a problem comes from.

use crate::model::Spec;
use crate::yaml::{self, Kind, Node};

/// Line and column (1-based) of the value at `path` (`stages.eval.needs[0]`), if the text
/// has it. Keys that contain dots are matched whole.
pub fn location(spec: &Spec, path: &str) -> Option<(usize, usize)> {
    let root = yaml::parse(&spec.text).root?;
    if path.is_empty() {
        return Some(root.pos.pair());
    }
    find(&root, path).map(|n| n.pos.pair())
}

fn find<'n>(node: &'n Node, path: &str) -> Option<&'n Node> {
    if path.is_empty() {
        return Some(node);
    }
    if let Some(rest) = path.strip_prefix('[') {
        let (idx, after) = rest.split_once(']')?;
        let i: usize = idx.parse().ok()?;
        let Kind::Seq(items) = &node.kind else {
            return None;
        };
        return find(items.get(i)?, strip_dot(after));
    }
    let entries = node.entries()?;
    // Longest key first, so that a key holding a dot wins over its prefix.
    let mut best: Option<(&str, &Node)> = None;
    for e in entries {
        if let Some(after) = path.strip_prefix(e.key.as_str()) {
            let boundary = after.is_empty() || after.starts_with('.') || after.starts_with('[');
            if boundary && best.is_none_or(|(k, _)| e.key.len() > k.len()) {
                best = Some((e.key.as_str(), &e.value));
            }
        }
    }
    let (k, v) = best?;
    find(v, strip_dot(&path[k.len()..]))
}

fn strip_dot(s: &str) -> &str {
    s.strip_prefix('.').unwrap_or(s)
}
