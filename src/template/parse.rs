//! The template model: a positioned JSON document checked against Packer 1.6.6's root keys and
//! turned into builders, provisioners, post-processor chains and variables.
//!
//! Every problem is collected (Packer stops at the first failing stage); each keeps the stage it
//! belongs to so a template with problems of one kind prints exactly Packer's text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::provisioner_def::provisioner;
use super::weak::{self, go_kind, weak_string};
use crate::template::json::{self, JsonError, Node, Object, Pos, Value};

/// A parsed template.
#[derive(Debug, Clone, Default)]
pub struct Template {
    /// Where it was read from; `None` for stdin.
    pub path: Option<PathBuf>,
    pub description: Option<String>,
    pub min_version: Option<String>,
    /// In source order.
    pub variables: Vec<Variable>,
    pub sensitive_variables: Vec<String>,
    /// In source order; names are unique.
    pub builders: Vec<BuilderDef>,
    pub provisioners: Vec<ProvisionerDef>,
    /// Each element is one chain.
    pub post_processors: Vec<Vec<PostProcessorDef>>,
    pub error_cleanup_provisioner: Option<ProvisionerDef>,
    /// Root-level `_comment` keys.
    pub comments: Vec<(String, String)>,
    /// HCL2 only: build name (`build.type.name`) → its source's name, the build name the
    /// template's plugins see (`{{build_name}}`, `PACKER_BUILD_NAME`, the manifest's `name`).
    /// A JSON template's plugins see the build's own name.
    pub source_names: BTreeMap<String, String>,
    /// The names of the files positions point into, by [`Pos::file`]; empty for a JSON
    /// template (its one file is [`Template::display_path`]).
    pub files: Vec<String>,
}

impl Template {
    /// The build name that `{{build_name}}` and the plugins see for the build named `name`.
    pub fn plugin_build_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.source_names.get(name).map_or(name, String::as_str)
    }
}

/// Names the file of a position in messages (`file:line:col`): the template's own name, or for
/// a template of several files the one the position is in.
#[derive(Debug, Clone, Default)]
pub struct FileNames {
    default: String,
    names: Vec<String>,
}

impl FileNames {
    /// One name for every position.
    pub fn single(name: impl Into<String>) -> FileNames {
        FileNames {
            default: name.into(),
            names: Vec::new(),
        }
    }
    /// The file `p` is in.
    pub fn name(&self, p: Pos) -> &str {
        self.names
            .get(p.file as usize)
            .map_or(self.default.as_str(), String::as_str)
    }
    /// `file:line:col` of `p`.
    pub fn at(&self, p: Pos) -> String {
        format!("{}:{}:{}", self.name(p), p.line, p.col)
    }
}

impl std::fmt::Display for FileNames {
    /// The name of the first file (the template's), for messages without a position.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.names.first().unwrap_or(&self.default))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    /// `None` = required (`null` in the template).
    pub default: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct BuilderDef {
    /// The unrendered name (defaults to the type).
    pub name: String,
    pub kind: String,
    /// The whole object (`name`/`type` included; decoders ignore `type`, `name` is marked known).
    pub config: Object,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct ProvisionerDef {
    pub kind: String,
    pub only: Vec<String>,
    pub except: Vec<String>,
    /// Build name → override object, in source order.
    pub overrides: Vec<(String, Object)>,
    pub pause_before: Option<Duration>,
    /// Rendered later, then parsed like `strconv.Atoi`.
    pub max_retries: Option<String>,
    pub timeout: Option<Duration>,
    pub config: Object,
    pub pos: Pos,
}

/// The keys of a provisioner object the template layer handles (not the plugin).
pub const PROVISIONER_COMMON_KEYS: &[&str] = &[
    "only",
    "except",
    "override",
    "pause_before",
    "max_retries",
    "timeout",
];
/// The keys of a post-processor object the template layer handles.
pub const POST_PROCESSOR_COMMON_KEYS: &[&str] = &["only", "except", "keep_input_artifact", "name"];

#[derive(Debug, Clone)]
pub struct PostProcessorDef {
    pub kind: String,
    pub name: String,
    pub only: Vec<String>,
    pub except: Vec<String>,
    pub keep_input_artifact: Option<bool>,
    pub config: Object,
    pub pos: Pos,
}

/// Which of Packer's parse stages a problem belongs to; it decides how the list is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// mapstructure decoding of the root object (`1 error(s) decoding:`).
    RootDecode,
    /// A root `_comment` that is not a string (Packer prints it alone).
    Comment,
    /// Unknown root keys.
    RootKeys,
    /// Builders, provisioners, post-processors, variables.
    Structure,
}

/// One template problem with Packer's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub stage: Stage,
    pub message: String,
    pub pos: Option<Pos>,
}

