//! A JSON parser that keeps the position of every value, rejects duplicate keys at any depth and
//! reports syntax errors the way Packer does (line, column, offset and a caret excerpt).

/// Where a value starts in the source text. `line` and `col` are 1-based; `offset` is a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

/// A JSON value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's source text is kept so `5` and `5.0` can be told apart like Go does.
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Object),
}

/// A JSON object in source order. Keys are unique (duplicates are a parse error).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    pub entries: Vec<(String, Pos, Node)>,
}

impl Object {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _, _)| k == key).map(|(_, _, n)| n)
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _, _)| k.as_str())
    }
}
