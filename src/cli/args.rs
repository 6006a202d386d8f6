//! Turning raw arguments into checked settings: Packer's single-dash spellings (`-var k=v`,
//! `-only=a,b`, `-color=false`) and GNU double-dash spellings are both accepted; argv is
//! normalised to the GNU form before clap sees it.

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::gocompat::strconv::parse_bool as parse_go_bool;

/// Flags that take a value as the next argument when not written `-flag=value`.
const VALUE_FLAGS: &[&str] = &[
    "var",
    "var-file",
    "only",
    "except",
    "on-error",
    "parallel-builds",
    "config-type",
    "output-file",
];

/// Packer strips `-machine-readable` from anywhere on the line. Returns the remaining
/// arguments and whether it was present.
pub fn strip_machine_readable(args: Vec<String>) -> (Vec<String>, bool) {
    let mut found = false;
    let rest = args
        .into_iter()
        .filter(|a| {
            let hit = matches!(a.as_str(), "-machine-readable" | "--machine-readable");
            found |= hit;
            !hit
        })
        .collect();
    (rest, found)
}

/// `-flag` → `--flag` for every flag-looking argument (not `-`, not after `--`, not the value
/// of a value-taking flag).
pub fn normalise(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut expect_value = false;
    let mut literal = false;
    for a in args {
        if literal || expect_value {
            expect_value = false;
            out.push(a.clone());
            continue;
        }
        if a == "--" {
            literal = true;
            out.push(a.clone());
            continue;
        }
        let long = if let Some(rest) = a.strip_prefix("--") {
            Some(rest.to_string())
        } else if a.starts_with('-') && a.len() > 2 {
            Some(a[1..].to_string())
        } else {
            None
        };
        match long {
            Some(body) => {
                let name = body.split('=').next().unwrap_or("");
                if !body.contains('=') && VALUE_FLAGS.contains(&name) {
                    expect_value = true;
                }
                out.push(format!("--{body}"));
            }
            None => out.push(a.clone()),
        }
    }
    out
}

fn bool_flag(name: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .value_parser(|s: &str| parse_go_bool(s).ok_or_else(|| "parse error".to_string()))
        .action(ArgAction::Set)
        // Go's flag package lets a flag repeat, the last one winning (`-color=false … -color`).
        .overrides_with(name)
}

fn list_flag(name: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::Append)
        .num_args(1)
        .allow_hyphen_values(true)
}

fn template_arg() -> Arg {
    Arg::new("template")
        .num_args(0..)
        .allow_hyphen_values(false)
        .action(ArgAction::Append)
}

fn base(name: &'static str) -> Command {
    Command::new(name)
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
}

/// `-strict`, rpack's own flag: called as `packer` it is not defined (Packer 1.6.6 answers
/// `flag provided but not defined: -strict`); `RPACK_STRICT=1` still applies.
fn with_strict(cmd: Command) -> Command {
    if crate::ui::voice::as_packer() {
        cmd
    } else {
        cmd.arg(bool_flag("strict"))
    }
}

pub fn validate_command() -> Command {
    let cmd = with_strict(base("validate"));
    // rpack's (and Packer ≥1.8's) `-evaluate-datasources`; Packer 1.6.6 has no data sources.
    let cmd = if crate::ui::voice::as_packer() {
        cmd
    } else {
        cmd.arg(bool_flag("evaluate-datasources"))
    };
    cmd.arg(bool_flag("syntax-only"))
        .arg(list_flag("except"))
        .arg(list_flag("only"))
        .arg(list_flag("var"))
        .arg(list_flag("var-file"))
        .arg(template_arg())
}

pub fn fix_command() -> Command {
    base("fix").arg(bool_flag("validate")).arg(template_arg())
}

/// `fmt`'s flags; `-recursive` is rpack's (and newer Packer's), not Packer 1.6.6's.
pub fn fmt_command() -> Command {
    let cmd = base("fmt")
        .arg(bool_flag("check"))
        .arg(bool_flag("diff"))
        .arg(bool_flag("write"));
    let cmd = if crate::ui::voice::as_packer() {
        cmd
    } else {
        cmd.arg(bool_flag("recursive"))
    };
    cmd.arg(template_arg())
}

pub fn console_command() -> Command {
    base("console")
        .arg(list_flag("var"))
        .arg(list_flag("var-file"))
        .arg(template_arg())
}

/// `hcl2_upgrade`: `-with-annotations` is newer Packer's (not defined when called as
/// `packer`, as in 1.6.6).
pub fn hcl2_upgrade_command() -> Command {
    let cmd = base("hcl2_upgrade").arg(
        Arg::new("output-file")
            .long("output-file")
            .num_args(1)
            .allow_hyphen_values(true)
            .overrides_with("output-file"),
    );
    let cmd = if crate::ui::voice::as_packer() {
        cmd
    } else {
        cmd.arg(bool_flag("with-annotations"))
    };
    cmd.arg(template_arg())
}

pub fn inspect_command() -> Command {
    // Packer 1.6.6 takes the template flags here too; the HCL2 view uses -var and -var-file.
    base("inspect")
        .arg(template_arg())
        .arg(list_flag("except"))
        .arg(list_flag("only"))
        .arg(list_flag("var"))
        .arg(list_flag("var-file"))
}