/// Why a template could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Read(String),
    #[error("{0}")]
    Json(#[from] JsonError),
    #[error("{}", render_template_errors(.0))]
    Template(Vec<TemplateError>),
}

pub use crate::gocompat::fmt::multierror as go_multierror;

/// Packer's own `MultiError` format (`N error(s) occurred:\n\n* …`), used by plugin Prepare.
pub fn packer_multierror<S: AsRef<str>>(items: &[S]) -> String {
    let points: Vec<String> = items.iter().map(|e| format!("* {}", e.as_ref())).collect();
    format!(
        "{} error(s) occurred:\n\n{}",
        items.len(),
        points.join("\n")
    )
}

/// mapstructure's aggregate format (`N error(s) decoding:\n\n* …`, sorted).
pub fn mapstructure_errors<S: AsRef<str>>(items: &[S]) -> String {
    let mut points: Vec<String> = items.iter().map(|e| format!("* {}", e.as_ref())).collect();
    points.sort();
    format!(
        "{} error(s) decoding:\n\n{}",
        items.len(),
        points.join("\n")
    )
}

/// Prints template problems as Packer would when they are all of one stage, and as one list
/// otherwise.
pub fn render_template_errors(errs: &[TemplateError]) -> String {
    let first = errs.first().map(|e| e.stage);
    let single_stage = errs.iter().all(|e| Some(e.stage) == first);
    match first {
        Some(Stage::RootDecode) if single_stage => {
            mapstructure_errors(&errs.iter().map(|e| &e.message).collect::<Vec<_>>())
        }
        Some(Stage::Comment) if errs.len() == 1 => errs[0].message.clone(),
        _ => go_multierror(&errs.iter().map(|e| &e.message).collect::<Vec<_>>()),
    }
}

/// Reads and parses a template file (`-` = stdin).
pub fn parse_file(path: &str) -> Result<Template, ParseError> {
    let (src, tpl_path) = if path == "-" {
        let bytes = crate::limits::read_stdin("template", crate::limits::max_input())
            .map_err(|e| ParseError::Read(e.to_string()))?;
        (String::from_utf8_lossy(&bytes).into_owned(), None)
    } else {
        let bytes = crate::limits::read_file(
            Path::new(path),
            "template",
            crate::limits::max_input(),
            |e| format!("open {path}: {}", io_error_text(e)),
        )
        .map_err(|e| ParseError::Read(e.to_string()))?;
        let abs = std::path::absolute(Path::new(path)).unwrap_or_else(|_| PathBuf::from(path));
        (String::from_utf8_lossy(&bytes).into_owned(), Some(abs))
    };
    let mut tpl = parse_str(&src).map_err(|e| with_file(e, path, &src))?;
    tpl.path = tpl_path;
    Ok(tpl)
}

