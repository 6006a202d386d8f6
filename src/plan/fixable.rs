//! What `packer fix` would still rewrite in a template that validates.
//!
//! Packer 1.6.6's `validate` means to warn "Fixable configuration found" when its fixers would
//! change the template, but its check compares two empty maps and never fires (observed: a
//! template with `ssh_wait_timeout` validates silently). rpack does the check for the fixers
//! whose input it still accepts, and names each place. (Deprecated keys a plugin no longer reads
//! are errors already, as in Packer.)

use super::{Diag, Severity};
use crate::template::json::{Object, Pos, Value};
use crate::template::parse::Template;

/// One place a fixer would rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixable {
    /// Where, e.g. `builders[0] (amazon-ebs)`.
    pub owner: String,
    /// What the fixer does, e.g. `'ssh_wait_timeout' becomes 'ssh_timeout'`.
    pub change: String,
    pub pos: Pos,
}

/// Every fixable place in the builders of `t`, in source order.
pub fn find(t: &Template) -> Vec<Fixable> {
    let mut out = Vec::new();
    for (i, b) in t.builders.iter().enumerate() {
        let owner = format!("builders[{i}] ({})", b.kind);
        let o = &b.config;
        // The fixer renames a string value only, and drops any value beside `ssh_timeout`.
        if let Some(pos) = o.key_pos("ssh_wait_timeout") {
            let change = if o.get("ssh_timeout").is_some() {
                Some("'ssh_wait_timeout' is dropped ('ssh_timeout' is set)")
            } else if matches!(
                o.get("ssh_wait_timeout").map(|n| &n.value),
                Some(Value::String(_))
            ) {
                Some("'ssh_wait_timeout' becomes 'ssh_timeout'")
            } else {
                None
            };
            if let Some(change) = change {
                out.push(Fixable {
                    owner: owner.clone(),
                    change: change.into(),
                    pos,
                });
            }
        }
        if AMAZON_KINDS_FIXED.contains(&b.kind.as_str()) {
            if let Some(pos) = o.key_pos("spot_price_auto_product") {
                out.push(Fixable {
                    owner: owner.clone(),
                    change: "'spot_price_auto_product' is removed (spot_price \"auto\" needs no product)".into(),
                    pos,
                });
            }
        }
        strings(o, &mut |s, pos| {
            for old in ["clean_ami_name", "clean_image_name"] {
                if s.contains(old) {
                    out.push(Fixable {
                        owner: owner.clone(),
                        change: format!("function {old} becomes clean_resource_name"),
                        pos,
                    });
                }
            }
        });
    }
    out
}

/// The builder types whose `spot_price_auto_product` Packer's fixer removes.
const AMAZON_KINDS_FIXED: &[&str] = &[
    "amazon-ebs",
    "amazon-ebssurrogate",
    "amazon-ebsvolume",
    "amazon-instance",
];

/// Calls `f` with each string the `clean-image-name` fixer rewrites, with its position: the
/// builder's string values and the string values of its object values (`tags`, …), one level
/// deep. Strings in lists or deeper objects are left alone by Packer, so they are not reported.
fn strings(o: &Object, f: &mut dyn FnMut(&str, Pos)) {
    for (_, _, v) in &o.entries {
        match &v.value {
            Value::String(s) => f(s, v.pos),
            Value::Object(inner) => {
                for (_, _, n) in &inner.entries {
                    if let Value::String(s) = &n.value {
                        f(s, n.pos);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The warning `validate` prints for `found` (none when empty); `file` names the template.
pub fn diag(found: &[Fixable], file: &str) -> Option<Diag> {
    if found.is_empty() {
        return None;
    }
    let detail = found
        .iter()
        .map(|x| {
            format!(
                "* {}: {} ({file}:{}:{})",
                x.owner, x.change, x.pos.line, x.pos.col
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some(Diag {
        severity: Severity::Warning,
        summary: "Fixable configuration found.\nYou may need to run `packer fix` to get your build to run correctly.".into(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse::parse_str;

    fn found(src: &str) -> Vec<String> {
        let t = parse_str(src).unwrap();
        find(&t)
            .into_iter()
            .map(|f| format!("{} {} {}:{}", f.owner, f.change, f.pos.line, f.pos.col))
            .collect()
    }

    #[test]
    fn finds_what_packer_fix_rewrites() {
        let src = r#"{"builders":[
  {"type":"null","communicator":"none"},
  {"type":"amazon-ebs","ssh_wait_timeout":"5m","spot_price_auto_product":"Linux/UNIX",
   "ami_name":"x {{isotime | clean_ami_name}}","tags":{"n":"{{clean_image_name `a`}}"}}]}"#;
        assert_eq!(
            found(src),
            [
                "builders[1] (amazon-ebs) 'ssh_wait_timeout' becomes 'ssh_timeout' 3:24",
                "builders[1] (amazon-ebs) 'spot_price_auto_product' is removed (spot_price \"auto\" needs no product) 3:48",
                "builders[1] (amazon-ebs) function clean_ami_name becomes clean_resource_name 4:15",
                "builders[1] (amazon-ebs) function clean_image_name becomes clean_resource_name 4:60",
            ]
        );
    }

    #[test]
    fn a_current_template_has_nothing_to_fix() {
        assert!(found(r#"{"builders":[{"type":"amazon-ebs","ssh_timeout":"5m","ami_name":"{{clean_resource_name `a`}}"}]}"#).is_empty());
        assert!(diag(&[], "t.json").is_none());
    }

    /// `validate`'s report agrees with what the fixers themselves change, template by template.
    #[test]
    fn reports_exactly_what_the_fixers_change() {
        let cases = [
            r#"{"builders":[{"type":"amazon-ebs","ssh_wait_timeout":"5m"}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","ssh_wait_timeout":300}]}"#,
            r#"{"builders":[{"type":"null","ssh_wait_timeout":300,"ssh_timeout":"1m"}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","ami_name":"{{clean_ami_name `a`}}"}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","tags":{"a":"{{clean_ami_name `a`}}"}}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","ami_regions":["{{clean_ami_name `a`}}"]}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","launch_block_device_mappings":[{"device_name":"{{clean_image_name `a`}}"}]}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","x":{"y":{"z":"clean_ami_name"}}}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","spot_price_auto_product":"Linux/UNIX"}]}"#,
            r#"{"builders":[{"type":"amazon-chroot","spot_price_auto_product":"Linux/UNIX"}]}"#,
            r#"{"builders":[{"type":"amazon-ebs","ssh_timeout":"5m"}]}"#,
        ];
        for src in cases {
            let t = parse_str(src).unwrap();
            let root = crate::template::json::parse(src).unwrap();
            let before = crate::plan::fix::decode(&root).unwrap();
            let after = crate::plan::fix::fix(before.clone()).unwrap();
            let changed = after != crate::gocompat::json::GoValue::Object(before);
            assert_eq!(!find(&t).is_empty(), changed, "{src}");
        }
    }

    #[test]
    fn ssh_wait_timeout_beside_ssh_timeout_is_dropped() {
        assert_eq!(
            found(r#"{"builders":[{"type":"null","ssh_timeout":"1m","ssh_wait_timeout":"5m"}]}"#),
            ["builders[0] (null) 'ssh_wait_timeout' is dropped ('ssh_timeout' is set) 1:48"]
        );
    }
}
