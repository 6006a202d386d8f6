//! The function table: Go's built-ins (`and`, `printf`, `index`, …) and Packer's functions
//! (`user`, `env`, `isotime`, `build`, …), with their Go signatures (which decide the argument
//! count and type errors) and their implementations.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use super::gobuiltins::{eq, index, le, len, lt, slice};
use super::gofmt::{self, type_name};
use super::value::V;
use super::{BuildData, Context};

/// Every function a template can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    // Go built-ins.
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Call,
    // Packer.
    User,
    Env,
    Timestamp,
    Isotime,
    Strftime,
    Uuid,
    Pwd,
    TemplateDir,
    BuildName,
    BuildType,
    PackerVersion,
    Split,
    Replace,
    ReplaceAll,
    Upper,
    Lower,
    Build,
    Sed,
    ConsulKey,
    Vault,
    AwsSecretsManager,
    // Amazon builders only.
    CleanResourceName,
    CleanAmiName,
}

/// Finds a function by name; `amazon` adds the amazon builders' functions.
pub(crate) fn lookup(name: &str, amazon: bool) -> Option<Func> {
    use Func::{
        And, AwsSecretsManager, Build, BuildName, BuildType, Call, CleanAmiName, CleanResourceName,
        ConsulKey, Env, Eq, Ge, Gt, Html, Index, Isotime, Js, Le, Len, Lower, Lt, Ne, Not, Or,
        PackerVersion, Print, Printf, Println, Pwd, Replace, ReplaceAll, Sed, Slice, Split,
        Strftime, TemplateDir, Timestamp, Upper, Urlquery, User, Uuid, Vault,
    };
    Some(match name {
        "and" => And,
        "or" => Or,
        "not" => Not,
        "len" => Len,
        "index" => Index,
        "slice" => Slice,
        "print" => Print,
        "printf" => Printf,
        "println" => Println,
        "html" => Html,
        "js" => Js,
        "urlquery" => Urlquery,
        "eq" => Eq,
        "ne" => Ne,
        "lt" => Lt,
        "le" => Le,
        "gt" => Gt,
        "ge" => Ge,
        "call" => Call,
        "user" => User,
        "env" => Env,
        "timestamp" => Timestamp,
        "isotime" => Isotime,
        "strftime" => Strftime,
        "uuid" => Uuid,
        "pwd" => Pwd,
        "template_dir" => TemplateDir,
        "build_name" => BuildName,
        "build_type" => BuildType,
        "packer_version" => PackerVersion,
        "split" => Split,
        "replace" => Replace,
        "replace_all" => ReplaceAll,
        "upper" => Upper,
        "lower" => Lower,
        "build" => Build,
        "sed" => Sed,
        "consul_key" => ConsulKey,
        "vault" => Vault,
        "aws_secretsmanager" => AwsSecretsManager,
        "clean_resource_name" if amazon => CleanResourceName,
        "clean_ami_name" if amazon => CleanAmiName,
        _ => return None,
    })
}

/// A Go parameter type, as far as argument checking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum P {
    Str,
    Int,
    /// `interface{}` / `reflect.Value`.
    Any,
}

impl P {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            P::Str => "string",
            P::Int => "int",
            P::Any => "interface {}",
        }
    }
}

/// A Go function signature: fixed parameters, then an optional variadic one.
pub(crate) struct Sig {
    pub fixed: &'static [P],
    pub variadic: Option<P>,
}

impl Func {
    pub(crate) fn sig(self) -> Sig {
        use Func::{
            And, AwsSecretsManager, Build, BuildName, BuildType, Call, CleanAmiName,
            CleanResourceName, ConsulKey, Env, Eq, Ge, Gt, Html, Index, Isotime, Js, Le, Len,
            Lower, Lt, Ne, Not, Or, PackerVersion, Print, Printf, Println, Pwd, Replace,
            ReplaceAll, Sed, Slice, Split, Strftime, TemplateDir, Timestamp, Upper, Urlquery, User,
            Uuid, Vault,
        };
        use P::{Any, Int, Str};
        let (fixed, variadic): (&'static [P], Option<P>) = match self {
            And | Or | Index | Slice | Eq | Call => (&[Any], Some(Any)),
            Not | Len => (&[Any], None),
            Print | Println | Html | Js | Urlquery => (&[], Some(Any)),
            Printf => (&[Str], Some(Any)),
            Ne | Lt | Le | Gt | Ge => (&[Any, Any], None),
            User | Env | Strftime | Upper | Lower | Build | ConsulKey | CleanResourceName
            | CleanAmiName => (&[Str], None),
            Timestamp | Uuid | Pwd | TemplateDir | BuildName | BuildType | PackerVersion => {
                (&[], None)
            }
            Isotime | AwsSecretsManager => (&[], Some(Str)),
            Split => (&[Str, Str, Int], None),
            Replace => (&[Str, Str, Int, Str], None),
            ReplaceAll => (&[Str, Str, Str], None),
            Sed | Vault => (&[Str, Str], None),
        };
        Sig { fixed, variadic }
    }