/// Puts the file name and position on every problem that has one: a duplicate key (Packer names
/// only the key), a syntax error (Packer gives line and column but no file) and each template
/// problem tied to a value (Packer gives neither).
fn with_file(e: ParseError, path: &str, src: &str) -> ParseError {
    let file = match path {
        "-" => "<stdin>",
        p => Path::new(p)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(p),
    };
    match e {
        ParseError::Json(JsonError::DuplicateField { key, pos }) => ParseError::Read(format!(
            "template has duplicate field: {key} ({file}:{}:{})",
            pos.line, pos.col
        )),
        ParseError::Json(JsonError::Syntax {
            message,
            offset,
            line,
            col,
            excerpt,
        }) => {
            let at = json::syntax_error_pos(src, offset);
            ParseError::Json(JsonError::Syntax {
                message: format!("{message} ({file}:{}:{})", at.line, at.col),
                offset,
                line,
                col,
                excerpt,
            })
        }
        ParseError::Template(errs) => ParseError::Template(
            errs.into_iter()
                .map(|e| match e.pos {
                    Some(p) => TemplateError {
                        message: format!("{} ({file}:{}:{})", e.message, p.line, p.col),
                        ..e
                    },
                    None => e,
                })
                .collect(),
        ),
        e => e,
    }
}

/// Go's text for common I/O errors (`no such file or directory`).
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

const ROOT_KEYS: &[&str] = &[
    "min_packer_version",
    "description",
    "builders",
    "push",
    "post-processors",
    "provisioners",
    "error-cleanup-provisioner",
    "variables",
    "sensitive-variables",
];

/// Parses template text.
pub fn parse_str(src: &str) -> Result<Template, ParseError> {
    let root = json::parse(src)?;
    let template = parse_node(&root);
    super::release(root);
    template
}

/// Builds the template model from an already parsed document (the HCL2 front end produces one
/// in the JSON template's shape, so both share every check).
pub(crate) fn parse_node(root: &Node) -> Result<Template, ParseError> {
    let mut p = Parsing {
        errs: Vec::new(),
        builder_names: Default::default(),
    };
    let tpl = p.template(root);
    if p.errs.is_empty() {
        Ok(tpl)
    } else {
        Err(ParseError::Template(p.errs))
    }
}

struct Parsing {
    errs: Vec<TemplateError>,
    /// Names of the builders so far (a set: 20,000 builders must not cost 200 million compares).
    builder_names: std::collections::HashSet<String>,
}

impl Parsing {
    fn err(&mut self, stage: Stage, pos: Option<Pos>, message: String) {
        self.errs.push(TemplateError {
            stage,
            message,
            pos,
        });
    }

    fn template(&mut self, root: &Node) -> Template {
        let mut tpl = Template::default();
        let Some(obj) = root.as_object() else {
            // Decoding a non-object into Packer's root struct.
            self.err(
                Stage::RootDecode,
                Some(root.pos),
                format!("'' expected a map, got '{}'", go_kind(&root.value)),
            );
            return tpl;
        };
        // Packer stops after each of these stages; rpack goes on so every problem is reported
        // (later stages only look at root keys whose type was right).
        self.root_fields(obj, &mut tpl);
        self.root_keys(obj, &mut tpl);
        self.structure(obj, &mut tpl);
        tpl
    }

