//! Checking a template into the build plan: names rendered, provisioners filtered by
//! `only`/`except` with their `override` for the build, post-processor chains, every plugin's
//! configuration decoded.
//!
//! Problems come out as diagnostics shaped like Packer 1.6.6's (`Failed to initialize build`,
//! `Failed to prepare build`, …) but, unlike Packer, all of them in one run.

use crate::template::builtins::{self, Plugin};
use std::collections::BTreeMap;

use crate::decoder::ConfigError;

use super::registry;
use super::{Build, Checked, Diag, Options, PlannedPostProcessor, PlannedProvisioner, Severity};
use crate::provisioners::Common;
use crate::template::interp::{self, BuildData, Context};
use crate::template::json::Object;
use crate::template::parse::{
    applies_to, go_multierror, mapstructure_errors, packer_multierror, FileNames, ProvisionerDef,
    Template,
};
use crate::template::variables;

/// Checks everything `packer validate` checks, after the template parsed and variables were
/// merged (`values`: defaults < var files < `-var`).
pub fn check(
    tpl: &Template,
    values: &BTreeMap<String, String>,
    base: &Context,
    opts: &Options,
) -> Checked {
    check_from(tpl, values, &variables::Origins::new(), base, opts)
}

/// [`check`], with where var-file values are written (`origins`, for error positions).
pub(crate) fn check_from(
    tpl: &Template,
    values: &BTreeMap<String, String>,
    origins: &variables::Origins,
    base: &Context,
    opts: &Options,
) -> Checked {
    let mut out = Checked::default();

    // Core validation: template structure, minimum version, required variables.
    let mut groups: Vec<(Vec<String>, bool)> = Vec::new();
    // Each with the position of the value it is about (Packer gives none).
    let file = tpl.file_names();
    let structure: Vec<String> = tpl
        .validate()
        .into_iter()
        .map(|e| match e.pos {
            Some(p) => format!("{} ({})", e.message, file.at(p)),
            None => e.message,
        })
        .collect();
    if !structure.is_empty() {
        groups.push((structure, true));
    }
    if let Some(v) = &tpl.min_version {
        if let Some(msg) = min_version_error(v) {
            groups.push((vec![msg], false));
        }
    }
    let missing: Vec<String> = variables::missing_required(tpl, values)
        .into_iter()
        .map(|n| format!("required variable not set: {n}"))
        .collect();
    let stop = !missing.is_empty();
    if stop {
        groups.push((missing, true));
    }
    if !groups.is_empty() {
        let detail = if groups.len() == 1 {
            let (items, listed) = &groups[0];
            if *listed {
                go_multierror(items)
            } else {
                items[0].clone()
            }
        } else {
            go_multierror(
                &groups
                    .iter()
                    .flat_map(|(i, _)| i.clone())
                    .collect::<Vec<_>>(),
            )
        };
        out.diags.push(Diag::error("", detail));
    }
    if stop {
        return out;
    }

    // Variables.
    let user_vars = match variables::resolve_from(tpl, values, origins, base) {
        Ok(v) => v,
        Err(errs) => {
            let detail = if errs.len() == 1 {
                errs[0].clone()
            } else {
                go_multierror(&errs)
            };
            out.diags.push(Diag::error("", detail));
            return out;
        }
    };
    let mut ctx = base.clone();
    ctx.user_vars = user_vars.clone();
    // Like Packer, an undefined variable renders "" outside the variables pass; rpack records
    // each reference and reports it below.
    ctx.strict_user_vars = false;
    let undefined = crate::template::undefined::Sink::default();
    ctx.undefined = Some(undefined.clone());
    // All values rendered from here on count against one total (a bound on memory).
    ctx.rendered = Some(Default::default());
    out.user_vars = user_vars;

    // Build names.
    // A map, not a list: 20,000 builders must not cost 200 million compares (a later builder
    // with the same rendered name wins).
    let mut by_name: std::collections::HashMap<String, usize> = Default::default();
    for (i, b) in tpl.builders.iter().enumerate() {
        let name_at = b.config.get("name").map_or(b.pos, |n| n.pos);
        let mark = undefined.mark();
        let rendered = interp::render(&b.name, &ctx);
        undefined.locate_since(mark, "name", name_at, &b.name);
        match rendered {
            Ok(n) => {
                by_name.insert(n, i);
            }
            Err(e) => out.diags.push(Diag::error(
                "",
                format!(
                    "Error interpolating builder '{}': {e} ({})",
                    b.name,
                    file.at(name_at)
                ),
            )),
        }
    }
    let mut names: Vec<(String, usize)> = by_name.into_iter().collect();
    names.sort();
    for (name, i) in names {
        if !opts.only.is_empty() && !opts.only.contains(&name) {
            continue;
        }
        if opts.except.contains(&name) {
            continue;
        }
        if let Some(b) = check_build(tpl, i, &name, &ctx, opts, &file, &mut out.diags) {
            out.builds.push(b);
        }
    }
    if let Some(d) = undefined_diag(&undefined, &file, opts) {
        out.diags.push(d);
    }
    out
}

