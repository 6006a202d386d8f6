//! The project's one YAML module: every read and write of YAML (platform.yaml and the workspace
//! config in `platform`, HCL2's `yamldecode`/`yamlencode`) goes through here, on serde_yaml.
//!
//! Reads are guarded by a linear pre-scan that refuses nesting deeper than the YAML reader will
//! accept anyway, before the reader sees it: libyaml's scanner (behind serde_yaml) takes quadratic
//! time in the nesting depth, so 100,000 `[` took minutes before failing with "recursion limit
//! exceeded". The scan is approximate (it knows quotes, comments and indicators, not every YAML
//! rule) and errs only on the side of documents that would fail anyway.

pub(crate) use serde_yaml::{Error, Mapping, Value};

/// Reads a YAML document (callers run [`too_deep`] first, to word its refusal their way).
pub(crate) fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_yaml::from_str(text)
}

/// Writes a value as a YAML document.
pub(crate) fn to_string<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_yaml::to_string(v)
}

/// Reads a YAML document into any value, the depth checked first; errors say where.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    if let Some((line, col)) = too_deep(text) {
        return Err(format!(
            "YAML nested deeper than {MAX_DEPTH} levels at line {line} column {col}"
        ));
    }
    from_str(text).map_err(|e| e.to_string())
}

/// serde_yaml's own recursion limit: deeper documents never parse.
pub(crate) const MAX_DEPTH: usize = 128;

/// Where the text first nests deeper than [`MAX_DEPTH`]: 1-based line and column.
pub(crate) fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut block = 0usize;
        let mut at_indicators = true;
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let col = line[..i].chars().count() + 1;
            if let Some(q) = quote {
                match c {
                    '\\' if q == '"' => {
                        chars.next();
                    }
                    _ if c == q => quote = None,
                    _ => {}
                }
                prev = c;
                continue;
            }
            let next_blank = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
            match c {
                '#' if prev.is_whitespace() => break,
                '-' | '?' | ':' if at_indicators && next_blank => block += 1,
                ' ' | '\t' => {}
                '[' | '{' => {
                    flow += 1;
                    at_indicators = false;
                }
                ']' | '}' => {
                    flow = flow.saturating_sub(1);
                    at_indicators = false;
                }
                '"' | '\'' if matches!(prev, ' ' | '\t' | ':' | ',' | '[' | '{' | '-' | '?') => {
                    quote = Some(c);
                    at_indicators = false;
                }
                _ => at_indicators = false,
            }
            if flow + block > MAX_DEPTH {
                return Some((n + 1, col));
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_and_block_nesting_is_found() {
        let deep = format!("version: {}", "[".repeat(100_000));
        assert_eq!(too_deep(&deep), Some((1, 10 + MAX_DEPTH)));
        let maps = format!("a: {}", "{a: ".repeat(200));
        assert!(too_deep(&maps).is_some());
        let dashes = format!("x:\n  {}1\n", "- ".repeat(300));
        assert_eq!(too_deep(&dashes).map(|p| p.0), Some(2));
    }

    #[test]
    fn ordinary_documents_pass() {
        let ok = "version: \"1.0\" # [[[[ not nesting\nprovisioner:\n  type: packer\n  template: t.json\nmetadata:\n  description: 'it''s [ fine {'\n  maintainer: \"a [\\\" b\"\noption_definitions:\n  - namespace: x\n    option_name: [a, [b, {c: d}]]\n";
        assert_eq!(too_deep(ok), None);
    }
}
