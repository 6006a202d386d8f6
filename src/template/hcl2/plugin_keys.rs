//! Plugin bodies checked against the keys their plugin accepts, as Packer decodes a `source`,
//! `provisioner` or `post-processor` body with the plugin's HCL2 spec: every attribute the
//! plugin does not know is an HCL "Unsupported argument" at the attribute's name, all of them in
//! one run (not only the first).
//!
//! Which keys a plugin accepts is known to the layer that holds the plugins (the plan's
//! registry runs the plugin's own decoder); it is handed in as a [`PluginKeys`].

use super::diag::{Diag, Loc, SourceFile};
use crate::template::json::{Node, Object, Pos, Value as J};

/// A plugin family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Builder,
    Provisioner,
    PostProcessor,
}

/// A key a plugin does not accept: its path (`source_ami_filter.bogus`,
/// `launch_block_device_mappings[0].bogus` for keys of nested blocks) and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unknown {
    pub path: String,
    pub pos: Pos,
    /// A known key spelled closely ([`suggestion`]).
    pub suggestion: Option<String>,
}

/// What the plugins accept.
pub(crate) trait PluginKeys {
    /// The keys of `config` a plugin of type `kind` does not accept; `None` when there is no
    /// such plugin (that error is reported elsewhere).
    fn unknown(&self, family: Family, kind: &str, config: &Object) -> Option<Vec<Unknown>>;
}

/// Checks every plugin object of the JSON-shaped `root` (builders, provisioners, the
/// error-cleanup provisioner, post-processors), pushing one diagnostic per unknown key. A
/// key met twice (a provisioner evaluated once per build) is reported once.
pub(crate) fn check(
    files: &[SourceFile],
    root: &Node,
    keys: &dyn PluginKeys,
    diags: &mut Vec<Diag>,
) {
    let Some(root) = root.as_object() else {
        return;
    };
    let mut objects: Vec<(Family, &Object)> = Vec::new();
    let list = |key: &str| -> Vec<&Node> {
        match root.get(key).map(|n| &n.value) {
            Some(J::Array(items)) => items.iter().collect(),
            Some(J::Object(_)) => root.get(key).into_iter().collect(),
            _ => Vec::new(),
        }
    };
    for n in list("builders") {
        objects.extend(n.as_object().map(|o| (Family::Builder, o)));
    }
    for n in list("provisioners")
        .into_iter()
        .chain(list("error-cleanup-provisioner"))
    {
        objects.extend(n.as_object().map(|o| (Family::Provisioner, o)));
    }
    for chain in list("post-processors") {
        let items: Vec<&Node> = match &chain.value {
            J::Array(a) => a.iter().collect(),
            _ => vec![chain],
        };
        for n in items {
            objects.extend(n.as_object().map(|o| (Family::PostProcessor, o)));
        }
    }
    let mut seen: Vec<(u32, usize)> = Vec::new();
    for (family, obj) in objects {
        let Some(kind) = obj.get("type").and_then(Node::as_str) else {
            continue;
        };
        let Some(mut unknown) = keys.unknown(family, kind, obj) else {
            continue;
        };
        unknown.sort_by_key(|u| (u.pos.file, u.pos.offset));
        for u in unknown {
            if seen.contains(&(u.pos.file, u.pos.offset)) {
                continue;
            }
            seen.push((u.pos.file, u.pos.offset));
            let file = files.get(u.pos.file as usize);
            let name = last_segment(&u.path);
            // HCL's JSON syntax words it its own way, without a suggestion.
            let d = match (file, &u.suggestion) {
                (Some(f), _) if f.name.ends_with(".json") => json_property(f, u.pos, name),
                (_, s) => {
                    let mut d =
                        super::blocks::unsupported_argument(file.map(|f| loc_at(f, u.pos)), name);
                    if let Some(s) = s {
                        d.detail.push_str(&format!(" Did you mean \"{s}\"?"));
                    }
                    d
                }
            };
            diags.push(d);
        }
    }
}

/// The known key to suggest for the unknown `name`, by HCL's rule (`nameSuggestion`): the
/// first, in sorted order, whose edit distance from `name` is below 3.
pub(crate) fn suggestion(name: &str, known: &[String]) -> Option<String> {
    let mut sorted: Vec<&String> = known.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .find(|k| levenshtein(name, k) < 3)
        .cloned()
}

/// The Levenshtein distance of two strings, in characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// HCL's JSON-syntax wording for a property no schema has, at the property name's opening quote.
fn json_property(f: &SourceFile, p: Pos, name: &str) -> Diag {
    let mut l = loc_at(f, p);
    let before: Vec<char> = l.text().chars().take(l.col.saturating_sub(1)).collect();
    if before.last() == Some(&'"') {
        l.col -= 1;
        l.offset = l.offset.saturating_sub(1);
    }
    Diag::error(
        Some(l),
        "Extraneous JSON object property",
        format!("No argument or block type is named \"{name}\"."),
    )
}

/// The name of a key path's last key: `a.b[0].c` → `c`.
fn last_segment(path: &str) -> &str {
    let tail = path.rsplit('.').next().unwrap_or(path);
    tail.split('[').next().unwrap_or(tail)
}

/// The location of a position inside `f` (positions carry offsets into the original text).
pub(crate) fn loc_at(f: &SourceFile, p: Pos) -> Loc {
    f.loc_at(p.line as usize, p.col as usize, p.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_keys_are_suggested_as_hcl_does() {
        let known: Vec<String> = ["name", "inline", "script", "communicator"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("inlin", "inline"), 1);
        assert_eq!(suggestion("inlin", &known).as_deref(), Some("inline"));
        assert_eq!(suggestion("nope", &known).as_deref(), Some("name"));
        assert_eq!(
            suggestion("communicatr", &known).as_deref(),
            Some("communicator")
        );
        assert_eq!(suggestion("bogus", &known), None);
    }

    #[test]
    fn the_last_key_of_a_path_is_named() {
        assert_eq!(last_segment("bogus"), "bogus");
        assert_eq!(last_segment("source_ami_filter.bogus"), "bogus");
        assert_eq!(
            last_segment("launch_block_device_mappings[0].bogus"),
            "bogus"
        );
        assert_eq!(last_segment("a.b[2]"), "b");
    }
}