    /// The mapstructure stage: each root key must have the right JSON type.
    fn root_fields(&mut self, obj: &Object, tpl: &mut Template) {
        for (key, _, node) in &obj.entries {
            let field = match key.as_str() {
                "min_packer_version"
                | "post-processors"
                | "error-cleanup-provisioner"
                | "sensitive-variables" => key.clone(),
                "description" => "Description".into(),
                "builders" => "Builders".into(),
                "provisioners" => "Provisioners".into(),
                "variables" => "Variables".into(),
                "push" => "Push".into(),
                _ => continue,
            };
            let ok = match (key.as_str(), &node.value) {
                (_, Value::Null) => true,
                ("min_packer_version" | "description", Value::String(s)) => {
                    if key == "description" {
                        tpl.description = Some(s.clone());
                    } else {
                        tpl.min_version = Some(s.clone());
                    }
                    true
                }
                ("min_packer_version" | "description", other) => {
                    let msg = weak::unconvertible(&field, "string", other);
                    self.err(Stage::RootDecode, Some(node.pos), msg);
                    continue;
                }
                ("builders" | "post-processors" | "provisioners", Value::Array(_)) => true,
                ("sensitive-variables", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match &item.value {
                            Value::String(s) => tpl.sensitive_variables.push(s.clone()),
                            other => {
                                let msg =
                                    weak::unconvertible(&format!("{field}[{i}]"), "string", other);
                                self.err(Stage::RootDecode, Some(item.pos), msg);
                            }
                        }
                    }
                    true
                }
                (
                    "builders" | "post-processors" | "provisioners" | "sensitive-variables",
                    other,
                ) => {
                    let msg = format!(
                        "'{field}': source data must be an array or slice, got {}",
                        go_kind(other)
                    );
                    self.err(Stage::RootDecode, Some(node.pos), msg);
                    continue;
                }
                ("variables" | "push", Value::Object(_)) => true,
                // mapstructure accepts an empty array for a map.
                ("variables" | "push", Value::Array(a)) if a.is_empty() => true,
                ("variables" | "push", other) => {
                    let msg = format!("'{field}' expected a map, got '{}'", go_kind(other));
                    self.err(Stage::RootDecode, Some(node.pos), msg);
                    continue;
                }
                _ => true,
            };
            let _ = ok;
        }
    }

    /// Comments and unknown root keys (sorted, like Packer).
    fn root_keys(&mut self, obj: &Object, tpl: &mut Template) {
        let mut unknown: Vec<(&str, Pos)> = obj
            .entries
            .iter()
            .filter(|(k, _, _)| !ROOT_KEYS.contains(&k.as_str()))
            .map(|(k, p, _)| (k.as_str(), *p))
            .collect();
        unknown.sort_by(|a, b| a.0.cmp(b.0));
        for (key, pos) in unknown {
            if key.starts_with('_') {
                match obj.get(key).map(|n| &n.value) {
                    Some(Value::String(s)) => tpl.comments.push((key.to_string(), s.clone())),
                    _ => self.err(Stage::Comment, Some(pos), format!("Failed to cast root level comment value in comment \"{key}\" to string.")),
                }
                continue;
            }
            self.err(
                Stage::RootKeys,
                Some(pos),
                format!("Unknown root level key in template: '{key}'"),
            );
        }
    }

    fn structure(&mut self, obj: &Object, tpl: &mut Template) {
        if let Some(Value::Object(vars)) = obj.get("variables").map(|n| &n.value) {
            for (name, _, node) in &vars.entries {
                let default = match &node.value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => {
                        let msg = format!(
                            "variable {name}: {}",
                            weak::unconvertible("", "string", other)
                        );
                        self.err(Stage::Structure, Some(node.pos), msg);
                        continue;
                    }
                };
                tpl.variables.push(Variable {
                    name: name.clone(),
                    default,
                    pos: node.pos,
                });
            }
        }
        if let Some(Value::Array(builders)) = obj.get("builders").map(|n| &n.value) {
            for (i, node) in builders.iter().enumerate() {
                self.builder(i + 1, node, tpl);
            }
        }
        if let Some(Value::Array(chains)) = obj.get("post-processors").map(|n| &n.value) {
            for (i, node) in chains.iter().enumerate() {
                if let Some(chain) = super::post_processor_def::chain(i + 1, node, &mut self.errs) {
                    tpl.post_processors.push(chain);
                }
            }
        }
        if let Some(Value::Array(provs)) = obj.get("provisioners").map(|n| &n.value) {
            for (i, node) in provs.iter().enumerate() {
                match provisioner(node) {
                    Ok(p) => tpl.provisioners.push(p),
                    Err((msg, at)) => self.err(
                        Stage::Structure,
                        Some(at),
                        format!("provisioner {}: {msg}", i + 1),
                    ),
                }
            }
        }
        if let Some(node) = obj
            .get("error-cleanup-provisioner")
            .filter(|n| n.value != Value::Null)
        {
            match provisioner(node) {
                Ok(p) => tpl.error_cleanup_provisioner = Some(p),
                Err((msg, at)) => self.err(
                    Stage::Structure,
                    Some(at),
                    format!("On Error Cleanup Provisioner error: {msg}"),
                ),
            }
        }
    }

    fn builder(&mut self, n: usize, node: &Node, tpl: &mut Template) {
        let Some(obj) = node.as_object() else {
            self.err(
                Stage::Structure,
                Some(node.pos),
                format!(
                    "builder {n}: '' expected a map, got '{}'",
                    go_kind(&node.value)
                ),
            );
            return;
        };
        let mut field_errs = Vec::new();
        let kind = weak_string(obj, "type", "Type", &mut field_errs).unwrap_or_default();
        let name = weak_string(obj, "name", "Name", &mut field_errs).unwrap_or_default();
        if !field_errs.is_empty() {
            self.err(
                Stage::Structure,
                Some(node.pos),
                format!("builder {n}: {}", mapstructure_errors(&field_errs)),
            );
            return;
        }
        if kind.is_empty() {
            self.err(
                Stage::Structure,
                Some(node.pos),
                format!("builder {n}: missing 'type'"),
            );
            return;
        }
        let name = if name.is_empty() { kind.clone() } else { name };
        if !self.builder_names.insert(name.clone()) {
            self.err(
                Stage::Structure,
                Some(node.pos),
                format!("builder {n}: builder with name '{name}' already exists"),
            );
            return;
        }
        tpl.builders.push(BuilderDef {
            name,
            kind,
            config: obj.clone(),
            pos: node.pos,
        });
    }
}