/// Every reference to an undefined user variable, one line each: a warning (Packer renders "",
/// and so does rpack), or with `-strict` an error.
fn undefined_diag(
    sink: &crate::template::undefined::Sink,
    file: &FileNames,
    opts: &Options,
) -> Option<Diag> {
    use crate::template::undefined::describe;
    let refs = sink.take();
    if refs.is_empty() || !(opts.report_undefined || opts.strict) {
        return None;
    }
    let lines: Vec<String> = refs
        .iter()
        .map(|r| {
            describe(
                r,
                r.pos
                    .map_or(file.to_string(), |p| file.name(p).to_string())
                    .as_str(),
            )
        })
        .collect();
    let mut detail = lines.join("\n");
    if opts.strict {
        detail.push_str("\n\nDefine them in \"variables\" or set them with -var/-var-file (strict mode: -strict or RPACK_STRICT=1).");
        Some(Diag::error("Undefined user variables", detail))
    } else {
        detail.push_str("\n\nThey render as \"\", as in Packer 1.6.6. Define them in \"variables\" or set them with -var/-var-file; -strict or RPACK_STRICT=1 makes this an error.");
        Some(Diag {
            severity: Severity::Warning,
            summary: "Undefined user variables".into(),
            detail,
        })
    }
}

fn check_build(
    tpl: &Template,
    index: usize,
    name: &str,
    ctx: &Context,
    opts: &Options,
    file: &FileNames,
    diags: &mut Vec<Diag>,
) -> Option<Build> {
    let def = &tpl.builders[index];
    let raw_name = def.name.as_str();
    let mut init_errs: Vec<String> = Vec::new();
    let mut prepare: Vec<Diag> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let prepare_summary = format!(
        "Failed to prepare build: {}",
        crate::gocompat::strconv::quote(name)
    );

    let mut bctx = ctx.clone();
    let plugin_name = tpl.plugin_build_name(name).to_string();
    bctx.build_name = Some(plugin_name.clone());
    bctx.build_type = Some(def.kind.clone());
    bctx.build_data = BuildData::Deferred;

    // Builder.
    let builder = if registry::builder_known(&def.kind) {
        let mut c = bctx.clone();
        c.amazon_funcs = matches!(
            def.kind.as_str(),
            "amazon-ebs" | "amazon-ebsvolume" | "amazon-ebssurrogate"
        );
        match registry::decode_builder(&def.kind, &[&def.config], &c) {
            Ok(d) => {
                warnings.extend(d.warnings);
                Some(d.value)
            }
            Err(errs) => {
                prepare.push(Diag::error(
                    &prepare_summary,
                    plugin_detail(&errs, file, PluginAt::of(&def.config, def.pos)),
                ));
                None
            }
        }
    } else {
        init_errs.push(
            not_implemented(
                Plugin::Builder,
                &format!("builder {index}"),
                &def.kind,
                &def.config,
                def.pos,
                file,
                registry::BUILDER_KINDS,
            )
            .unwrap_or_else(|| {
                format!(
                    "error initializing builder '{}': Unknown builder {}",
                    def.kind, def.kind
                )
            }),
        );
        None
    };

    // Provisioners.
    let mut check = |p| {
        check_provisioner(
            tpl,
            p,
            raw_name,
            &bctx,
            file,
            &prepare_summary,
            &mut init_errs,
            &mut prepare,
            &mut warnings,
        )
    };
    let provisioners: Vec<_> = tpl
        .provisioners
        .iter()
        .filter(|p| applies_to(&p.only, &p.except, raw_name))
        .filter_map(&mut check)
        .collect();
    let error_cleanup = tpl.error_cleanup_provisioner.as_ref().and_then(check);

    // Post-processor chains.
    let mut chains = Vec::new();
    for (ci, chain) in tpl.post_processors.iter().enumerate() {
        let mut current = Vec::new();
        for (pi, pp) in chain.iter().enumerate() {
            if !applies_to(&pp.only, &pp.except, raw_name) {
                continue;
            }
            // `-except` naming a post-processor skips it and the rest of its chain.
            if opts.except.iter().any(|e| !e.is_empty() && *e == pp.name) {
                break;
            }
            if !registry::post_processor_known(&pp.kind) {
                init_errs.push(
                    not_implemented(
                        Plugin::PostProcessor,
                        &format!("post-processor {ci}.{pi}"),
                        &pp.kind,
                        &pp.config,
                        pp.pos,
                        file,
                        crate::post_processors::KINDS,
                    )
                    .unwrap_or_else(|| {
                        format!(
                            "error initializing post-processor '{}': Unknown post-processor {}",
                            pp.kind, pp.kind
                        )
                    }),
                );
                continue;
            }
            match registry::decode_post_processor(&pp.kind, &[&pp.config], &bctx) {
                Ok(d) => {
                    warnings.extend(d.warnings);
                    current.push(PlannedPostProcessor {
                        kind: pp.kind.clone(),
                        name: pp.name.clone(),
                        keep_input_artifact: pp.keep_input_artifact,
                        config: d.value,
                    });
                }
                Err(errs) => prepare.push(Diag::error(
                    &prepare_summary,
                    plugin_detail(&errs, file, PluginAt::of(&pp.config, pp.pos)),
                )),
            }
        }
        if !current.is_empty() {
            chains.push(current);
        }
    }

    if !init_errs.is_empty() {
        let detail = if init_errs.len() == 1 {
            init_errs[0].clone()
        } else {
            go_multierror(&init_errs)
        };
        diags.push(Diag::error(
            format!(
                "Failed to initialize build {}",
                crate::gocompat::strconv::quote(name)
            ),
            detail,
        ));
    }
    let failed = !init_errs.is_empty() || !prepare.is_empty();
    diags.extend(prepare);
    if !failed {
        for w in warnings {
            diags.push(Diag {
                severity: Severity::Warning,
                summary: format!(
                    "Warning when preparing build: {}",
                    crate::gocompat::strconv::quote(name)
                ),
                detail: w,
            });
        }
    }
    if failed {
        return None;
    }
    Some(Build {
        name: name.to_string(),
        raw_name: raw_name.to_string(),
        plugin_name,
        builder_kind: def.kind.clone(),
        builder: builder?,
        provisioners,
        error_cleanup,
        post_processors: chains,
    })
}