pub fn build_command() -> Command {
    with_strict(base("build"))
        .arg(bool_flag("color"))
        .arg(bool_flag("debug"))
        .arg(bool_flag("force"))
        .arg(bool_flag("timestamp-ui"))
        .arg(list_flag("except"))
        .arg(list_flag("only"))
        .arg(list_flag("var"))
        .arg(list_flag("var-file"))
        .arg(
            Arg::new("on-error")
                .long("on-error")
                .num_args(1)
                .value_parser(["cleanup", "abort", "ask", "run-cleanup-provisioner"])
                .overrides_with("on-error"),
        )
        .arg(
            Arg::new("parallel-builds")
                .long("parallel-builds")
                .num_args(1)
                .value_parser(clap::value_parser!(i64))
                .overrides_with("parallel-builds"),
        )
        .arg(Arg::new("config-type").long("config-type").num_args(1))
        .arg(template_arg())
}

/// Settings shared by the template commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateArgs {
    pub template: String,
    pub only: Vec<String>,
    pub except: Vec<String>,
    pub vars: Vec<String>,
    pub var_files: Vec<String>,
    /// `-strict` or `RPACK_STRICT=1`: undefined user variables are errors.
    pub strict: bool,
}

/// Why arguments were rejected: Packer prints the command's help and then this line.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub Option<String>);

/// Parses `args` (after the command name) with `cmd`.
pub fn parse(cmd: Command, args: &[String]) -> Result<ArgMatches, UsageError> {
    let norm = normalise(args);
    cmd.try_get_matches_from(norm)
        .map_err(|e| UsageError(Some(go_flag_message(&e, args))))
}

/// Go's `flag` package wording for the common failures.
fn go_flag_message(e: &clap::Error, raw: &[String]) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let flag = arg
        .split(['=', ' ', '<'])
        .next()
        .unwrap_or("")
        .trim_start_matches('-')
        .to_string();
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let shown = raw
                .iter()
                .find(|r| r.trim_start_matches('-').split('=').next() == Some(flag.as_str()))
                .cloned();
            format!(
                "flag provided but not defined: {}",
                shown
                    .map(|s| s.split('=').next().unwrap_or("").to_string())
                    .unwrap_or(format!("-{flag}"))
            )
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            if value.is_empty() {
                format!("flag needs an argument: -{flag}")
            } else {
                format!(
                    "invalid value {} for flag -{flag}: parse error",
                    crate::gocompat::strconv::quote(&value)
                )
            }
        }
        _ => {
            let text = e.to_string();
            text.lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string()
        }
    }
}

/// Splits every `-only`/`-except` value on commas, like Packer's slice flags.
fn comma_list(m: &ArgMatches, name: &str) -> Vec<String> {
    m.get_many::<String>(name)
        .map(|vals| {
            vals.flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn many(m: &ArgMatches, name: &str) -> Vec<String> {
    m.get_many::<String>(name)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

/// The template arguments; exactly one template is required.
pub fn template_args(m: &ArgMatches) -> Result<TemplateArgs, UsageError> {
    let templates = many(m, "template");
    if templates.len() != 1 {
        return Err(UsageError(None));
    }
    let mut t = TemplateArgs {
        template: templates[0].clone(),
        ..Default::default()
    };
    if m.try_get_many::<String>("only").is_ok() {
        t.only = comma_list(m, "only");
        t.except = comma_list(m, "except");
        t.vars = many(m, "var");
        t.var_files = many(m, "var-file");
    }
    t.strict = flag(m, "strict") || crate::template::undefined::strict_from_env();
    Ok(t)
}

pub fn flag(m: &ArgMatches, name: &str) -> bool {
    m.try_get_one::<bool>(name)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value_like_go() {
        let m = parse(
            build_command(),
            &s(&[
                "-color=false",
                "-parallel-builds=2",
                "-color",
                "-parallel-builds=3",
                "t.json",
            ]),
        )
        .unwrap();
        assert!(flag(&m, "color"));
        assert_eq!(m.get_one::<i64>("parallel-builds"), Some(&3));
    }

    #[test]
    fn both_spellings_parse_the_same() {
        let packer = s(&[
            "-var",
            "a=1",
            "-var-file=f.json",
            "-only=x,y",
            "-syntax-only",
            "t.json",
        ]);
        let gnu = s(&[
            "--var",
            "a=1",
            "--var-file",
            "f.json",
            "--only",
            "x",
            "--only=y",
            "--syntax-only=true",
            "t.json",
        ]);
        let a = template_args(&parse(validate_command(), &packer).unwrap()).unwrap();
        let b = template_args(&parse(validate_command(), &gnu).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.only, ["x", "y"]);
        assert_eq!(a.vars, ["a=1"]);
        assert!(flag(
            &parse(validate_command(), &packer).unwrap(),
            "syntax-only"
        ));
    }

    #[test]
    fn machine_readable_is_stripped_anywhere() {
        let (rest, found) = strip_machine_readable(s(&["validate", "x.json", "-machine-readable"]));
        assert!(found);
        assert_eq!(rest, ["validate", "x.json"]);
    }

    #[test]
    fn bad_flags_read_like_go() {
        assert_eq!(
            parse(validate_command(), &s(&["-bogus", "x.json"]))
                .unwrap_err()
                .0
                .unwrap(),
            "flag provided but not defined: -bogus"
        );
        let m = parse(
            build_command(),
            &s(&[
                "-color=false",
                "-parallel-builds=2",
                "-on-error=abort",
                "-debug",
                "t.json",
            ]),
        )
        .unwrap();
        assert!(!flag(&m, "color"));
        assert!(flag(&m, "debug"));
        assert_eq!(m.get_one::<i64>("parallel-builds"), Some(&2));
        assert!(template_args(&parse(validate_command(), &s(&["a", "b"])).unwrap()).is_err());
        // `-` is stdin, not a flag.
        assert_eq!(
            template_args(&parse(inspect_command(), &s(&["-"])).unwrap())
                .unwrap()
                .template,
            "-"
        );
    }
}