    /// The parameter type of argument `i`.
    pub(crate) fn param(self, i: usize) -> P {
        let sig = self.sig();
        sig.fixed.get(i).copied().or(sig.variadic).unwrap_or(P::Any)
    }
}

/// Keys `{{ build }}` accepts while build data is deferred: Packer's common keys plus the amazon
/// builders' generated data.
pub const DEFERRED_BUILD_KEYS: &[&str] = &[
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "PackerRunUUID",
    "PackerHTTPIP",
    "PackerHTTPPort",
    "PackerHTTPAddr",
    "SSHPublicKey",
    "SSHPrivateKey",
    "WinRMPassword",
    "SourceAMIName",
    "BuildRegion",
    "SourceAMI",
    "SourceAMICreationDate",
    "SourceAMIOwner",
    "SourceAMIOwnerName",
];

type R<'a> = Result<V<'a>, String>;

pub(crate) fn s<'v>(v: &'v V<'_>) -> &'v str {
    match v {
        V::Str(s) => s,
        _ => "",
    }
}

fn owned<'a>(s: String) -> R<'a> {
    Ok(V::Str(Cow::Owned(s)))
}

/// Calls `f` with already checked arguments (strings for `Str` params, ints for `Int`).
pub(crate) fn call<'a>(f: Func, ctx: &Context, args: Vec<V<'a>>) -> R<'a> {
    use Func::{
        And, AwsSecretsManager, Build, BuildName, BuildType, Call, CleanAmiName, CleanResourceName,
        ConsulKey, Env, Eq, Ge, Gt, Html, Index, Isotime, Js, Le, Len, Lower, Lt, Ne, Not, Or,
        PackerVersion, Print, Printf, Println, Pwd, Replace, ReplaceAll, Sed, Slice, Split,
        Strftime, TemplateDir, Timestamp, Upper, Urlquery, User, Uuid, Vault,
    };
    if let Some(bound) = super::bounds::result_bound(f, &args) {
        let limit = crate::limits::max_value();
        if bound > limit {
            return Err(format!(
                "the result could be {bound} bytes, more than the {} MiB limit on a rendered value \
                 (set RPACK_MAX_VALUE_MIB to raise it)",
                limit >> 20
            ));
        }
    }
    match f {
        And | Or => unreachable!("and/or short-circuit in exec"),
        Not => Ok(V::Bool(!args[0].truth())),
        Len => len(&args[0]),
        Index => index(args),
        Slice => slice(args),
        Print => owned(gofmt::sprint(&args)),
        Println => owned(gofmt::sprintln(&args)),
        Printf => owned(gofmt::sprintf(s(&args[0]), &args[1..])),
        Html => owned(gofmt::html_escape(&escaper_input(&args))),
        Js => owned(gofmt::js_escape(&escaper_input(&args))),
        Urlquery => owned(gofmt::query_escape(&escaper_input(&args))),
        Eq => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for b in &args[1..] {
                if eq(&args[0], b)? {
                    return Ok(V::Bool(true));
                }
            }
            Ok(V::Bool(false))
        }
        Ne => Ok(V::Bool(!eq(&args[0], &args[1])?)),
        Lt => Ok(V::Bool(lt(&args[0], &args[1])?)),
        Le => Ok(V::Bool(le(&args[0], &args[1])?)),
        Gt => Ok(V::Bool(!le(&args[0], &args[1])?)),
        Ge => Ok(V::Bool(!lt(&args[0], &args[1])?)),
        Call => match &args[0] {
            V::NoValue | V::Nil => Err("call of nil".into()),
            v => Err(format!("non-function of type {}", type_name(v))),
        },
        User => {
            let k = s(&args[0]);
            match ctx.user_vars.get(k) {
                Some(v) => owned(v.clone()),
                None if ctx.strict_user_vars => Err(format!("Error: variable not set: {k}")),
                None => {
                    if let Some(sink) = &ctx.undefined {
                        sink.record(k);
                    }
                    Ok(V::Str(Cow::Borrowed("")))
                }
            }
        }
        Env => {
            if !ctx.variables_pass {
                return Err("env vars are not allowed here".into());
            }
            let name = s(&args[0]);
            if let Some(v) = ctx.env.as_ref().and_then(|e| e.get(name)) {
                return owned(v.clone());
            }
            let v = std::env::var_os(name).unwrap_or_default();
            owned(v.to_string_lossy().into_owned())
        }
        Timestamp => owned(init_time(ctx).to_string()),
        Isotime => match args.len() {
            0 => owned(super::golayout::format(
                super::golayout::RFC3339,
                init_time(ctx),
            )),
            1 => owned(super::golayout::format(s(&args[0]), init_time(ctx))),
            _ => {
                let list: Vec<&str> = args.iter().map(s).collect();
                Err(format!("too many values, 1 needed: [{}]", list.join(" ")))
            }
        },
        Strftime => owned(super::strftime::format(s(&args[0]), init_time(ctx))),
        Uuid => owned(time_ordered_uuid()),
        Pwd => match std::env::current_dir() {
            Ok(p) => owned(p.to_string_lossy().into_owned()),
            Err(e) => Err(e.to_string()),
        },
        TemplateDir => match &ctx.template_path {
            Some(p) if !p.as_os_str().is_empty() => template_dir(p),
            _ => Err("template path not available".into()),
        },
        BuildName => not_empty(ctx.build_name.as_ref(), "build_name not available"),
        BuildType => not_empty(ctx.build_type.as_ref(), "build_type not available"),
        PackerVersion => not_empty(ctx.packer_version.as_ref(), "packer_version not available"),
        Split => split(s(&args[0]), s(&args[1]), int(&args[2])),
        Replace => {
            let (old, new, n, src) = (s(&args[0]), s(&args[1]), int(&args[2]), s(&args[3]));
            if n < 0 {
                owned(src.replace(old, new))
            } else {
                owned(src.replacen(old, new, n as usize))
            }
        }
        ReplaceAll => owned(s(&args[2]).replace(s(&args[0]), s(&args[1]))),
        Upper => owned(map_chars(s(&args[0]), true)),
        Lower => owned(map_chars(s(&args[0]), false)),
        Build => build(ctx, s(&args[0])),
        Sed => Err(
            "template function `sed` is deprecated use `replace` or `replace_all` \
                    instead.Documentation: https://www.packer.io/docs/templates/engine"
                .into(),
        ),
        ConsulKey => {
            if !ctx.variables_pass {
                return Err("consul_key is not allowed here".into());
            }
            Err("consul_key is not supported by rpack; pass the value with -var or -var-file instead".into())
        }
        Vault => {
            if !ctx.variables_pass {
                return Err("Vault vars are only allowed in the variables section".into());
            }
            Err(
                "vault is not supported by rpack; pass the value with -var or -var-file instead"
                    .into(),
            )
        }
        AwsSecretsManager => {
            if !ctx.variables_pass {
                return Err("AWS Secrets Manager is only allowed in the variables section".into());
            }
            let (name, key) = match args.len() {
                0 => return Err("secret name must be provided".into()),
                1 => (s(&args[0]), None),
                2 => (s(&args[0]), Some(s(&args[1]))),
                _ => return Err("only secret name and optional secret key can be provided.".into()),
            };
            match &ctx.secrets {
                Some(lookup) => lookup(name, key).map(|v| V::Str(Cow::Owned(v))),
                None => Err("AWS Secrets Manager is not available here".into()),
            }
        }
        CleanResourceName | CleanAmiName => owned(clean_resource_name(s(&args[0]))),
    }
}

