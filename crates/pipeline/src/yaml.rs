//! YAML text -> a tree whose every node knows its line and column.
//!
//! This is the only place that touches a YAML library. It reads events from `yaml-rust2`
//! (which exposes positions, unlike serde_yaml) and builds [`Node`]s with its own explicit
//! stack, so that hostile input cannot overflow our stack (depth is capped at
//! [`MAX_DEPTH`]) nor our memory (aliases are expanded against a budget of [`MAX_NODES`]
//! nodes, which stops "billion laughs" after a few thousand nodes). Scalars are resolved with
//! the YAML 1.2 core schema. Problems that still leave a usable tree (duplicate keys, merge
//! keys, unsupported tags) are collected; syntax errors and limits stop the build.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of lists and mappings accepted; pipeline files need fewer than 10.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 100_000;

/// 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn pair(self) -> (usize, usize) {
        (self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64 but within u64.
    UInt(u64),
    /// An integer beyond 64 bits, kept as written.
    BigInt(String),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

impl Node {
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(e) => Some(e),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// Number of nodes in this subtree (itself included).
    fn size(&self) -> usize {
        match &self.kind {
            Kind::Scalar(_) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Kind::Map(entries) => 1 + entries.iter().map(|e| 1 + e.value.size()).sum::<usize>(),
        }
    }

    /// Short description of what the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
            Kind::Scalar(s) => match s {
                Scalar::Null => "nothing (null)".into(),
                Scalar::Bool(b) => format!("the boolean {b}"),
                Scalar::Int(i) => format!("the number {i}"),
                Scalar::UInt(u) => format!("the number {u}"),
                Scalar::BigInt(t) => format!("the number {t}"),
                Scalar::Float(f) => format!("the number {}", fmt_float(*f)),
                Scalar::Str(s) => format!("the string {}", quote(s)),
            },
        }
    }
}

/// Floats as a user would write them (`1.0`, not `1`).
pub fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// A user string in messages: double-quoted, escaped, and cut if long.
pub fn quote(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    let more = if cut.len() < s.len() { "..." } else { "" };
    format!("{:?}{more}", cut)
}

/// A problem found while reading the YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub path: String,
    pub message: String,
}

/// Result of reading one document: the tree (absent after a fatal error) and every problem.
pub struct Parsed {
    pub root: Option<Node>,
    pub errors: Vec<YamlError>,
}

fn pos_of(m: &Marker) -> Pos {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Parses `text` as a single YAML document.
pub fn parse(text: &str) -> Parsed {
    let mut b = Builder::default();
    let root = match b.run(text) {
        Ok(root) => root,
        Err(e) => {
            b.errors.push(e);
            None
        }
    };
    Parsed {
        root,
        errors: b.errors,
    }
}

/// An open collection while building.
enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
        seen: HashMap<String, Pos>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    errors: Vec<YamlError>,
}

impl Builder {
    /// Field path of the node about to be added, from the open frames.
    fn path(&self) -> String {
        let mut p = String::new();
        for f in &self.stack {
            match f {
                Frame::Seq { items, .. } => p.push_str(&format!("[{}]", items.len())),
                Frame::Map {
                    key: Some((k, _)), ..
                } => {
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(k);
                }
                Frame::Map { key: None, .. } => {}
            }
        }
        p
    }