#[allow(clippy::too_many_arguments)]
fn check_provisioner(
    tpl: &Template,
    p: &ProvisionerDef,
    raw_name: &str,
    ctx: &Context,
    file: &FileNames,
    prepare_summary: &str,
    init_errs: &mut Vec<String>,
    prepare: &mut Vec<Diag>,
    warnings: &mut Vec<String>,
) -> Option<PlannedProvisioner> {
    if !registry::provisioner_known(&p.kind) {
        let occurrence = match tpl.provisioners.iter().position(|q| std::ptr::eq(q, p)) {
            Some(i) => format!("provisioner {i}"),
            None => "error-cleanup-provisioner".to_string(),
        };
        init_errs.push(
            not_implemented(
                Plugin::Provisioner,
                &occurrence,
                &p.kind,
                &p.config,
                p.pos,
                file,
                crate::provisioners::KINDS,
            )
            .unwrap_or_else(|| {
                format!(
                    "error initializing provisioner '{}': Unknown provisioner {}",
                    p.kind, p.kind
                )
            }),
        );
        return None;
    }
    let mut common = Common {
        pause_before: p.pause_before,
        timeout: p.timeout,
        max_retries: 0,
    };
    if let Some(raw) = &p.max_retries {
        let rendered = match &ctx.undefined {
            Some(sink) => {
                let mark = sink.mark();
                let out = interp::render(raw, ctx);
                let at = p.config.get("max_retries").map_or(p.pos, |n| n.pos);
                sink.locate_since(mark, "max_retries", at, raw);
                out
            }
            None => interp::render(raw, ctx),
        };
        match rendered {
            Ok(s) => match parse_atoi(&s) {
                Ok(n) => common.max_retries = n.max(0) as u32,
                Err(e) => {
                    init_errs.push(format!("`max_retries` must be a valid integer: {e}"));
                    return None;
                }
            },
            Err(e) => {
                init_errs.push(format!("failed to interpolate `max_retries`: {e}"));
                return None;
            }
        }
    }
    let mut raws: Vec<&Object> = vec![&p.config];
    if let Some((_, o)) = p.overrides.iter().find(|(n, _)| n == raw_name) {
        raws.push(o);
    }
    match registry::decode_provisioner(&p.kind, &raws, ctx) {
        Ok(d) => {
            warnings.extend(d.warnings);
            Some(PlannedProvisioner {
                kind: p.kind.clone(),
                common,
                config: d.value,
            })
        }
        Err(errs) => {
            prepare.push(Diag::error(
                prepare_summary,
                plugin_detail(&errs, file, PluginAt::of(&p.config, p.pos)),
            ));
            None
        }
    }
}

