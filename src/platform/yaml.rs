//! All YAML of `rpack platform`: reading and validating `platform.yaml` (every problem named by
//! key and line), the healthd option settings added to the bundled copy, and the workspace file
//! `.elasticbeanstalk/config.yml` that `ebp` also reads and writes.

use std::fmt;

use crate::template::yaml::{Mapping, Value};

/// Flavors EB's builder documented, plus the OS families of rpack's own platform definitions.
pub(crate) const FLAVORS: &[&str] = &[
    "amazon",
    "ubuntu1604",
    "rhel7",
    "rhel6",
    "al2023",
    "ubuntu2204",
    "ubuntu2404",
    "rhel9",
];

/// The namespace every option_definitions entry must live under (DG platform-yaml-format).
pub(crate) const CUSTOM_NAMESPACE: &str = "aws:elasticbeanstalk:container:custom";

/// metadata keys and their maximum lengths (DG; app_server_* appear in every AWS sample).
const METADATA_LIMITS: &[(&str, usize)] = &[
    ("maintainer", 100),
    ("description", 2000),
    ("operating_system_name", 50),
    ("operating_system_version", 20),
    ("programming_language_name", 50),
    ("programming_language_version", 20),
    ("framework_name", 50),
    ("framework_version", 20),
    ("app_server_name", 50),
    ("app_server_version", 20),
];

/// At most this many option_definitions and option_settings (DG).
const MAX_OPTIONS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionDefinition {
    pub namespace: String,
    pub option_name: String,
    pub description: Option<String>,
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionSetting {
    pub namespace: String,
    pub option_name: String,
    pub value: String,
}

/// A checked platform.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    pub template: String,
    pub flavor: String,
    /// metadata in file order.
    pub metadata: Vec<(String, String)>,
    pub option_definitions: Vec<OptionDefinition>,
    pub option_settings: Vec<OptionSetting>,
}

/// One problem in platform.yaml: the key path (`option_definitions[2].namespace`) and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "platform.yaml:{l}: {}: {}", self.key, self.message),
            None => write!(f, "platform.yaml: {}: {}", self.key, self.message),
        }
    }
}

/// Every problem of a platform.yaml, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub(crate) struct Problems(pub Vec<Problem>);

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, path: &[Seg], message: impl Into<String>) {
        let key = path.iter().fold(String::new(), |mut acc, s| {
            match s {
                Seg::Key(k) if acc.is_empty() => acc.push_str(k),
                Seg::Key(k) => {
                    acc.push('.');
                    acc.push_str(k);
                }
                Seg::Index(i) => acc.push_str(&format!("[{i}]")),
            }
            acc
        });
        let line = locate(self.text, path);
        self.problems.push(Problem {
            key,
            line,
            message: message.into(),
        });
    }

    /// A scalar as text (YAML numbers and booleans are accepted as their text, like EB does).
    fn scalar(&mut self, path: &[Seg], v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some(String::new()),
            _ => {
                self.problem(path, "must be a string");
                None
            }
        }
    }

    fn limited(&mut self, path: &[Seg], v: &Value, max: usize) -> Option<String> {
        let s = self.scalar(path, v)?;
        if s.chars().count() > max {
            self.problem(
                path,
                format!(
                    "is {} characters long; at most {max} are allowed",
                    s.chars().count()
                ),
            );
        }
        Some(s)
    }

    fn required(
        &mut self,
        path: &[Seg],
        map: &Mapping,
        key: &'static str,
        max: usize,
    ) -> Option<String> {
        let mut p = path.to_vec();
        p.push(Seg::Key(key));
        match map.get(key) {
            None | Some(Value::Null) => {
                self.problem(&p, "is required");
                None
            }
            Some(v) => {
                let s = self.limited(&p, v, max)?;
                if s.trim().is_empty() {
                    self.problem(&p, "must not be empty");
                }
                Some(s)
            }
        }
    }

    fn unknown_keys(&mut self, path: &[Seg], map: &Mapping, known: &[&str]) {
        for k in map.keys() {
            let name = k.as_str().unwrap_or("?");
            if !known.contains(&name) {
                let mut p = path.to_vec();
                p.push(Seg::Key(name));
                self.problem(&p, format!("unknown key (known: {})", known.join(", ")));
            }
        }
    }

    fn list<'v>(&mut self, key: &'static str, v: Option<&'v Value>) -> Vec<(usize, &'v Mapping)> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Vec::new();
        };
        let Some(items) = v.as_sequence() else {
            self.problem(&[Seg::Key(key)], "must be a list");
            return Vec::new();
        };
        if items.len() > MAX_OPTIONS {
            self.problem(
                &[Seg::Key(key)],
                format!(
                    "has {} entries; at most {MAX_OPTIONS} are allowed",
                    items.len()
                ),
            );
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_mapping() {
                Some(m) => out.push((i, m)),
                None => self.problem(
                    &[Seg::Key(key), Seg::Index(i)],
                    "must be a mapping with namespace and option_name",
                ),
            }
        }
        out
    }
}