fn int(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        _ => 0,
    }
}

fn not_empty<'a>(v: Option<&String>, err: &str) -> R<'a> {
    match v {
        Some(s) if !s.is_empty() => owned(s.clone()),
        _ => Err(err.into()),
    }
}

/// Unix seconds of "now" for `timestamp`/`isotime`/`strftime`: the context's, else the first
/// time any template asked (one value per process, like Packer's `InitTime`).
pub(crate) fn init_time(ctx: &Context) -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    ctx.init_time.unwrap_or_else(|| {
        *START.get_or_init(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    })
}

/// Packer's `uuid.TimeOrderedUUID`: Unix seconds in the first group, random bytes after.
fn time_ordered_uuid() -> String {
    use rand::RngCore;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    format!(
        "{:08x}-{}-{}-{}-{}",
        secs,
        hex::encode(&b[0..2]),
        hex::encode(&b[2..4]),
        hex::encode(&b[4..6]),
        hex::encode(&b[6..12])
    )
}

/// `filepath.Abs(filepath.Dir(path))`.
fn template_dir<'a>(path: &Path) -> R<'a> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let abs = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()
            .map_err(|e| e.to_string())?
            .join(dir)
    };
    owned(clean_path(&abs).to_string_lossy().into_owned())
}

/// Lexical clean like Go's `filepath.Clean` for absolute paths.
fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn split<'a>(k: &str, sep: &str, i: i64) -> R<'a> {
    let parts: Vec<&str> = if sep.is_empty() {
        k.char_indices()
            .map(|(at, c)| &k[at..at + c.len_utf8()])
            .collect()
    } else {
        k.split(sep).collect()
    };
    if i < 0 {
        return Err(format!("runtime error: index out of range [{i}]"));
    }
    match parts.get(i as usize) {
        Some(p) => owned(p.to_string()),
        None => Err(format!(
            "the substring {i} was unavailable using the separator value, {sep}, only {} values were found",
            parts.len()
        )),
    }
}

