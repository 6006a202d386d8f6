//! JSON `variables` → `variable` blocks, and `locals` for the variables whose default HCL2
//! does not allow in a variable (one that reads another variable, a build value, a function
//! other than `env`), as Packer's upgrader does.

use std::collections::BTreeSet;

use super::gotmpl::{env_var_name, string_expr, Mode, Refs, Scope};
use super::hclwrite::{quote, Block, Item};
use crate::template::parse::Template;

/// The user variables that become locals.
pub(super) fn locals_needed(tpl: &Template) -> BTreeSet<String> {
    let none = BTreeSet::new();
    let sc = Scope {
        mode: Mode::Default,
        locals: &none,
        build_name: String::new(),
        source: None,
    };
    tpl.variables
        .iter()
        .filter(|v| {
            v.default.as_deref().is_some_and(|d| {
                let mut refs = Refs::default();
                string_expr(d, &sc, &mut refs);
                refs.needs_local
            })
        })
        .map(|v| v.name.clone())
        .collect()
}

pub(super) struct Out {
    pub variables: Vec<Item>,
    pub locals: Vec<Item>,
}

/// Takes the notes gathered while translating one value, as a comment item.
pub(super) fn take_notes(refs: &mut Refs, out: &mut Vec<Item>) {
    if !refs.notes.is_empty() {
        out.push(Item::Comment(std::mem::take(&mut refs.notes)));
    }
}

/// The variable and local blocks. Call it after every other part was translated: the `env`
/// and undeclared user variables found there are declared here too.
pub(super) fn blocks(tpl: &Template, locals: &BTreeSet<String>, refs: &mut Refs) -> Out {
    let sensitive = |n: &str| tpl.sensitive_variables.iter().any(|s| s == n);
    let mut out = Out {
        variables: Vec::new(),
        locals: Vec::new(),
    };
    // Locals first: their values may name more variables.
    let local_sc = Scope {
        mode: Mode::Local,
        locals,
        build_name: String::new(),
        source: None,
    };
    let mut plain = Block::new("locals", &[]);
    let mut sensitive_locals = Vec::new();
    for v in tpl.variables.iter().filter(|v| locals.contains(&v.name)) {
        let d = v.default.as_deref().unwrap_or_default();
        let e = string_expr(d, &local_sc, refs);
        if sensitive(&v.name) {
            take_notes(refs, &mut sensitive_locals);
            let mut b = Block::new("local", &[&v.name]);
            b.attr("expression", e);
            b.attr("sensitive", "true".into());
            sensitive_locals.push(Item::Block(b));
        } else {
            take_notes(refs, &mut plain.body);
            plain.attr(&v.name, e);
        }
    }
    if !plain.body.is_empty() {
        out.locals.push(Item::Block(plain));
    }
    out.locals.extend(sensitive_locals);

    let var_sc = Scope {
        mode: Mode::Default,
        locals,
        build_name: String::new(),
        source: None,
    };
    let mut declared = BTreeSet::new();
    for v in tpl.variables.iter().filter(|v| !locals.contains(&v.name)) {
        declared.insert(v.name.clone());
        let mut b = Block::new("variable", &[&v.name]);
        b.attr("type", "string".into());
        if let Some(d) = &v.default {
            let e = string_expr(d, &var_sc, refs);
            take_notes(refs, &mut b.body);
            b.attr("default", e);
        }
        if sensitive(&v.name) {
            b.attr("sensitive", "true".into());
        }
        out.variables.push(Item::Block(b));
    }
    for env in std::mem::take(&mut refs.envs) {
        let name = env_var_name(&env);
        if declared.contains(&name) || locals.contains(&name) {
            continue;
        }
        declared.insert(name.clone());
        let mut b = Block::new("variable", &[&name]);
        b.attr("type", "string".into());
        b.attr("default", format!("env({})", quote(&env)));
        out.variables.push(Item::Block(b));
    }
    for u in &refs.users {
        if declared.contains(u) || locals.contains(u) {
            continue;
        }
        out.variables.push(Item::Comment(vec![format!(
            "Not declared in the JSON template (a var-file may set it); \
             undefined, it rendered as \"\"."
        )]));
        let mut b = Block::new("variable", &[u]);
        b.attr("type", "string".into());
        b.attr("default", "\"\"".into());
        out.variables.push(Item::Block(b));
    }
    out
}