/// Parses and checks platform.yaml, collecting every problem.
pub(crate) fn parse_definition(text: &str) -> Result<Definition, Problems> {
    if let Some((line, col)) = crate::template::yaml::too_deep(text) {
        return Err(Problems(vec![Problem {
            key: "(document)".into(),
            line: Some(line),
            message: format!(
                "not valid YAML: nested deeper than {} levels at line {line} column {col}",
                crate::template::yaml::MAX_DEPTH
            ),
        }]));
    }
    let doc: Value = match crate::template::yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            return Err(Problems(vec![Problem {
                key: "(document)".into(),
                line,
                message: format!("not valid YAML: {e}"),
            }]));
        }
    };
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let Some(root) = doc.as_mapping() else {
        return Err(Problems(vec![Problem {
            key: "(document)".into(),
            line: Some(1),
            message: "must be a mapping with version and provisioner".into(),
        }]));
    };
    c.unknown_keys(
        &[],
        root,
        &[
            "version",
            "provisioner",
            "metadata",
            "option_definitions",
            "option_settings",
        ],
    );

    match root.get("version") {
        None => c.problem(&[Seg::Key("version")], "is required and must be \"1.0\""),
        Some(Value::String(s)) if s == "1.0" => {}
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => {}
        Some(v) => {
            let shown = crate::template::yaml::to_string(v).unwrap_or_default();
            c.problem(
                &[Seg::Key("version")],
                format!("must be \"1.0\", not {}", shown.trim()),
            );
        }
    }

    let mut template = String::new();
    let mut flavor = "amazon".to_string();
    match root.get("provisioner").and_then(Value::as_mapping) {
        None => c.problem(
            &[Seg::Key("provisioner")],
            "is required: a mapping with type: packer and template",
        ),
        Some(p) => {
            let path = [Seg::Key("provisioner")];
            c.unknown_keys(&path, p, &["type", "template", "flavor"]);
            if let Some(t) = c.required(&path, p, "type", 100) {
                if t != "packer" {
                    c.problem(
                        &[Seg::Key("provisioner"), Seg::Key("type")],
                        format!("must be packer, not {t:?}"),
                    );
                }
            }
            template = c.required(&path, p, "template", 1024).unwrap_or_default();
            if let Some(why) = super::secret_files::template_outside(&template) {
                c.problem(&[Seg::Key("provisioner"), Seg::Key("template")], why);
            }
            if let Some(v) = p.get("flavor") {
                if let Some(f) = c.scalar(&[Seg::Key("provisioner"), Seg::Key("flavor")], v) {
                    if !FLAVORS.contains(&f.as_str()) {
                        c.problem(
                            &[Seg::Key("provisioner"), Seg::Key("flavor")],
                            format!("{f:?} is not a supported flavor ({})", FLAVORS.join(", ")),
                        );
                    }
                    flavor = f;
                }
            }
        }
    }

    let mut metadata = Vec::new();
    match root.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(m)) => {
            let known: Vec<&str> = METADATA_LIMITS.iter().map(|(k, _)| *k).collect();
            c.unknown_keys(&[Seg::Key("metadata")], m, &known);
            for (k, v) in m {
                let Some(name) = k.as_str() else { continue };
                if let Some((_, max)) = METADATA_LIMITS.iter().find(|(n, _)| *n == name) {
                    if let Some(s) = c.limited(&[Seg::Key("metadata"), Seg::Key(name)], v, *max) {
                        metadata.push((name.to_string(), s));
                    }
                }
            }
        }
        Some(_) => c.problem(&[Seg::Key("metadata")], "must be a mapping"),
    }

    let mut option_definitions = Vec::new();
    for (i, m) in c.list("option_definitions", root.get("option_definitions")) {
        let path = [Seg::Key("option_definitions"), Seg::Index(i)];
        c.unknown_keys(
            &path,
            m,
            &["namespace", "option_name", "description", "default_value"],
        );
        let ns = c.required(&path, m, "namespace", 100);
        if let Some(ns) = &ns {
            if ns != CUSTOM_NAMESPACE && !ns.starts_with(&format!("{CUSTOM_NAMESPACE}:")) {
                c.problem(
                    &[path[0], path[1], Seg::Key("namespace")],
                    format!("{ns:?} is not under {CUSTOM_NAMESPACE}"),
                );
            }
        }
        let name = c.required(&path, m, "option_name", 100);
        let description = m
            .get("description")
            .and_then(|v| c.limited(&[path[0], path[1], Seg::Key("description")], v, 1024));
        let default_value = m
            .get("default_value")
            .and_then(|v| c.limited(&[path[0], path[1], Seg::Key("default_value")], v, 4096));
        if let (Some(namespace), Some(option_name)) = (ns, name) {
            if option_definitions.iter().any(|d: &OptionDefinition| {
                d.namespace == namespace && d.option_name == option_name
            }) {
                c.problem(
                    &[path[0], path[1], Seg::Key("option_name")],
                    format!("{namespace} {option_name} is defined twice"),
                );
            }
            option_definitions.push(OptionDefinition {
                namespace,
                option_name,
                description,
                default_value,
            });
        }
    }

    let mut option_settings = Vec::new();
    for (i, m) in c.list("option_settings", root.get("option_settings")) {
        let path = [Seg::Key("option_settings"), Seg::Index(i)];
        c.unknown_keys(&path, m, &["namespace", "option_name", "value"]);
        let ns = c.required(&path, m, "namespace", 100);
        let name = c.required(&path, m, "option_name", 100);
        let value = match m.get("value") {
            None => {
                c.problem(&[path[0], path[1], Seg::Key("value")], "is required");
                None
            }
            Some(v) => c.limited(&[path[0], path[1], Seg::Key("value")], v, 4096),
        };
        if let (Some(namespace), Some(option_name), Some(value)) = (ns, name, value) {
            option_settings.push(OptionSetting {
                namespace,
                option_name,
                value,
            });
        }
    }

    if c.problems.is_empty() {
        Ok(Definition {
            template,
            flavor,
            metadata,
            option_definitions,
            option_settings,
        })
    } else {
        Err(Problems(c.problems))
    }
}