/// Go's `strings.ToUpper`/`ToLower`: per character, simple case mapping only.
fn map_chars(s: &str, upper: bool) -> String {
    if s.is_ascii() {
        return if upper {
            s.to_ascii_uppercase()
        } else {
            s.to_ascii_lowercase()
        };
    }
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 {
                m.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn build<'a>(ctx: &Context, key: &str) -> R<'a> {
    match &ctx.build_data {
        BuildData::Deferred => {
            if DEFERRED_BUILD_KEYS.contains(&key) {
                owned(deferred_placeholder(key))
            } else {
                Err(format!("loaded data, but couldnt find {key} in it."))
            }
        }
        BuildData::Values(map) => match map.get(key) {
            Some(v) => owned(v.clone()),
            None => Err(format!("loaded data, but couldnt find {key} in it.")),
        },
        BuildData::Unavailable => Err(format!(
            "Error validating build variable: the given variable {key} will not be passed into your plugin."
        )),
    }
}

/// What `{{ build `KEY` }}` renders to while build data is deferred: the same call, so a later
/// render with the real values expands it (and rendering it again in the meantime is stable).
pub(crate) fn deferred_placeholder(key: &str) -> String {
    if key.contains('`') {
        format!("{{{{ build {} }}}}", gofmt::quote(key))
    } else {
        format!("{{{{ build `{key}` }}}}")
    }
}

/// The amazon builders' `clean_resource_name`: every byte outside `[A-Za-z0-9()[] ./-'@_]`
/// becomes `-`.
pub(crate) fn clean_resource_name(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => b as char,
            b'(' | b')' | b'[' | b']' | b' ' | b'.' | b'/' | b'-' | b'\'' | b'@' | b'_' => {
                b as char
            }
            _ => '-',
        })
        .collect()
}

/// The input of `html`/`js`/`urlquery`: a lone string as is, anything else through `Sprint`.
fn escaper_input(args: &[V]) -> String {
    if let [V::Str(s)] = args {
        return s.to_string();
    }
    let printable: Vec<V> = args
        .iter()
        .map(|a| match a {
            V::NoValue | V::Nil => V::Str(Cow::Borrowed("<no value>")),
            other => other.clone(),
        })
        .collect();
    gofmt::sprint(&printable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_resource_name_keeps_only_allowed_bytes() {
        let cases = [
            ("a", "a"),
            ("abcd", "abcd"),
            ("ab cd", "ab cd"),
            ("ab:cd", "ab-cd"),
            ("ab*cd", "ab-cd"),
            ("ab(cd)[ef]", "ab(cd)[ef]"),
            ("ami-'x'@y_z./w", "ami-'x'@y_z./w"),
            ("é", "--"),
            ("a{b}c,d;e", "a-b-c-d-e"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(clean_resource_name(input), want, "{input}");
        }
    }

    #[test]
    fn split_like_go() {
        assert_eq!(
            split("foo-bar", "-", 0).map(|v| s(&v).to_string()),
            Ok("foo".into())
        );
        assert_eq!(
            split("foo-bar", "-", 1).map(|v| s(&v).to_string()),
            Ok("bar".into())
        );
        assert_eq!(
            split("foo-bar", "-", 2).err(),
            Some("the substring 2 was unavailable using the separator value, -, only 2 values were found".into())
        );
        assert_eq!(
            split("abc", "", 1).map(|v| s(&v).to_string()),
            Ok("b".into())
        );
        assert_eq!(
            split("", "-", 0).map(|v| s(&v).to_string()),
            Ok(String::new())
        );
        assert_eq!(
            split("a", "-", -1).err(),
            Some("runtime error: index out of range [-1]".into())
        );
    }

    #[test]
    fn case_mapping() {
        assert_eq!(map_chars("Hello World", true), "HELLO WORLD");
        assert_eq!(map_chars("ÉCOLE", false), "école");
        assert_eq!(map_chars("straße", true), "STRAßE");
    }

    #[test]
    fn placeholder_round_trips_names() {
        assert_eq!(deferred_placeholder("ID"), "{{ build `ID` }}");
        assert_eq!(deferred_placeholder("a`b"), "{{ build \"a`b\" }}");
    }

    #[test]
    fn clean_path_resolves_dots() {
        assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn uuid_shape() {
        let u = time_ordered_uuid();
        let groups: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12], "{u}");
        assert!(u.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert_ne!(time_ordered_uuid(), u);
    }
}