impl Template {
    pub fn builder(&self, name: &str) -> Option<&BuilderDef> {
        self.builders.iter().find(|b| b.name == name)
    }

    /// Packer's `Template.Validate`: builders exist, only/except/override name real builders.
    pub fn validate(&self) -> Vec<TemplateError> {
        let mut errs = Vec::new();
        if self.builders.is_empty() {
            errs.push(TemplateError {
                stage: Stage::Structure,
                message: "at least one builder must be defined".into(),
                pos: None,
            });
        }
        let mut push = |pos: Pos, message: String| {
            errs.push(TemplateError {
                stage: Stage::Structure,
                message,
                pos: Some(pos),
            });
        };
        for (i, p) in self.provisioners.iter().enumerate() {
            for e in self.only_except_errors(&p.only, &p.except) {
                push(p.pos, format!("provisioner {}: {e}", i + 1));
            }
            for (name, _) in &p.overrides {
                if self.builder(name).is_none() {
                    push(
                        p.pos,
                        format!("provisioner {}: override '{name}' doesn't exist", i + 1),
                    );
                }
            }
        }
        for (i, chain) in self.post_processors.iter().enumerate() {
            for (j, pp) in chain.iter().enumerate() {
                for e in self.only_except_errors(&pp.only, &pp.except) {
                    push(pp.pos, format!("post-processor {}.{}: {e}", i + 1, j + 1));
                }
            }
        }
        errs
    }

    fn only_except_errors(&self, only: &[String], except: &[String]) -> Vec<String> {
        if !only.is_empty() && !except.is_empty() {
            return vec!["only one of 'only' or 'except' may be specified".into()];
        }
        let mut out = Vec::new();
        for n in only.iter().filter(|n| self.builder(n).is_none()) {
            out.push(format!("'only' specified builder '{n}' not found"));
        }
        for n in except.iter().filter(|n| self.builder(n).is_none()) {
            out.push(format!("'except' specified builder '{n}' not found"));
        }
        out
    }

    /// The names of the template's files, for positions in messages.
    pub fn file_names(&self) -> FileNames {
        FileNames {
            default: self.display_path(),
            names: self.files.clone(),
        }
    }

    /// A display name for positions in messages: the template file name, or `<stdin>`.
    pub fn display_path(&self) -> String {
        match &self.path {
            Some(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            ),
            None => "<stdin>".into(),
        }
    }
}