/// The 1-based line of a key path in block-style YAML (flow style falls back to the parent).
fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_key = |l: &str, k: &str| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        let t = t.trim_start_matches(['"', '\'']);
        t.strip_prefix(k).is_some_and(|r| {
            r.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        })
    };
    // The block being searched: [start, end) lines, and the indentation of its parent.
    let (mut start, mut end, mut parent_indent): (usize, usize, Option<usize>) =
        (0, lines.len(), None);
    let mut found = None;
    for seg in path {
        let in_block = |i: usize| {
            let l = lines[i];
            !l.trim().is_empty()
                && !l.trim_start().starts_with('#')
                && parent_indent.is_none_or(|p| {
                    indent(l) > p || (indent(l) == p && l.trim_start().starts_with("- "))
                })
        };
        match seg {
            Seg::Key(k) => {
                let hit = (start..end)
                    .filter(|&i| in_block(i))
                    .find(|&i| is_key(lines[i], k));
                let Some(i) = hit else { return found };
                let key_indent = indent(lines[i])
                    + if lines[i].trim_start().starts_with("- ") {
                        2
                    } else {
                        0
                    };
                found = Some(i + 1);
                start = i + 1;
                // The key's block ends at the next content line indented less, or as much but
                // not as a list item belonging to the key.
                let ends_block = |l: &str| {
                    let content = !l.trim().is_empty() && !l.trim_start().starts_with('#');
                    content
                        && (indent(l) < key_indent
                            || (indent(l) == key_indent && !l.trim_start().starts_with("- ")))
                };
                end = (start..end).find(|&j| ends_block(lines[j])).unwrap_or(end);
                parent_indent = Some(key_indent);
            }
            Seg::Index(n) => {
                let items: Vec<usize> = (start..end)
                    .filter(|&i| in_block(i) && lines[i].trim_start().starts_with("- "))
                    .collect();
                let first_indent = items.first().map(|&i| indent(lines[i]))?;
                let items: Vec<usize> = items
                    .into_iter()
                    .filter(|&i| indent(lines[i]) == first_indent)
                    .collect();
                let Some(&i) = items.get(*n) else {
                    return found;
                };
                found = Some(i + 1);
                let next = items.get(n + 1).copied().unwrap_or(end);
                start = i;
                end = next;
                parent_indent = Some(first_indent);
            }
        }
    }
    found
}

