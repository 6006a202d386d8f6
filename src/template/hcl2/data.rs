//! `data "type" "name" { … }` blocks: the data sources rpack knows (Packer's `null` and `http`,
//! the amazon plugin's `amazon-ami`, `amazon-parameterstore`, `amazon-secretsmanager`), their
//! argument schemas and outputs, and the hook through which the layers above configure and run
//! them (AWS and HTTP live above the template layer).
//!
//! As in Packer, every data block is configured (its arguments checked) whenever the template is
//! loaded; it is executed only when the command evaluates data sources. A data source that is
//! not executed (`validate` without `-evaluate-datasources`) yields Packer's unknown-value
//! placeholder for each string output and an empty map for map outputs.

use hcl::{Map, Value};
use hcl_edit::structure::Body;
use hcl_edit::Span;

use super::blocks::{parts, unsupported_argument};
use super::diag::{Diag, Loc, SourceFile};
use super::to_model::{body_object, Scope};
use crate::template::json::{Object, Pos};

/// Packer's placeholder for a value that is unknown at validation time
/// (hcl2shim.UnknownVariableValue).
pub(crate) const UNKNOWN: &str = "74D93920-ED26-11E3-AC10-0800200C9A66";

thread_local! {
    /// Whether this thread's load leaves data sources unexecuted (their outputs unknown).
    static UNEXECUTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with data sources marked as executed or not for [`unknown_expression`].
pub(crate) fn with_execution<T>(execute: bool, f: impl FnOnce() -> T) -> T {
    let before = UNEXECUTED.with(|u| u.replace(!execute));
    let out = f();
    UNEXECUTED.with(|u| u.set(before));
    out
}

/// Whether an expression that failed to evaluate is merely unknown: it refers to `data.*` and
/// data sources were not executed (Packer's unknown values make such expressions unknown, not
/// errors). Its value is then the placeholder.
pub(crate) fn unknown_expression(e: &hcl_edit::expr::Expression) -> bool {
    UNEXECUTED.with(std::cell::Cell::get) && super::eval::reads_root(e, "data")
}

/// One `data` block.
#[derive(Debug, Clone)]
pub(crate) struct DataDecl<'a> {
    pub kind: String,
    pub name: String,
    pub file: usize,
    pub loc: Option<Loc>,
    /// The type label's position (Packer reports unknown types there).
    pub kind_loc: Option<Loc>,
    pub body: &'a Body,
}

/// A configuration or execution problem: the message and, when it is about one key, where
/// that key is written.
pub(crate) type DataError = (String, Option<Pos>);

/// What the layers above provide: Packer's `Configure` and `Execute` for the data sources that
/// need the network (everything but `null`).
pub(crate) trait DataSources {
    /// Checks `config` for data source `kind`, then, when `execute`, runs it and returns its
    /// outputs (`None` when not executed).
    fn run(
        &self,
        kind: &str,
        config: &Object,
        execute: bool,
    ) -> Result<Option<Map<String, Value>>, Vec<DataError>>;
}

/// How data sources are handled for one load.
#[derive(Clone, Copy, Default)]
pub(crate) struct DataOptions<'a> {
    /// Configures and runs the network data sources; without it they are only schema-checked.
    pub provider: Option<&'a dyn DataSources>,
    /// Execute (build, inspect, console, `validate -evaluate-datasources`) or only configure.
    pub execute: bool,
    /// The keys each plugin accepts: with it, an unknown key in a plugin body is Packer's
    /// "Unsupported argument" when the template loads (without it, the plan's decoders report
    /// it later in the JSON path's words).
    pub plugins: Option<&'a dyn super::plugin_keys::PluginKeys>,
}

/// An output's shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Out {
    Str,
    StrMap,
}

struct Schema {
    /// Its own arguments (the AWS access arguments and blocks come with `aws`).
    args: &'static [&'static str],
    aws: bool,
    outputs: &'static [(&'static str, Out)],
}

const ACCESS_ARGS: &[&str] = &[
    "access_key",
    "custom_endpoint_ec2",
    "shared_credentials_file",
    "decode_authorization_messages",
    "insecure_skip_tls_verify",
    "max_retries",
    "mfa_code",
    "profile",
    "region",
    "secret_key",
    "skip_metadata_api_check",
    "skip_credential_validation",
    "token",
];
/// The AWS access configuration's blocks (each appears once).
pub(crate) const ACCESS_BLOCKS: &[&str] = &["assume_role", "vault_aws_engine", "aws_polling"];

/// The data source types rpack knows, as Packer lists them.
pub(crate) const KINDS: &[&str] = &[
    "amazon-ami",
    "amazon-parameterstore",
    "amazon-secretsmanager",
    "http",
    "null",
];

