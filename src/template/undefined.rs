//! References to user variables that are not defined, outside the variables pass.
//!
//! Packer 1.6.6 renders `{{user `nope`}}` as "" there without a word (in variable defaults it is
//! an error, see `variables.rs`). rpack renders "" too, so templates sharing a var-file with
//! others keep working, but reports every such reference as a warning naming the variable and
//! where it is used; with `-strict` (or `RPACK_STRICT=1`) the warnings are errors.
//!
//! The render context carries a [`Sink`]: the `user` function records the name, and the
//! config decoder, which knows the key and its position, completes the record.

use std::sync::{Arc, Mutex};

use crate::template::json::Pos;

/// One reference to an undefined variable.
#[derive(Debug, Clone, PartialEq)]
pub struct UndefinedRef {
    pub name: String,
    /// The key whose value holds the reference (`ami_description`, `tags[Name]`).
    pub key: Option<String>,
    /// Where that value is in the template.
    pub pos: Option<Pos>,
    /// At most ~80 characters of the value around the reference.
    pub excerpt: Option<String>,
}

/// Where renders record undefined references; shared by the clones of one context.
#[derive(Debug, Clone, Default)]
pub struct Sink(Arc<Mutex<Vec<UndefinedRef>>>);

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<UndefinedRef>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a reference (the `user` function does, knowing only the name).
    pub fn record(&self, name: &str) {
        self.lock().push(UndefinedRef {
            name: name.to_string(),
            key: None,
            pos: None,
            excerpt: None,
        });
    }

    /// How many references were recorded so far (a mark for [`Sink::locate_since`]).
    pub fn mark(&self) -> usize {
        self.lock().len()
    }

    /// Gives the references recorded since `mark` the key, position and value they came from.
    pub fn locate_since(&self, mark: usize, key: &str, pos: Pos, value: &str) {
        let mut refs = self.lock();
        for r in refs.iter_mut().skip(mark) {
            if r.key.is_none() {
                r.key = Some(key.to_string());
                r.pos = Some(pos);
                r.excerpt = Some(excerpt(value, &r.name));
            }
        }
    }

    /// Every distinct reference, in the order first seen (a key decoded for several builds or
    /// through several overrides is reported once).
    pub fn take(&self) -> Vec<UndefinedRef> {
        let mut out: Vec<UndefinedRef> = Vec::new();
        for r in self.lock().drain(..) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

/// The names `user` is called with literally (`{{user `x`}}`, `{{ user "x" }}`) in actions of
/// `s`: how values rendered only later, with build data, are checked for undefined variables.
pub fn user_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let end = after.find("}}").unwrap_or(after.len());
        let action = &after[..end];
        let mut words = action;
        while let Some(i) = words.find("user") {
            let before_ok = words[..i]
                .chars()
                .last()
                .is_none_or(|c| c.is_whitespace() || c == '(' || c == '-' || c == '{' || c == '|');
            let tail = &words[i + 4..];
            let arg = tail.trim_start();
            if before_ok && arg.len() < tail.len() {
                if let Some(q) = arg.chars().next().filter(|c| *c == '`' || *c == '"') {
                    if let Some(close) = arg[1..].find(q) {
                        out.push(arg[1..=close].to_string());
                    }
                }
            }
            words = tail;
        }
        rest = &after[end..];
    }
    out
}

/// Up to about 80 characters of `value` around the first mention of `name`, with `…` where
/// text was cut, so a value of several KB is never pasted whole.
pub fn excerpt(value: &str, name: &str) -> String {
    const SIDE: usize = 40;
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 2 * SIDE {
        return value.to_string();
    }
    let at_byte = value.find(name).unwrap_or(0);
    let at = value[..at_byte].chars().count();
    let start = at.saturating_sub(SIDE);
    let end = (at + name.chars().count() + SIDE).min(chars.len());
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.extend(&chars[start..end]);
    if end < chars.len() {
        s.push('…');
    }
    s
}

/// One line per reference: `variable "x" is not defined (t.json:6:20, ami_description: "…")`.
pub fn describe(r: &UndefinedRef, file: &str) -> String {
    let mut s = format!(
        "user variable {} is not defined",
        crate::template::json::go_quote(&r.name)
    );
    match (&r.key, r.pos) {
        (Some(key), Some(p)) => s.push_str(&format!(" ({file}:{}:{}, in {key}", p.line, p.col)),
        (Some(key), None) => s.push_str(&format!(" (in {key}")),
        _ => s.push_str(&format!(" ({file}")),
    }
    if let Some(e) = &r.excerpt {
        s.push_str(&format!(": {}", crate::template::json::go_quote(e)));
    }
    s.push(')');
    s
}

/// Whether strict mode is on: the `-strict` flag or `RPACK_STRICT=1` (also `true`).
pub fn strict_from_env() -> bool {
    std::env::var("RPACK_STRICT").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_user_calls_are_found() {
        assert_eq!(
            user_names("a {{user `x`}} {{ user \"y\" | lower }}"),
            ["x", "y"]
        );
        assert_eq!(
            user_names("{{ .user }} {{username `z`}} user `w`"),
            Vec::<String>::new()
        );
        assert_eq!(user_names("{{ (user `a`) }}-{{user"), ["a"]);
    }

    #[test]
    fn excerpts_are_short_and_centered_on_the_reference() {
        assert_eq!(excerpt("a {{user `x`}} b", "x"), "a {{user `x`}} b");
        let long = format!(
            "{}{{{{user `nope`}}}}{}",
            "A".repeat(5000),
            "B".repeat(5000)
        );
        let e = excerpt(&long, "nope");
        assert!(e.chars().count() <= 90, "{e}");
        assert!(e.contains("nope") && e.starts_with('…') && e.ends_with('…'));
    }

    #[test]
    fn the_decoder_completes_what_the_user_function_recorded() {
        let sink = Sink::default();
        sink.record("early");
        let mark = sink.mark();
        sink.record("nope");
        let pos = Pos {
            offset: 0,
            line: 3,
            col: 7,
            file: 0,
        };
        sink.locate_since(mark, "ami_description", pos, "{{user `nope`}}");
        let refs = sink.take();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].key, None);
        assert_eq!(
            describe(&refs[1], "t.json"),
            "user variable \"nope\" is not defined (t.json:3:7, in ami_description: \"{{user `nope`}}\")"
        );
        assert!(sink.take().is_empty());
    }
}