/// The option settings `ebp` adds to platform.yaml so environments default to enhanced health
/// with the service role.
pub(crate) const HEALTHD_SETTINGS: [(&str, &str, &str); 2] = [
    (
        "aws:elasticbeanstalk:healthreporting:system",
        "SystemType",
        "enhanced",
    ),
    (
        "aws:elasticbeanstalk:environment",
        "ServiceRole",
        "aws-elasticbeanstalk-service-role",
    ),
];

/// platform.yaml as bundled: `ebp`'s healthd settings appended as text, each only when the
/// user has not set that option (ebp re-dumps the file, dropping comments, and appends them
/// even when they are already there). `None` when nothing needs adding.
pub(crate) fn with_healthd_settings(text: &str, def: &Definition) -> Option<String> {
    let missing: Vec<_> = HEALTHD_SETTINGS
        .iter()
        .filter(|(ns, name, _)| {
            !def.option_settings
                .iter()
                .any(|s| s.namespace == *ns && s.option_name == *name)
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let items = |indent: &str| {
        missing
            .iter()
            .map(|(ns, name, value)| format!("{indent}- namespace: \"{ns}\"\n{indent}  option_name: \"{name}\"\n{indent}  value: \"{value}\"\n"))
            .collect::<String>()
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    match lines.iter().position(|l| l.starts_with("option_settings:")) {
        Some(i) if def.option_settings.is_empty() && lines[i].trim_end() != "option_settings:" => {
            return None
        }
        Some(i) => {
            // The block ends at the next line that starts at column 0 (a key or a comment).
            let end = (i + 1..lines.len())
                .find(|&j| !lines[j].is_empty() && !lines[j].starts_with([' ', '\t', '-']))
                .unwrap_or(lines.len());
            let last = (i + 1..end)
                .rev()
                .find(|&j| !lines[j].trim().is_empty())
                .unwrap_or(i);
            let indent = (i + 1..end)
                .find(|&j| lines[j].trim_start().starts_with("- "))
                .map_or_else(
                    || "  ".into(),
                    |j| lines[j][..lines[j].len() - lines[j].trim_start().len()].to_string(),
                );
            for (j, l) in lines.iter().enumerate() {
                out.push_str(l);
                out.push('\n');
                if j == last {
                    out.push_str(&items(&indent));
                }
            }
        }
        None => {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("option_settings:\n");
            out.push_str(&items("  "));
        }
    }
    Some(out)
}

/// `.elasticbeanstalk/config.yml`, keeping every key rpack does not know (ebp's layout:
/// `global.*`, `branch-defaults.<branch>.environment`).
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkspaceConfig {
    doc: Mapping,
}

impl WorkspaceConfig {
    pub(crate) fn parse(text: &str) -> Result<WorkspaceConfig, String> {
        if let Some((line, col)) = crate::template::yaml::too_deep(text) {
            return Err(format!(
                "nested deeper than {} levels at line {line} column {col}",
                crate::template::yaml::MAX_DEPTH
            ));
        }
        match crate::template::yaml::from_str::<Value>(text) {
            Ok(Value::Mapping(doc)) => Ok(WorkspaceConfig { doc }),
            Ok(Value::Null) => Ok(WorkspaceConfig::default()),
            Ok(_) => Err("not a mapping".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(crate) fn to_yaml(&self) -> String {
        crate::template::yaml::to_string(&self.doc).unwrap_or_default()
    }

    /// `global.<key>` as text; YAML null and absent are both `None`.
    pub(crate) fn global(&self, key: &str) -> Option<String> {
        match self.doc.get("global")?.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn set_global(&mut self, key: &str, value: Option<&str>) {
        let global = self
            .doc
            .entry("global".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !global.is_mapping() {
            *global = Value::Mapping(Mapping::new());
        }
        let v = value.map_or(Value::Null, |s| Value::String(s.into()));
        global
            .as_mapping_mut()
            .expect("mapping")
            .insert(key.into(), v);
    }

    pub(crate) fn set_branch_environment(&mut self, branch: &str, env: &str) {
        let bd = self
            .doc
            .entry("branch-defaults".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !bd.is_mapping() {
            *bd = Value::Mapping(Mapping::new());
        }
        let mut m = Mapping::new();
        m.insert("environment".into(), env.into());
        bd.as_mapping_mut()
            .expect("mapping")
            .insert(branch.into(), Value::Mapping(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: \"1.0\"\nprovisioner:\n  type: packer\n  template: t.json\n  flavor: ubuntu2404\nmetadata:\n  maintainer: me\noption_definitions:\n  - namespace: \"aws:elasticbeanstalk:container:custom:app\"\n    option_name: A\n    default_value: \"1\"\noption_settings:\n  - namespace: aws:elasticbeanstalk:application:environment\n    option_name: X\n    value: y\n";

    fn problems(text: &str) -> Vec<String> {
        parse_definition(text)
            .unwrap_err()
            .0
            .iter()
            .map(std::string::ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_definition_parses() {
        let d = parse_definition(GOOD).unwrap();
        assert_eq!(d.template, "t.json");
        assert_eq!(d.flavor, "ubuntu2404");
        assert_eq!(d.metadata, vec![("maintainer".into(), "me".into())]);
        assert_eq!(d.option_definitions[0].default_value.as_deref(), Some("1"));
        assert_eq!(d.option_settings[0].value, "y");
    }

    #[test]
    fn the_repository_definitions_are_valid() {
        for dir in [
            "nodejs-al2023",
            "nodejs-ubuntu2204",
            "nodejs-ubuntu2404",
            "nodejs-rhel9",
        ] {
            let path = format!(
                "{}/templates/{dir}/platform.yaml",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap();
            parse_definition(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    #[test]
    fn problems_name_key_and_line() {
        let text = GOOD
            .replace("type: packer", "type: chef")
            .replace("custom:app", "other")
            .replace("flavor: ubuntu2404", "flavor: windows");
        assert_eq!(
            problems(&text),
            vec![
                "platform.yaml:3: provisioner.type: must be packer, not \"chef\"",
                "platform.yaml:5: provisioner.flavor: \"windows\" is not a supported flavor (amazon, ubuntu1604, rhel7, rhel6, al2023, ubuntu2204, ubuntu2404, rhel9)",
                "platform.yaml:9: option_definitions[0].namespace: \"aws:elasticbeanstalk:container:other\" is not under aws:elasticbeanstalk:container:custom",
            ]
        );
    }

    #[test]
    fn missing_and_unknown_keys() {
        let p =
            problems("version: \"2.0\"\noptions_definitions: []\nprovisioner:\n  type: packer\n");
        assert_eq!(
            p,
            vec![
                "platform.yaml:2: options_definitions: unknown key (known: version, provisioner, metadata, option_definitions, option_settings)",
                "platform.yaml:1: version: must be \"1.0\", not '2.0'",
                "platform.yaml:3: provisioner.template: is required",
            ]
        );
    }

    #[test]
    fn limits_are_enforced() {
        let long = "x".repeat(101);
        let text = GOOD.replace("maintainer: me", &format!("maintainer: {long}"));
        assert_eq!(problems(&text), vec!["platform.yaml:7: metadata.maintainer: is 101 characters long; at most 100 are allowed"]);
        let mut many = String::from("version: \"1.0\"\nprovisioner:\n  type: packer\n  template: t.json\noption_definitions:\n");
        for i in 0..51 {
            many.push_str(&format!(
                "  - namespace: aws:elasticbeanstalk:container:custom\n    option_name: O{i}\n"
            ));
        }
        assert_eq!(
            problems(&many),
            vec!["platform.yaml:5: option_definitions: has 51 entries; at most 50 are allowed"]
        );
        let text = GOOD.replace("    option_name: X\n", "");
        assert_eq!(
            problems(&text),
            vec!["platform.yaml:13: option_settings[0].option_name: is required"]
        );
    }

    #[test]
    fn yaml_syntax_errors_have_a_line() {
        let p = problems("version: \"1.0\"\nprovisioner: [\n");
        assert!(p[0].starts_with("platform.yaml:"), "{p:?}");
    }

    #[test]
    fn healthd_settings_are_appended_only_when_missing() {
        let d = parse_definition(GOOD).unwrap();
        let out = with_healthd_settings(GOOD, &d).unwrap();
        let again = parse_definition(&out).unwrap();
        assert_eq!(again.option_settings.len(), 3);
        assert_eq!(again.option_settings[1].option_name, "SystemType");
        assert!(with_healthd_settings(&out, &again).is_none());
        let bare =
            "# keep me\nversion: \"1.0\"\nprovisioner:\n  type: packer\n  template: t.json\n";
        let out = with_healthd_settings(bare, &parse_definition(bare).unwrap()).unwrap();
        assert!(out.starts_with("# keep me\n"));
        assert_eq!(parse_definition(&out).unwrap().option_settings.len(), 2);
    }

    #[test]
    fn workspace_config_round_trips_and_keeps_unknown_keys() {
        let mut c = WorkspaceConfig::parse("global:\n  platform_name: p\n  sc: null\n  other: 1\n")
            .unwrap();
        assert_eq!(c.global("platform_name").as_deref(), Some("p"));
        assert_eq!(c.global("sc"), None);
        c.set_global("platform_version", Some("1.0.1"));
        c.set_branch_environment("main", "eb-custom-platform-builder-packer");
        let again = WorkspaceConfig::parse(&c.to_yaml()).unwrap();
        assert_eq!(again.global("platform_version").as_deref(), Some("1.0.1"));
        assert_eq!(again.global("other").as_deref(), Some("1"));
        assert!(again.to_yaml().contains(
            "branch-defaults:\n  main:\n    environment: eb-custom-platform-builder-packer"
        ));
    }
}