    fn fatal(&self, pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            pos: Some(pos),
            path: self.path(),
            message: message.into(),
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.fatal(
                pos,
                format!("the document expands to more than {MAX_NODES} values (aliases included); refusing to read it"),
            ));
        }
        Ok(())
    }

    fn run(&mut self, text: &str) -> Result<Option<Node>, YamlError> {
        let mut parser = Parser::new_from_str(text);
        let mut root: Option<Node> = None;
        let mut docs = 0usize;
        loop {
            let (event, mark) = parser.next_token().map_err(|e| YamlError {
                pos: Some(pos_of(e.marker())),
                path: String::new(),
                message: format!("invalid YAML: {}", e.info()),
            })?;
            let pos = pos_of(&mark);
            match event {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart => {
                    docs += 1;
                    if docs > 1 {
                        return Err(YamlError {
                            pos: Some(pos),
                            path: String::new(),
                            message: "expected a single YAML document, found a second one (`---`)"
                                .into(),
                        });
                    }
                }
                Event::Alias(id) => {
                    let Some((node, size)) = self.anchors.get(&id).map(|(n, s)| (n.clone(), *s))
                    else {
                        return Err(self.fatal(pos, "alias to an unknown anchor"));
                    };
                    self.count(size, pos)?;
                    // Point the copy at the alias, where the user will look.
                    let node = Node { pos, ..node };
                    if let Some(done) = self.add(node)? {
                        root = Some(done);
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.count(1, pos)?;
                    let scalar = self.resolve(value, style, tag, pos);
                    let node = Node {
                        pos,
                        kind: Kind::Scalar(scalar),
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, (node.clone(), 1));
                    }
                    if let Some(done) = self.add(node)? {
                        root = Some(done);
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(pos, tag.as_ref())?;
                    self.stack.push(Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    });
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(pos, tag.as_ref())?;
                    self.stack.push(Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: HashMap::new(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let node = match self.stack.pop() {
                        Some(Frame::Seq { pos, anchor, items }) => (
                            Node {
                                pos,
                                kind: Kind::Seq(items),
                            },
                            anchor,
                        ),
                        Some(Frame::Map {
                            pos,
                            anchor,
                            entries,
                            ..
                        }) => {
                            // yaml-rust2 marks a block mapping at its first ':'; the first key
                            // is where a reader looks for "this mapping".
                            let pos = entries.first().map_or(pos, |e| e.key_pos.min(pos));
                            (
                                Node {
                                    pos,
                                    kind: Kind::Map(entries),
                                },
                                anchor,
                            )
                        }
                        None => {
                            return Err(
                                self.fatal(pos, "invalid YAML: unbalanced end of collection")
                            )
                        }
                    };
                    let (node, anchor) = node;
                    if anchor > 0 {
                        let size = node.size();
                        self.anchors.insert(anchor, (node.clone(), size));
                    }
                    if let Some(done) = self.add(node)? {
                        root = Some(done);
                    }
                }
            }
        }
    }

    /// Checks the limits before a collection is opened.
    fn open(&mut self, pos: Pos, tag: Option<&Tag>) -> Result<(), YamlError> {
        self.count(1, pos)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.fatal(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels; refusing to read further"),
            ));
        }
        if let Some(t) = tag {
            let path = self.path();
            self.errors.push(YamlError {
                pos: Some(pos),
                path,
                message: format!(
                    "unsupported YAML tag '{}{}' on a collection",
                    t.handle, t.suffix
                ),
            });
        }
        Ok(())
    }

    /// Adds a finished node to the open collection; returns it when it is the document root.
    fn add(&mut self, node: Node) -> Result<Option<Node>, YamlError> {
        let path = self.path();
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Map {
                entries, key, seen, ..
            }) => {
                match key.take() {
                    Some((k, key_pos)) => {
                        if let Some(first) = seen.get(&k) {
                            self.errors.push(YamlError {
                                pos: Some(key_pos),
                                path,
                                message: format!(
                                    "duplicate key '{k}' (first defined at line {}, column {})",
                                    first.line, first.col
                                ),
                            });
                        } else {
                            seen.insert(k.clone(), key_pos);
                            entries.push(Entry {
                                key: k,
                                key_pos,
                                value: node,
                            });
                        }
                    }
                    None => {
                        let k = match &node.kind {
                            Kind::Scalar(s) => scalar_key(s),
                            _ => {
                                self.errors.push(YamlError {
                                    pos: Some(node.pos),
                                    path: path.clone(),
                                    message: format!(
                                        "expected a plain key, found {} used as a key",
                                        node.describe()
                                    ),
                                });
                                // Keep going with a key nobody can ask for.
                                format!("\u{0}complex@{}:{}", node.pos.line, node.pos.col)
                            }
                        };
                        if k == "<<" {
                            self.errors.push(YamlError {
                                pos: Some(node.pos),
                                path: path.clone(),
                                message: "merge keys ('<<') are not supported; write the keys out, or alias the whole mapping".into(),
                            });
                        }
                        *key = Some((k, node.pos));
                    }
                }
                Ok(None)
            }
        }
    }

    fn resolve(
        &mut self,
        value: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        pos: Pos,
    ) -> Scalar {
        if let Some(t) = tag {
            let core = t.handle == "tag:yaml.org,2002:" || t.handle == "!!";
            match (core, t.suffix.as_str()) {
                (true, "str") => return Scalar::Str(value),
                (true, "int" | "float" | "bool" | "null") => {}
                _ => {
                    let path = self.path();
                    self.errors.push(YamlError {
                        pos: Some(pos),
                        path,
                        message: format!("unsupported YAML tag '{}{}'; only !!str, !!int, !!float, !!bool and !!null are understood", t.handle, t.suffix),
                    });
                }
            }
            return resolve_plain(value);
        }
        if style == TScalarStyle::Plain {
            resolve_plain(value)
        } else {
            Scalar::Str(value)
        }
    }
}

/// A scalar used as a mapping key, as text.
fn scalar_key(s: &Scalar) -> String {
    match s {
        Scalar::Null => "null".into(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::UInt(u) => u.to_string(),
        Scalar::BigInt(t) => t.clone(),
        Scalar::Float(f) => fmt_float(*f),
        Scalar::Str(s) => s.clone(),
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(v: String) -> Scalar {
    match v.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = v.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match u64::from_str_radix(hex, 16) {
                Ok(u) => int_from_u64(u),
                Err(_) => Scalar::BigInt(v),
            };
        }
    }
    if let Some(oct) = v.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return match u64::from_str_radix(oct, 8) {
                Ok(u) => int_from_u64(u),
                Err(_) => Scalar::BigInt(v),
            };
        }
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(&v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = v.parse::<i64>() {
            return Scalar::Int(i);
        }
        if let Ok(u) = digits.parse::<u64>() {
            if !v.starts_with('-') {
                return Scalar::UInt(u);
            }
        }
        return Scalar::BigInt(v);
    }
    if is_float(digits) {
        if let Ok(f) = v.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(v)
}

fn int_from_u64(u: u64) -> Scalar {
    i64::try_from(u).map(Scalar::Int).unwrap_or(Scalar::UInt(u))
}

/// `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one digit in the mantissa.
fn is_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    let digits_ok = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
        return false;
    }
    match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits_ok(e)
        }
    }
}