/// Go's `strconv.Atoi` with its error text.
fn parse_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            crate::gocompat::strconv::quote(s)
        ));
    }
    s.parse::<i64>().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            crate::gocompat::strconv::quote(s)
        )
    })
}

/// [`builtins::not_implemented`] at the object's `type` key.
fn not_implemented(
    plugin: Plugin,
    occurrence: &str,
    kind: &str,
    config: &crate::template::json::Object,
    pos: crate::template::json::Pos,
    file: &FileNames,
    implemented: &[&str],
) -> Option<String> {
    let at = config.get("type").map_or(pos, |n| n.pos);
    builtins::not_implemented(plugin, occurrence, kind, file.name(at), at, implemented)
}

fn is_key_error(e: &ConfigError) -> bool {
    e.message.starts_with("unknown configuration key: ")
        || e.message.starts_with("Deprecated configuration key: ")
}

fn is_render_error(e: &ConfigError) -> bool {
    e.message.starts_with("Error decoding config: ")
}

/// The message with the template position of its key, or, for a problem of the plugin as a
/// whole (a missing key, two keys that conflict), of the plugin's `type` (Packer gives none).
fn positioned(e: &ConfigError, file: &FileNames, plugin: PluginAt) -> String {
    let p = e.pos.unwrap_or(plugin.0);
    format!("{} ({})", e.message, file.at(p))
}

/// Where a plugin is written: its `type` key, else its object.
#[derive(Clone, Copy)]
struct PluginAt(crate::template::json::Pos);

impl PluginAt {
    fn of(config: &crate::template::json::Object, pos: crate::template::json::Pos) -> Self {
        PluginAt(config.get("type").map_or(pos, |n| n.pos))
    }
}

/// A plugin's problems in Packer's shape: unknown keys as a go-multierror list, a lone render
/// error bare, values of the wrong type as mapstructure's `N error(s) decoding` list (sorted),
/// the plugin's own checks as Packer's `N error(s) occurred` list. Packer stops at the first of
/// these stages that fails; rpack reports every stage, the decoding list first. Every problem
/// gets the template position of its key, or of the plugin (Packer gives none).
fn plugin_detail(errs: &[ConfigError], file: &FileNames, plugin: PluginAt) -> String {
    let items = |keep: &dyn Fn(&ConfigError) -> bool| -> Vec<String> {
        errs.iter()
            .filter(|e| keep(e))
            .map(|e| positioned(e, file, plugin))
            .collect()
    };
    if errs.iter().all(is_key_error) {
        return go_multierror(&items(&|_| true));
    }
    if errs.len() == 1 && is_render_error(&errs[0]) {
        return items(&|_| true).remove(0);
    }
    let decoding = items(&|e| e.decode);
    let others = items(&|e| !e.decode);
    match (decoding.is_empty(), others.is_empty()) {
        (true, _) => packer_multierror(&others),
        (false, true) => mapstructure_errors(&decoding),
        (false, false) => format!(
            "{}\n\n{}",
            mapstructure_errors(&decoding),
            packer_multierror(&others)
        ),
    }
}

