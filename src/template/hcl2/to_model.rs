//! Turning evaluated sources and builds into the JSON template's shape (a positioned
//! [`json::Node`]), so the template model, plugin decoders and every check are shared with
//! legacy JSON templates.
//!
//! Builds are named `type.name`, or `build-name.type.name` in a named `build` block. A build
//! block's provisioners and post-processors apply to that block's builds only: their
//! `only`/`except` (written with `type.name` source references) become the JSON `only` list of
//! full build names.

use std::collections::BTreeMap;

use hcl::Value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;

use super::blocks::{parts, unsupported_argument, unsupported_block, BuildDecl, Decls, SourceDecl};
use super::diag::{Diag, Loc, SourceFile};
use super::eval::{check_functions, eval};
use super::schema::{nested, Nested};
pub(crate) use super::scope::Scope;
use super::scope::{LazyCtx, MULTI};
use crate::template::json::{Node, Object, Pos, Value as J};

pub(super) fn pos(l: Option<&Loc>) -> Pos {
    l.map(|l| Pos {
        offset: l.offset,
        line: l.line as u32,
        col: l.col as u32,
        file: l.file_index,
    })
    .unwrap_or_default()
}

/// An evaluated HCL value as a positioned JSON node.
pub(crate) fn to_node(v: &Value, p: Pos) -> Node {
    let value = match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => J::Number(super::funcs::number_text(n)),
        Value::String(s) => J::String(s.clone()),
        Value::Array(a) => J::Array(a.iter().map(|x| to_node(x, p)).collect()),
        Value::Object(o) => J::Object(Object {
            entries: o
                .iter()
                .map(|(k, x)| (k.clone(), p, to_node(x, p)))
                .collect(),
        }),
    };
    Node { value, pos: p }
}

fn put(obj: &mut Object, key: &str, p: Pos, n: Node) {
    obj.entries.push((key.to_string(), p, n));
}

/// Evaluates a plugin body into an object; `skip` names attributes the caller handles.
pub(crate) fn body_object(
    f: &SourceFile,
    body: &Body,
    scope: &Scope,
    kind: &str,
    skip: &[&str],
    diags: &mut Vec<Diag>,
) -> Object {
    let (attrs, blocks) = parts(body);
    let ctx = scope.lazy_context_for(attrs.iter().map(|a| &a.value).collect());
    let mut obj = Object::default();
    for a in attrs {
        let key = a.key.as_str();
        if skip.contains(&key) {
            continue;
        }
        let kp = f.span_pos(a.key.span());
        if obj.get(key).is_some() {
            diags.push(Diag::error(
                f.span_loc(a.key.span()),
                "Attribute redefined",
                format!("The argument \"{key}\" was already set."),
            ));
            continue;
        }
        if let Some(v) = value(f, &a.value, &ctx, diags) {
            put(
                &mut obj,
                key,
                kp,
                super::positions::node_at(f, &a.value, &v, kp),
            );
        }
    }
    for b in blocks {
        nested_block(f, b, scope, kind, &mut obj, diags);
    }
    obj
}

