//! The `packer {}` block: `required_version` constraints and `required_plugins` sources.

use hcl::Value;
use hcl_edit::Span;

use super::blocks::{parts, Decls};
use super::diag::{Diag, SourceFile};
use super::eval::{base_context, eval};

/// The Packer version whose HCL2 language rpack's HCL2 front end follows (`packer.version`, and
/// what `required_version` is checked against).
pub(crate) const HCL2_PACKER_VERSION: &str = "1.9.5";

/// Plugin sources whose components rpack has built in.
const BUILT_IN_PLUGINS: &[&str] = &["github.com/hashicorp/amazon"];

pub(crate) fn check(files: &[SourceFile], d: &Decls, diags: &mut Vec<Diag>) {
    let ctx = base_context(false);
    for rv in &d.required_version {
        let f = &files[rv.file];
        let loc = f.span_loc(rv.node.span());
        match eval(f, rv.node, &ctx) {
            Ok(Value::String(c)) => match satisfies(HCL2_PACKER_VERSION, &c) {
                Ok(true) => {}
                Ok(false) => diags.push(Diag::error(
                    loc,
                    "Unsupported Packer Core version",
                    format!("This configuration does not support Packer version {HCL2_PACKER_VERSION} (the HCL2 language level rpack implements). To proceed, either choose another supported Packer version or update the version constraint {c:?}."),
                )),
                Err(e) => diags.push(Diag::error(loc, "Invalid version constraint", e)),
            },
            Ok(_) => diags.push(Diag::error(loc, "Invalid version constraint", "required_version must be a string.")),
            Err(e) => diags.push(e),
        }
    }
    for rp in &d.required_plugins {
        let f = &files[rp.file];
        let (attrs, blocks) = parts(&rp.node.body);
        for b in blocks {
            diags.push(super::blocks::unsupported_block(
                f.span_loc(b.ident.span()),
                b.ident.as_str(),
            ));
        }
        for a in attrs {
            let loc = f.span_loc(a.value.span());
            let v = match eval(f, &a.value, &ctx) {
                Ok(v) => v,
                Err(e) => {
                    diags.push(e);
                    continue;
                }
            };
            let source = v
                .as_object()
                .and_then(|o| o.get("source"))
                .and_then(|s| s.as_str());
            let Some(source) = source else {
                diags.push(Diag::error(
                    loc,
                    "Invalid required_plugins entry",
                    format!(
                        "{} must be an object with a \"source\" (and optionally a \"version\").",
                        a.key.as_str()
                    ),
                ));
                continue;
            };
            let norm = source.trim_start_matches("https://");
            let norm = if norm.starts_with("github.com/") {
                norm.to_string()
            } else {
                format!("github.com/{norm}")
            };
            if !BUILT_IN_PLUGINS.contains(&norm.as_str()) {
                diags.push(Diag::error(
                    loc,
                    "Unknown plugin source",
                    format!("rpack has no built-in plugin for {source:?}; the plugins it has built in are: {}.", BUILT_IN_PLUGINS.join(", ")),
                ));
            }
        }
    }
}

fn parse_version(s: &str) -> Option<Vec<u64>> {
    let s = s.trim().trim_start_matches('v');
    let core = s.split(['-', '+']).next()?;
    let mut v: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if v.is_empty() || v.len() > 3 {
        return None;
    }
    v.resize(3, 0);
    Some(v)
}

/// Whether `version` satisfies a go-version constraint list (`>= 1.7.0, < 2.0.0`, `~> 1.9`).
pub(crate) fn satisfies(version: &str, constraints: &str) -> Result<bool, String> {
    let have = parse_version(version).ok_or_else(|| format!("Malformed version: {version}"))?;
    for c in constraints.split(',') {
        let c = c.trim();
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", c));
        let want = parse_version(rest).ok_or_else(|| format!("Malformed constraint: {c}"))?;
        let ok = match op {
            ">=" => have >= want,
            "<=" => have <= want,
            ">" => have > want,
            "<" => have < want,
            "!=" => have != want,
            "=" => have == want,
            _ => {
                // ~> 1.2.3 means >= 1.2.3, < 1.3; ~> 1.2 means >= 1.2, < 2.
                let parts = rest.trim().split('.').count();
                let mut upper = want.clone();
                let i = usize::from(parts >= 3);
                upper[i] += 1;
                for x in upper.iter_mut().skip(i + 1) {
                    *x = 0;
                }
                have >= want && have < upper
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    #[test]
    fn constraints() {
        assert!(satisfies("1.9.5", ">= 1.7.0").unwrap());
        assert!(satisfies("1.9.5", ">= 1.7.0, < 2.0.0").unwrap());
        assert!(!satisfies("1.9.5", ">= 1.10").unwrap());
        assert!(satisfies("1.9.5", "~> 1.9").unwrap());
        assert!(!satisfies("1.9.5", "~> 1.8.0").unwrap());
        assert!(satisfies("1.9.5", "~> 1.9.0").unwrap());
        assert!(!satisfies("1.9.5", "!= 1.9.5").unwrap());
        assert!(satisfies("1.9.5", "1.9.5").unwrap());
        assert!(satisfies("1.9.5", "banana").is_err());
    }
}
