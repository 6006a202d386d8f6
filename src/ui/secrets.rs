//! Masking secrets as `<sensitive>`: the values themselves plus the forms a secret takes on its
//! way to an output (each line of a multi-line value, Go- and JSON-quoted, shell-escaped), and a
//! process-wide registry for values rpack learns while it runs (AWS Secrets Manager answers,
//! generated passwords and private keys, `ssh_password`) which every UI and the debug log mask.
//!
//! A form shorter than [`MIN_SUBSTRING`] characters is masked only where it stands alone, not
//! glued to a letter, digit or `_` (Packer 1.6.6 replaces every occurrence, so a password "a"
//! turns each "a" of the output into `<sensitive>`). [`take_short_warning`] tells a UI once that
//! such a value was seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Lines of a multi-line secret shorter than this (after trimming) are not masked on their own:
/// a `{` or `}` line of a JSON credential would otherwise turn every brace into `<sensitive>`.
const MIN_LINE: usize = 6;

/// Forms of a secret with fewer characters than this are masked only as whole words: as
/// substrings they would mask unrelated text ("1" in "1 error", "a" in every word).
pub const MIN_SUBSTRING: usize = 4;

/// Whether a secret shorter than [`MIN_SUBSTRING`] was added since the process started, and
/// whether that was already said.
static SHORT_SEEN: AtomicBool = AtomicBool::new(false);
static SHORT_WARNED: AtomicBool = AtomicBool::new(false);

/// Replaces every secret in `text` with `<sensitive>` (longest forms first so a secret that
/// contains another is masked whole). Cloning shares the set, so [`Secrets::add`] reaches every
/// clone.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Arc<RwLock<Vec<String>>>,
}

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let s = Secrets::default();
        for v in values {
            s.add(&v);
        }
        s
    }

    /// Adds `value` (and its variants) to this set.
    pub fn add(&self, value: &str) {
        let mut values = self
            .values
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        insert_variants(&mut values, value);
    }

    /// `text` with this set's secrets and the process-wide ones masked.
    pub fn mask(&self, text: &str) -> String {
        let own = self
            .values
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        mask_global(&replace_all(text, &own))
    }
}

/// Values rpack learned at run time; masked by every [`Secrets`] and by the debug log.
static GLOBAL: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Marks `value` as a secret for the rest of the process (every UI and the debug log).
pub fn register(value: &str) {
    let mut values = GLOBAL
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    insert_variants(&mut values, value);
}

/// `text` with every registered secret masked.
pub fn mask_global(text: &str) -> String {
    let values = GLOBAL
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    replace_all(text, &values)
}

/// The warning to print, the first time it is asked for after a sensitive value shorter than
/// [`MIN_SUBSTRING`] characters was added to any set; `None` otherwise.
pub fn take_short_warning() -> Option<String> {
    if !SHORT_SEEN.load(Ordering::SeqCst) || SHORT_WARNED.swap(true, Ordering::SeqCst) {
        return None;
    }
    Some(format!(
        "Warning: a sensitive value is shorter than {MIN_SUBSTRING} characters, too short to \
         mask safely: it is masked only where it stands alone as a word, not inside other text. \
         Use a longer secret."
    ))
}

pub(crate) fn is_short(v: &str) -> bool {
    v.chars().nth(MIN_SUBSTRING - 1).is_none()
}

fn replace_all(text: &str, values: &[String]) -> String {
    let mut out: Option<String> = None;
    for v in values {
        let cur = out.as_deref().unwrap_or(text);
        if !cur.contains(v.as_str()) {
            continue;
        }
        if is_short(v) {
            if let Some(masked) = replace_words(cur, v) {
                out = Some(masked);
            }
        } else {
            out = Some(cur.replace(v.as_str(), "<sensitive>"));
        }
    }
    // Masking a short secret can leave another one standing alone that was glued to it ("--"
    // before "b" in "--b", once "b" is masked): mask the short ones again until none stands
    // alone. Each round masks text outside the masks made so far (a short secret overlapping
    // `<sensitive>` always touches one of its letters), so the rounds end.
    while let Some(cur) = out.as_deref() {
        let mut again: Option<String> = None;
        for v in values.iter().filter(|v| is_short(v)) {
            if let Some(masked) = replace_words(again.as_deref().unwrap_or(cur), v) {
                again = Some(masked);
            }
        }
        match again {
            Some(next) => out = Some(next),
            None => break,
        }
    }
    out.unwrap_or_else(|| text.to_string())
}