pub(super) fn value(
    f: &SourceFile,
    e: &Expression,
    ctx: &LazyCtx<'_>,
    diags: &mut Vec<Diag>,
) -> Option<Value> {
    if let Some(v) = ctx.simple(e) {
        return Some(v);
    }
    let before = diags.len();
    check_functions(f, e, false, diags);
    if diags.len() > before {
        return None;
    }
    match eval(f, e, ctx.get()) {
        Ok(v) => Some(v),
        Err(_) if super::data::unknown_expression(e) => {
            Some(Value::String(super::data::UNKNOWN.into()))
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

fn nested_block(
    f: &SourceFile,
    b: &Block,
    scope: &Scope,
    kind: &str,
    obj: &mut Object,
    diags: &mut Vec<Diag>,
) {
    let name = b.ident.as_str();
    let loc = f.span_loc(b.ident.span());
    if name == "dynamic" {
        super::dynamic::expand(f, b, scope, kind, obj, diags);
        return;
    }
    let Some(shape) = nested(kind, name) else {
        diags.push(unsupported_block(loc, name));
        return;
    };
    let p = pos(loc.as_ref());
    let inner = body_object(f, &b.body, scope, kind, &[], diags);
    add_nested(obj, name, shape, p, inner, loc, diags);
}

pub(super) fn add_nested(
    obj: &mut Object,
    name: &str,
    shape: Nested,
    p: Pos,
    inner: Object,
    loc: Option<Loc>,
    diags: &mut Vec<Diag>,
) {
    let node = Node {
        value: J::Object(inner),
        pos: p,
    };
    match shape {
        Nested::Single => {
            if obj.get(name).is_some() {
                diags.push(Diag::error(
                    loc,
                    format!("Duplicate {name} block"),
                    format!("Only one {name} block is allowed."),
                ));
            } else {
                put(obj, name, p, node);
            }
        }
        Nested::Repeated => {
            if let Some((_, _, existing)) = obj.entries.iter_mut().find(|(k, _, _)| k == name) {
                if let J::Array(a) = &mut existing.value {
                    a.push(node);
                    return;
                }
                diags.push(Diag::error(
                    loc,
                    "Unsupported block type",
                    format!("\"{name}\" is set as an argument and a block."),
                ));
                return;
            }
            put(
                obj,
                name,
                p,
                Node {
                    value: J::Array(vec![node]),
                    pos: p,
                },
            );
        }
    }
}

/// The JSON-shaped root object for the whole template, and the builds it names.
/// The template's model, and for each build (by its full name, `build.type.name`) the name of
/// its source, which is what `{{build_name}}`, `PACKER_BUILD_NAME` and the manifest's `name` see
/// in Packer (`packer_build_name` = the source's name).
pub(crate) fn root(
    files: &[SourceFile],
    decls: &Decls,
    scope: &Scope,
    diags: &mut Vec<Diag>,
) -> (Node, BTreeMap<String, String>) {
    let sources: BTreeMap<String, &SourceDecl> = decls
        .sources
        .iter()
        .map(|s| (format!("{}.{}", s.kind, s.name), s))
        .collect();
    let mut builders = Vec::new();
    let mut provisioners = Vec::new();
    let mut chains = Vec::new();
    let mut cleanup: Option<Node> = None;
    let mut source_names = BTreeMap::new();
    if decls.builds.is_empty() {
        diags.push(Diag::error(
            None,
            "Missing build block",
            "A build block with one or more sources is required for executing a build.",
        ));
    }
    for s in &decls.sources {
        if let Some(a) = s.body.get_attribute("name") {
            diags.push(unsupported_argument(
                files[s.file].span_loc(a.key.span()),
                "name",
            ));
        }
    }
    let mut scope = scope.clone();
    if decls.builds.len() > 1 {
        scope.insert(MULTI, Value::Null);
    }
    let scope = &scope;
    for b in &decls.builds {
        let f = &files[b.file];
        let mut out = BuildOut::default();
        build_block(f, b, &sources, files, scope, &mut out, diags);
        builders.extend(out.builders);
        source_names.extend(out.source_names);
        provisioners.extend(out.provisioners);
        chains.extend(out.chains);
        if let Some(c) = out.cleanup {
            if cleanup.is_some() {
                diags.push(Diag::error(
                    b.loc.clone(),
                    "Duplicate error-cleanup-provisioner",
                    "rpack supports one error-cleanup-provisioner per template.",
                ));
            } else {
                cleanup = Some(c);
            }
        }
    }
    let p = Pos::default();
    let mut root = Object::default();
    put(
        &mut root,
        "builders",
        p,
        Node {
            value: J::Array(builders),
            pos: p,
        },
    );
    if !provisioners.is_empty() {
        put(
            &mut root,
            "provisioners",
            p,
            Node {
                value: J::Array(provisioners),
                pos: p,
            },
        );
    }
    if !chains.is_empty() {
        put(
            &mut root,
            "post-processors",
            p,
            Node {
                value: J::Array(chains),
                pos: p,
            },
        );
    }
    if let Some(c) = cleanup {
        put(&mut root, "error-cleanup-provisioner", p, c);
    }
    (
        Node {
            value: J::Object(root),
            pos: p,
        },
        source_names,
    )
}

#[derive(Default)]
struct BuildOut {
    builders: Vec<Node>,
    /// (full build name, source name).
    source_names: Vec<(String, String)>,
    provisioners: Vec<Node>,
    chains: Vec<Node>,
    cleanup: Option<Node>,
}

fn string_attr(
    f: &SourceFile,
    e: &Expression,
    scope: &Scope,
    diags: &mut Vec<Diag>,
) -> Option<String> {
    match value(f, e, &scope.lazy_context(), diags)? {
        Value::String(s) => Some(s),
        other => {
            diags.push(Diag::error(
                f.span_loc(e.span()),
                "Incorrect attribute value type",
                format!(
                    "A string is required, not {}.",
                    super::funcs::type_name(&other)
                ),
            ));
            None
        }
    }
}

fn string_list(
    f: &SourceFile,
    e: &Expression,
    scope: &Scope,
    diags: &mut Vec<Diag>,
) -> Vec<String> {
    match value(f, e, &scope.lazy_context(), diags) {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                other => {
                    diags.push(Diag::error(
                        f.span_loc(e.span()),
                        "Incorrect attribute value type",
                        format!(
                            "A list of strings is required; an element is {}.",
                            super::funcs::type_name(&other)
                        ),
                    ));
                    None
                }
            })
            .collect(),
        Some(other) => {
            diags.push(Diag::error(
                f.span_loc(e.span()),
                "Incorrect attribute value type",
                format!(
                    "A list of strings is required, not {}.",
                    super::funcs::type_name(&other)
                ),
            ));
            Vec::new()
        }
        None => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn build_block(
    f: &SourceFile,
    b: &BuildDecl,
    sources: &BTreeMap<String, &SourceDecl>,
    files: &[SourceFile],
    scope: &Scope,
    out: &mut BuildOut,
    diags: &mut Vec<Diag>,
) {
    let (attrs, blocks) = parts(b.body);
    let mut build_name = String::new();
    // (reference "type.name", where, fill-in block)
    let mut used: Vec<(String, Option<Loc>, Option<&Block>)> = Vec::new();
    for a in &attrs {
        match a.key.as_str() {
            "name" => build_name = string_attr(f, &a.value, scope, diags).unwrap_or_default(),
            "description" => {}
            "sources" => {
                for s in string_list(f, &a.value, scope, diags) {
                    used.push((
                        s.strip_prefix("source.").unwrap_or(&s).to_string(),
                        f.span_loc(a.value.span()),
                        None,
                    ));
                }
            }
            k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
        }
    }
    for blk in &blocks {
        if blk.ident.as_str() == "source" {
            match blk.labels.as_slice() {
                [l] => used.push((
                    l.as_str().strip_prefix("source.").unwrap_or(l.as_str()).to_string(),
                    f.span_loc(blk.ident.span()),
                    Some(blk),
                )),
                _ => diags.push(Diag::error(
                    f.span_loc(blk.ident.span()),
                    "Invalid source block",
                    "A source block inside build takes one label: the source reference (\"type.name\").",
                )),
            }
        }
    }
    if used.is_empty() {
        diags.push(Diag::error(
            b.loc.clone(),
            "Missing sources",
            "A build block needs at least one source (sources = [\"source.type.name\"] or a source block).",
        ));
    }
    let mut scope_names: Vec<(String, String)> = Vec::new(); // (source ref, full name)
    for (r, loc, fill) in used {
        let Some(src) = sources.get(&r) else {
            diags.push(Diag::error(
                loc,
                "Unknown source",
                format!(
                    "Unknown source {r}. Declare it with a source \"{}\" \"{}\" block.",
                    r.split('.').next().unwrap_or(""),
                    r.split('.').nth(1).unwrap_or("")
                ),
            ));
            continue;
        };
        let sf = &files[src.file];
        let mut name = src.name.clone();
        if let Some(fb) = fill {
            if let Some(a) = fb.body.get_attribute("name") {
                name = string_attr(f, &a.value, scope, diags).unwrap_or(name);
            }
        }
        let source_ref = format!("{}.{name}", src.kind);
        let full = if build_name.is_empty() {
            source_ref.clone()
        } else {
            format!("{build_name}.{source_ref}")
        };
        let mut src_obj = Object::default();
        let s = scope.with("source", {
            let mut m = hcl::Map::new();
            m.insert("name".into(), Value::String(name.clone()));
            m.insert("type".into(), Value::String(src.kind.clone()));
            Value::Object(m)
        });
        let sp = pos(src.loc.as_ref());
        put(
            &mut src_obj,
            "type",
            sp,
            Node {
                value: J::String(src.kind.clone()),
                pos: sp,
            },
        );
        put(
            &mut src_obj,
            "name",
            sp,
            Node {
                value: J::String(full.clone()),
                pos: sp,
            },
        );
        // `name` is not a source body's (Packer: Unsupported argument, reported once in `root`).
        let body = body_object(sf, src.body, &s, &src.kind, &["name"], diags);
        src_obj.entries.extend(body.entries);
        if let Some(fb) = fill {
            let extra = body_object(f, &fb.body, &s, &src.kind, &["name"], diags);
            for (k, kp, n) in extra.entries {
                if src_obj.get(&k).is_some() {
                    diags.push(Diag::error(
                        f.span_loc(fb.ident.span()),
                        "Duplicate argument",
                        format!("\"{k}\" is already set in source {} at {}:{}; a build-level source block may only fill in unset arguments.", r, sf.name, src.loc.as_ref().map_or(0, |l| l.line)),
                    ));
                } else {
                    src_obj.entries.push((k, kp, n));
                }
            }
        }
        out.builders.push(Node {
            value: J::Object(src_obj),
            pos: sp,
        });
        out.source_names.push((full.clone(), name));
        scope_names.push((source_ref, full));
    }
    // Provisioners and post-processors.
    let all: Vec<String> = scope_names.iter().map(|(_, full)| full.clone()).collect();
    for blk in blocks {
        let kind_label = || blk.labels.first().map(|l| l.as_str().to_string());
        match blk.ident.as_str() {
            "source" => {}
            "provisioner" | "error-cleanup-provisioner" => {
                let Some(kind) = kind_label() else {
                    diags.push(Diag::error(
                        f.span_loc(blk.ident.span()),
                        format!("Missing type for {}", blk.ident.as_str()),
                        "This block needs one label: the provisioner type.",
                    ));
                    continue;
                };
                let nodes = plugin(f, blk, &kind, scope, &scope_names, &all, true, diags);
                if blk.ident.as_str() == "provisioner" {
                    out.provisioners.extend(nodes);
                } else if let Some(node) = nodes.into_iter().next() {
                    out.cleanup = Some(node);
                }
            }
            "post-processor" => {
                let Some(kind) = kind_label() else {
                    diags.push(Diag::error(
                        f.span_loc(blk.ident.span()),
                        "Missing type for post-processor",
                        "This block needs one label: the post-processor type.",
                    ));
                    continue;
                };
                for node in plugin(f, blk, &kind, scope, &scope_names, &all, false, diags) {
                    let p = node.pos;
                    out.chains.push(Node {
                        value: J::Array(vec![node]),
                        pos: p,
                    });
                }
            }
            "post-processors" => {
                let (pa, pb) = parts(&blk.body);
                for a in pa {
                    diags.push(unsupported_argument(
                        f.span_loc(a.key.span()),
                        a.key.as_str(),
                    ));
                }
                let mut chain = Vec::new();
                for x in pb {
                    if x.ident.as_str() != "post-processor" {
                        diags.push(unsupported_block(
                            f.span_loc(x.ident.span()),
                            x.ident.as_str(),
                        ));
                        continue;
                    }
                    let Some(kind) = x.labels.first().map(|l| l.as_str().to_string()) else {
                        diags.push(Diag::error(
                            f.span_loc(x.ident.span()),
                            "Missing type for post-processor",
                            "This block needs one label: the post-processor type.",
                        ));
                        continue;
                    };
                    chain.extend(plugin(f, x, &kind, scope, &scope_names, &all, false, diags));
                }
                if !chain.is_empty() {
                    let p = chain[0].pos;
                    out.chains.push(Node {
                        value: J::Array(chain),
                        pos: p,
                    });
                }
            }
            k => diags.push(unsupported_block(f.span_loc(blk.ident.span()), k)),
        }
    }
}

/// A provisioner or post-processor block as its JSON object, `only` scoped to this build block.
#[allow(clippy::too_many_arguments)]
fn plugin(
    f: &SourceFile,
    blk: &Block,
    kind: &str,
    scope: &Scope,
    names: &[(String, String)],
    all: &[String],
    provisioner: bool,
    diags: &mut Vec<Diag>,
) -> Vec<Node> {
    let loc = f.span_loc(blk.ident.span());
    let p = pos(loc.as_ref());
    let mut only: Option<Vec<String>> = None;
    let mut except: Vec<String> = Vec::new();
    let mut override_obj = None;
    for a in parts(&blk.body).0 {
        match a.key.as_str() {
            "only" => only = Some(string_list(f, &a.value, scope, diags)),
            "except" => except = string_list(f, &a.value, scope, diags),
            "override" if provisioner => override_obj = Some(a),
            _ => {}
        }
    }
    let check = |list: &[String], what: &str, diags: &mut Vec<Diag>| {
        for n in list {
            if !names.iter().any(|(s, _)| s == n) {
                diags.push(Diag::error(
                    loc.clone(),
                    format!("Unknown source in {what}"),
                    format!(
                        "{n} is not a source of this build block; use one of: {}.",
                        names
                            .iter()
                            .map(|(s, _)| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    };
    if let Some(o) = &only {
        check(o, "only", diags);
    }
    check(&except, "except", diags);
    let selected: Vec<String> = names
        .iter()
        .filter(|(s, _)| only.as_ref().is_none_or(|o| o.contains(s)) && !except.contains(s))
        .map(|(_, full)| full.clone())
        .collect();
    if selected.is_empty() {
        return Vec::new();
    }
    // A body using `source.*` is evaluated once per build it applies to, as Packer does.
    if uses_source(&blk.body) {
        let mut out = Vec::new();
        for (src, full) in names.iter().filter(|(_, full)| selected.contains(full)) {
            let (kind_s, name_s) = src.split_once('.').unwrap_or((src.as_str(), ""));
            let mut m = hcl::Map::new();
            m.insert("name".into(), Value::String(name_s.to_string()));
            m.insert("type".into(), Value::String(kind_s.to_string()));
            let s = scope.with("source", Value::Object(m));
            out.extend(plugin_node(
                f,
                blk,
                kind,
                &s,
                names,
                p,
                std::slice::from_ref(full),
                true,
                override_obj,
                provisioner,
                diags,
            ));
        }
        return out;
    }
    let scoped = selected.len() < all.len() || scope.get(MULTI).is_some();
    plugin_node(
        f,
        blk,
        kind,
        scope,
        names,
        p,
        &selected,
        scoped,
        override_obj,
        provisioner,
        diags,
    )
    .into_iter()
    .collect()
}

fn uses_source(body: &Body) -> bool {
    parts(body)
        .0
        .iter()
        .any(|a| super::eval::reads_root(&a.value, "source"))
}

#[allow(clippy::too_many_arguments)]
fn plugin_node(
    f: &SourceFile,
    blk: &Block,
    kind: &str,
    scope: &Scope,
    names: &[(String, String)],
    p: Pos,
    selected: &[String],
    scoped: bool,
    override_obj: Option<&hcl_edit::structure::Attribute>,
    provisioner: bool,
    diags: &mut Vec<Diag>,
) -> Option<Node> {
    // A provisioner's `name` is Packer's (its block schema has it), not the plugin's.
    let skip: &[&str] = if provisioner {
        &["only", "except", "override", "name"]
    } else {
        &["only", "except", "override"]
    };
    let mut obj = body_object(f, &blk.body, scope, kind, skip, diags);
    obj.entries.insert(
        0,
        (
            "type".into(),
            p,
            Node {
                value: J::String(kind.to_string()),
                pos: p,
            },
        ),
    );
    if scoped {
        let list = selected
            .iter()
            .map(|s| Node {
                value: J::String(s.clone()),
                pos: p,
            })
            .collect();
        obj.entries.push((
            "only".into(),
            p,
            Node {
                value: J::Array(list),
                pos: p,
            },
        ));
    }
    if let Some(a) = override_obj {
        if let Some(Value::Object(o)) = value(f, &a.value, &scope.lazy_context(), diags) {
            let mut ov = Object::default();
            for (k, v) in o {
                match names.iter().find(|(s, _)| *s == k) {
                    Some((_, full)) => ov.entries.push((full.clone(), p, to_node(&v, p))),
                    None => diags.push(Diag::error(
                        f.span_loc(a.key.span()),
                        "Unknown source in override",
                        format!("{k} is not a source of this build block."),
                    )),
                }
            }
            obj.entries.push((
                "override".into(),
                p,
                Node {
                    value: J::Object(ov),
                    pos: p,
                },
            ));
        }
    }
    Some(Node {
        value: J::Object(obj),
        pos: p,
    })
}