fn schema(kind: &str) -> Option<Schema> {
    Some(match kind {
        "amazon-ami" => Schema {
            args: &["filters", "owners", "most_recent", "include_deprecated"],
            aws: true,
            outputs: &[
                ("id", Out::Str),
                ("name", Out::Str),
                ("creation_date", Out::Str),
                ("owner", Out::Str),
                ("owner_name", Out::Str),
                ("tags", Out::StrMap),
            ],
        },
        "amazon-parameterstore" => Schema {
            args: &["name", "with_decryption"],
            aws: true,
            outputs: &[
                ("value", Out::Str),
                ("version", Out::Str),
                ("arn", Out::Str),
            ],
        },
        "amazon-secretsmanager" => Schema {
            args: &["name", "key", "version_id", "version_stage"],
            aws: true,
            outputs: &[
                ("value", Out::Str),
                ("secret_string", Out::Str),
                ("secret_binary", Out::Str),
                ("version_id", Out::Str),
            ],
        },
        "http" => Schema {
            args: &["url", "method", "request_headers", "request_body"],
            aws: false,
            outputs: &[
                ("url", Out::Str),
                ("body", Out::Str),
                ("response_headers", Out::StrMap),
                // Packer's output spec names the response headers `request_headers` too.
                ("request_headers", Out::StrMap),
            ],
        },
        "null" => Schema {
            args: &["input"],
            aws: false,
            outputs: &[("output", Out::Str)],
        },
        _ => return None,
    })
}

/// The location of a position inside `f`.
fn pos_loc(f: &SourceFile, p: Pos) -> Loc {
    super::plugin_keys::loc_at(f, p)
}

/// Evaluates, configures and (when asked) runs one data block in `scope`. The value is the
/// object of its outputs. Problems are pushed to `diags` and yield `None`. With `unknown_ok`
/// (data sources are not executed and this block uses another one's placeholder outputs), a
/// body that fails to evaluate gives placeholders, as Packer's unknown values propagate.
pub(crate) fn evaluate(
    f: &SourceFile,
    d: &DataDecl,
    scope: &Scope,
    opts: DataOptions<'_>,
    unknown_ok: bool,
    diags: &mut Vec<Diag>,
) -> Option<Value> {
    let Some(schema) = schema(&d.kind) else {
        diags.push(Diag::error(
            d.kind_loc.clone(),
            format!("Unknown data type {}", d.kind),
            format!("known data sources: [{}]", KINDS.join(" ")),
        ));
        return None;
    };
    let before = diags.len();
    let (attrs, blocks) = parts(d.body);
    for a in attrs {
        let k = a.key.as_str();
        if !(schema.args.contains(&k) || schema.aws && ACCESS_ARGS.contains(&k)) {
            diags.push(unsupported_argument(
                f.span_loc(a.key.span()),
                a.key.as_str(),
            ));
        }
    }
    for b in blocks {
        if !(schema.aws && ACCESS_BLOCKS.contains(&b.ident.as_str())) {
            diags.push(super::blocks::unsupported_block(
                f.span_loc(b.ident.span()),
                b.ident.as_str(),
            ));
        }
    }
    if diags.len() > before {
        return None;
    }
    let config = body_object(f, d.body, scope, &d.kind, &[], diags);
    if diags.len() > before {
        if unknown_ok {
            diags.truncate(before);
            return Some(Value::Object(placeholder(&schema)));
        }
        return None;
    }
    let outputs = if d.kind == "null" {
        null(&config)
    } else if let Some(p) = opts.provider {
        p.run(&d.kind, &config, opts.execute)
    } else {
        Ok(None)
    };
    match outputs {
        Ok(Some(m)) => Some(Value::Object(complete(&schema, m))),
        Ok(None) => Some(Value::Object(placeholder(&schema))),
        Err(errs) => {
            for (msg, pos) in errs {
                let loc = pos
                    .filter(|p| p.line > 0)
                    .map(|p| pos_loc(f, p))
                    .or_else(|| d.loc.clone());
                diags.push(Diag::error(loc, msg, String::new()));
            }
            None
        }
    }
}

/// Packer's `null` data source: `input` (required) → `output`.
fn null(config: &Object) -> Result<Option<Map<String, Value>>, Vec<DataError>> {
    let input = config.get("input");
    let text = match input.map(|n| &n.value) {
        Some(crate::template::json::Value::String(s)) => s.clone(),
        Some(crate::template::json::Value::Number(n)) => n.clone(),
        Some(crate::template::json::Value::Bool(b)) => b.to_string(),
        Some(crate::template::json::Value::Null) | None => String::new(),
        Some(_) => {
            return Err(vec![(
                "input: a string is required".into(),
                config.key_pos("input"),
            )])
        }
    };
    if text.is_empty() {
        return Err(vec![("The `input` must be specified".into(), None)]);
    }
    let mut m = Map::new();
    m.insert("output".into(), Value::String(text));
    Ok(Some(m))
}

/// Every declared output present (missing ones empty), nothing else.
fn complete(schema: &Schema, mut m: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, shape) in schema.outputs {
        let v = m.shift_remove(*name).unwrap_or(match shape {
            Out::Str => Value::String(String::new()),
            Out::StrMap => Value::Object(Map::new()),
        });
        out.insert((*name).to_string(), v);
    }
    out
}

fn placeholder(schema: &Schema) -> Map<String, Value> {
    schema
        .outputs
        .iter()
        .map(|(name, shape)| {
            let v = match shape {
                Out::Str => Value::String(UNKNOWN.into()),
                Out::StrMap => Value::Object(Map::new()),
            };
            ((*name).to_string(), v)
        })
        .collect()
}