/// Whether `only`/`except` lets build `name` through (Packer's `OnlyExcept.Skip`, negated).
pub fn applies_to(only: &[String], except: &[String], name: &str) -> bool {
    if !only.is_empty() {
        return only.iter().any(|o| o == name);
    }
    !except.iter().any(|e| e == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> String {
        parse_str(src).unwrap_err().to_string()
    }

    #[test]
    fn root_level_problems() {
        assert_eq!(errors(r#"{"foo":1,"bar":2}"#), "2 errors occurred:\n\t* Unknown root level key in template: 'bar'\n\t* Unknown root level key in template: 'foo'\n\n");
        assert_eq!(
            errors(r#"{"_c":1}"#),
            "Failed to cast root level comment value in comment \"_c\" to string."
        );
        assert_eq!(errors(r#"{"provisioners":"x"}"#), "1 error(s) decoding:\n\n* 'Provisioners': source data must be an array or slice, got string");
        // Problems of different stages come out as one list.
        assert_eq!(
            errors(r#"{"provisioners":"x","_c":1,"builders":[{}]}"#),
            "3 errors occurred:\n\t* 'Provisioners': source data must be an array or slice, got string\n\
             \t* Failed to cast root level comment value in comment \"_c\" to string.\n\t* builder 1: missing 'type'\n\n"
        );
        let t = parse_str(r#"{"_comment":"hi","push":{"name":"x"},"description":"d"}"#).unwrap();
        assert_eq!(t.comments, vec![("_comment".to_string(), "hi".to_string())]);
        assert_eq!(t.description.as_deref(), Some("d"));
    }

    #[test]
    fn builders_provisioners_and_chains() {
        let t = parse_str(
            r#"{"builders":[{"type":"null"},{"type":"null","name":"two"}],
                "provisioners":[{"type":"shell","only":["two"],"override":{"two":{"inline":["x"]}},"pause_before":"1s","max_retries":5,"timeout":"5m"}],
                "post-processors":["manifest",{"type":"checksum","name":"sum"},[{"type":"manifest"},"shell-local"]]}"#,
        )
        .unwrap();
        assert_eq!(
            t.builders
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>(),
            ["null", "two"]
        );
        let p = &t.provisioners[0];
        assert_eq!(p.only, ["two"]);
        assert_eq!(p.overrides[0].0, "two");
        assert_eq!(p.pause_before, Some(Duration::from_secs(1)));
        assert_eq!(p.max_retries.as_deref(), Some("5"));
        assert_eq!(p.timeout, Some(Duration::from_secs(300)));
        assert_eq!(t.post_processors.len(), 3);
        assert_eq!(t.post_processors[1][0].name, "sum");
        assert_eq!(t.post_processors[2][1].kind, "shell-local");
        assert!(t.validate().is_empty());
    }

    #[test]
    fn structure_errors_are_all_reported() {
        let msg = errors(
            r#"{"variables":{"n":5},"builders":[{"name":"x"},{"type":"a"},{"type":"a"}],
                "provisioners":[{"only":["a"]}],"post-processors":[[["x"]],5,[{"name":"n"}]],
                "error-cleanup-provisioner":{}}"#,
        );
        assert_eq!(
            msg,
            "8 errors occurred:\n\
             \t* variable n: '' expected type 'string', got unconvertible type 'float64', value: '5'\n\
             \t* builder 1: missing 'type'\n\
             \t* builder 3: builder with name 'a' already exists\n\
             \t* post-processor 1.1: sequence not allowed to be nested in a sequence\n\
             \t* post-processor 2: bad format\n\
             \t* post-processor 3.1: type is required\n\
             \t* provisioner 1: Provisioner missing 'type'\n\
             \t* On Error Cleanup Provisioner error: Provisioner missing 'type'\n\n"
        );
    }

    #[test]
    fn validate_checks_names() {
        let t = parse_str(
            r#"{"provisioners":[{"type":"s","only":["a"],"except":["b"]},{"type":"s","except":["nope"],"override":{"x":{}}}],
                "post-processors":[{"type":"m","only":["q"]}]}"#,
        )
        .unwrap();
        let msgs: Vec<String> = t.validate().into_iter().map(|e| e.message).collect();
        assert_eq!(
            msgs,
            [
                "at least one builder must be defined",
                "provisioner 1: only one of 'only' or 'except' may be specified",
                "provisioner 2: 'except' specified builder 'nope' not found",
                "provisioner 2: override 'x' doesn't exist",
                "post-processor 1.1: 'only' specified builder 'q' not found",
            ]
        );
    }
}