/// A letter, digit or `_`: a short secret next to one is part of a longer word.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with each occurrence of `v` that no word character touches masked; `None` when there
/// is none.
fn replace_words(text: &str, v: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, _) in text.match_indices(v) {
        let end = i + v.len();
        let glued = text[..i].chars().next_back().is_some_and(is_word)
            || text[end..].chars().next().is_some_and(is_word);
        if glued {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str("<sensitive>");
        last = end;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Adds the forms of `value` to `values`, kept longest first and without duplicates.
fn insert_variants(values: &mut Vec<String>, value: &str) {
    if !value.is_empty() && is_short(value) {
        SHORT_SEEN.store(true, Ordering::SeqCst);
    }
    for v in variants(value) {
        if !values.contains(&v) {
            values.push(v);
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// Every form `value` can take in rpack's output: itself, Go `%q` and JSON string bodies (error
/// messages quote values), the shell-escaped form env vars use, and each non-trivial line.
pub(crate) fn variants(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    let mut out = vec![value.to_string()];
    let go = crate::template::json::go_quote(value);
    out.push(go[1..go.len() - 1].to_string());
    if let Ok(js) = serde_json::to_string(value) {
        out.push(js[1..js.len() - 1].to_string());
    }
    out.push(value.replace('\'', r#"'"'"'"#));
    if value.contains('\n') {
        for line in value.split('\n') {
            let line = line.trim();
            if line.chars().count() >= MIN_LINE {
                out.push(line.to_string());
            }
        }
    }
    out.retain(|v| !v.is_empty());
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_left_alone_by_masking_another_is_masked_too() {
        // Found by the masking fuzzer: "--" is glued to "b" until "b" is masked.
        let s = Secrets::new(["--".to_string(), "b".to_string()]);
        assert_eq!(s.mask("--b"), "<sensitive><sensitive>");
        assert_eq!(s.mask("x--b"), "x--<sensitive>");
        // Inside a word both stay.
        assert_eq!(s.mask("--bc"), "--bc");
    }

    #[test]
    fn quoted_forms_of_a_secret_are_masked() {
        let s = Secrets::new([r#"q"uote\-SECRET"#.to_string()]);
        assert_eq!(
            s.mask(r#"Provisioner failed with "Error reading /x/q\"uote\\-SECRET/y""#),
            r#"Provisioner failed with "Error reading /x/<sensitive>/y""#
        );
        assert_eq!(s.mask(r#"value q"uote\-SECRET"#), "value <sensitive>");
    }

    #[test]
    fn each_line_of_a_multi_line_secret_is_masked() {
        let pem = "-----BEGIN KEY-----\r\nMIIEsecretline1\nMIIEsecretline2\nab\n-----END KEY-----";
        let s = Secrets::new([pem.to_string()]);
        assert_eq!(s.mask("nb: MIIEsecretline1"), "nb: <sensitive>");
        assert_eq!(s.mask("    nb: MIIEsecretline2  "), "    nb: <sensitive>  ");
        assert_eq!(s.mask(&format!("whole: {pem}")), "whole: <sensitive>");
        // Short lines alone are not masked (they would mask ordinary text).
        assert_eq!(s.mask("ab"), "ab");
        let json = "{\n  \"private_key\": \"k-123456\",\n  \"type\": \"x\"\n}";
        let s = Secrets::new([json.to_string()]);
        assert_eq!(s.mask("{"), "{");
        assert!(!s
            .mask("line \"private_key\": \"k-123456\",")
            .contains("k-123456"));
    }

    #[test]
    fn shell_escaped_form_is_masked() {
        let s = Secrets::new(["it's-SECRET".to_string()]);
        assert_eq!(s.mask(r#"K='it'"'"'s-SECRET'"#), "K='<sensitive>'");
    }

    #[test]
    fn added_values_reach_clones_and_longest_wins() {
        let s = Secrets::new(["pw".to_string()]);
        let c = s.clone();
        s.add("pw-long");
        assert_eq!(c.mask("a pw-long b pw"), "a <sensitive> b <sensitive>");
    }

    #[test]
    fn short_secrets_are_masked_only_as_whole_words() {
        let s = Secrets::new(["a".to_string(), "1".to_string(), "x_y".to_string()]);
        assert_eq!(
            s.mask("Build 'alpha' finished: 1 artifact, 10 files, a=a, [1]"),
            "Build 'alpha' finished: <sensitive> artifact, 10 files, <sensitive>=<sensitive>, \
             [<sensitive>]"
        );
        assert_eq!(
            s.mask("x_y x_yz ax_y 'x_y'"),
            "<sensitive> x_yz ax_y '<sensitive>'"
        );
        assert_eq!(s.mask("abc"), "abc");
        // Four characters and more are still masked inside other text.
        let s = Secrets::new(["abcd".to_string()]);
        assert_eq!(s.mask("xabcdx"), "x<sensitive>x");
        // Characters, not bytes: a two-letter non-ASCII secret is short.
        let s = Secrets::new(["éé".to_string()]);
        assert_eq!(s.mask("café éé"), "café <sensitive>");
        assert_eq!(s.mask("xééx"), "xééx");
    }

    #[test]
    fn a_short_secret_is_warned_about_once() {
        Secrets::new(["zz".to_string()]);
        let first = take_short_warning();
        assert!(
            first.as_deref().is_some_and(|w| w.contains("too short")),
            "{first:?}"
        );
        assert_eq!(take_short_warning(), None);
    }

    #[test]
    fn registered_values_are_masked_everywhere() {
        register("GLOBAL-canary-7f3e9a");
        assert_eq!(
            Secrets::default().mask("x GLOBAL-canary-7f3e9a y"),
            "x <sensitive> y"
        );
        assert_eq!(mask_global("GLOBAL-canary-7f3e9a"), "<sensitive>");
    }
}