/// Packer's `min_packer_version` check against the version rpack is compatible with.
pub(crate) fn min_version_error(v: &str) -> Option<String> {
    let Some(min) = parse_version(v) else {
        return Some(format!("min_version is invalid: Malformed version: {v}"));
    };
    let have = parse_version(crate::PACKER_COMPAT_VERSION).expect("own version parses");
    if have < min {
        let shown: Vec<String> = min.iter().map(std::string::ToString::to_string).collect();
        Some(format!(
            "This template requires Packer version {} or higher; using {}",
            shown.join("."),
            crate::PACKER_COMPAT_VERSION
        ))
    } else {
        None
    }
}

/// A go-version style version: `v`-prefix allowed, 1–3 numeric segments (padded to 3),
/// pre-release/metadata ignored for ordering.
fn parse_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim().strip_prefix('v').unwrap_or(v.trim());
    let core = v.split(['-', '+']).next()?;
    let mut parts: Vec<u64> = Vec::new();
    for seg in core.split('.') {
        parts.push(seg.parse().ok()?);
    }
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    parts.resize(3, 0);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(min_version_error("1.3.0"), None);
        assert_eq!(
            min_version_error("101.0.0").unwrap(),
            "This template requires Packer version 101.0.0 or higher; using 1.6.6"
        );
        assert_eq!(
            min_version_error("2.1").unwrap(),
            "This template requires Packer version 2.1.0 or higher; using 1.6.6"
        );
        assert_eq!(
            min_version_error("x.y").unwrap(),
            "min_version is invalid: Malformed version: x.y"
        );
    }

    #[test]
    fn plugin_problems_get_mapstructures_or_packers_header() {
        let at = |line| crate::template::json::Pos {
            offset: 0,
            line,
            col: 3,
            file: 0,
        };
        let err = |message: &str, line, decode| ConfigError {
            message: message.into(),
            key: None,
            pos: Some(at(line)),
            decode,
            suggestion: None,
        };
        let plugin = PluginAt(at(1));
        let decoding = [
            err("'ssh_port' expected type 'int', got …", 4, true),
            err("cannot parse 'iops' as int: …", 5, true),
        ];
        // Values of the wrong type alone: mapstructure's list, sorted, as Packer prints it.
        assert_eq!(
            plugin_detail(&decoding, &FileNames::single("t.json"), plugin),
            "2 error(s) decoding:\n\n* 'ssh_port' expected type 'int', got … (t.json:4:3)\n\
             * cannot parse 'iops' as int: … (t.json:5:3)"
        );
        let checks = [err("ami_name must be specified", 2, false)];
        assert_eq!(
            plugin_detail(&checks, &FileNames::single("t.json"), plugin),
            "1 error(s) occurred:\n\n* ami_name must be specified (t.json:2:3)"
        );
        // Packer stops after decoding; rpack goes on and lists both, decoding first.
        let both: Vec<ConfigError> = checks.iter().chain(&decoding).cloned().collect();
        assert_eq!(
            plugin_detail(&both, &FileNames::single("t.json"), plugin),
            "2 error(s) decoding:\n\n* 'ssh_port' expected type 'int', got … (t.json:4:3)\n\
             * cannot parse 'iops' as int: … (t.json:5:3)\n\n\
             1 error(s) occurred:\n\n* ami_name must be specified (t.json:2:3)"
        );
    }

    #[test]
    fn atoi() {
        assert_eq!(parse_atoi("5"), Ok(5));
        assert_eq!(
            parse_atoi("abc").unwrap_err(),
            "strconv.Atoi: parsing \"abc\": invalid syntax"
        );
    }
}
