//! Packer's HCL2 function library, one file per family. Every function takes its arguments as
//! a variadic list of values and checks them itself, so messages name the function.

mod collections;
mod encoding;
pub(crate) mod files;
mod more;
mod net;
mod numeric;
mod strings;
mod templates;
mod time;

pub(crate) use templates::with_secrets;

use hcl::eval::{Context, Func, FuncDef, ParamType};
use hcl::{Number, Value};

pub(crate) type R = Result<Value, String>;

/// Every function rpack has, by name. `try` and `can` are handled by the evaluator's pre-pass,
/// which also turns `convert`'s type argument into text for [`convert`].
fn table() -> Vec<(&'static str, Func)> {
    let mut t: Vec<(&'static str, Func)> = Vec::new();
    t.extend_from_slice(strings::FUNCS);
    t.extend_from_slice(collections::FUNCS);
    t.extend_from_slice(encoding::FUNCS);
    t.extend_from_slice(numeric::FUNCS);
    t.extend_from_slice(files::FUNCS);
    t.extend_from_slice(time::FUNCS);
    t.extend_from_slice(net::FUNCS);
    t.extend_from_slice(more::FUNCS);
    t.extend_from_slice(templates::FUNCS);
    t.push(("convert", convert));
    t
}

/// Starts the text `convert` receives for its type argument: the evaluator's pre-pass puts the
/// type expression's reading there (a string written in the template is refused before).
pub(crate) const TYPE_MARK: &str = "\u{0}type:";

/// `convert(value, type)`, the type as the pre-pass wrote it.
fn convert(a: hcl::eval::FuncArgs) -> R {
    let a = args(a, 2, 2)?;
    let t = a[1]
        .as_str()
        .and_then(|s| s.strip_prefix(TYPE_MARK))
        .and_then(|s| hcl_edit::parser::parse_expr(s).ok())
        .and_then(|e| super::types::parse(&e).ok())
        .ok_or("the type argument must be a type expression, such as list(string).")?;
    super::types::convert(&a[0], &t)
        .map_err(|e| format!("Invalid value for \"value\" parameter: {e}."))
}

/// Whether `name` is a function rpack has (`try`/`can` included).
pub(crate) fn is_known(name: &str) -> bool {
    matches!(name, "try" | "can" | "env") || table().iter().any(|(n, _)| *n == name)
}

/// Declares every function in `ctx`; `env` only when `env_ok` (variable defaults).
pub(crate) fn declare(ctx: &mut Context, env_ok: bool) {
    for (name, f) in table() {
        ctx.declare_func(
            name,
            FuncDef::builder().variadic_param(ParamType::Any).build(f),
        );
    }
    // Operand conversions (see `operands`); never callable from a template.
    ctx.declare_func(
        super::operands::OPERAND,
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(super::operands::operand),
    );
    if env_ok {
        ctx.declare_func(
            "env",
            FuncDef::builder().variadic_param(ParamType::Any).build(env),
        );
    }
}

fn env(a: hcl::eval::FuncArgs) -> R {
    let a = args(a, 1, 1)?;
    let name = string(&a[0])?;
    Ok(Value::String(std::env::var(name).unwrap_or_default()))
}

/// The arguments, checked to be between `min` and `max` in number.
pub(crate) fn args(a: hcl::eval::FuncArgs, min: usize, max: usize) -> Result<Vec<Value>, String> {
    let v = a.into_values();
    if v.len() < min {
        return Err(format!(
            "Not enough function arguments: at least {min} expected, got {}.",
            v.len()
        ));
    }
    if v.len() > max {
        return Err(format!(
            "Too many function arguments: at most {max} expected, got {}.",
            v.len()
        ));
    }
    Ok(v)
}

/// A value as a string, converting numbers and bools like HCL does.
pub(crate) fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(number_text(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a string is required, got null".into()),
        other => Err(format!("a string is required, got {}", type_name(other))),
    }
}

/// A value as a number (strings holding numbers convert).
pub(crate) fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("a number is required, got the string \"{s}\"")),
        other => Err(format!("a number is required, got {}", type_name(other))),
    }
}

pub(crate) fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A list, tuple or set value's elements.
pub(crate) fn list(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        other => Err(format!("a list is required, got {}", type_name(other))),
    }
}

pub(crate) fn object(v: &Value) -> Result<hcl::Map<String, Value>, String> {
    match v {
        Value::Object(o) => Ok(o.clone()),
        other => Err(format!(
            "a map or object is required, got {}",
            type_name(other)
        )),
    }
}

pub(crate) fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "tuple",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use hcl::eval::Evaluate;

    /// Evaluates `src` with every function declared (env included).
    pub(crate) fn ev(src: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare(&mut ctx, true);
        let e: hcl::Expression = src.parse().map_err(|e: hcl::Error| e.to_string())?;
        e.evaluate(&ctx).map_err(|e| e.to_string())
    }

    /// Evaluates `src` and renders the result as HCL-ish JSON for compact assertions.
    pub(crate) fn j(src: &str) -> String {
        match ev(src) {
            Ok(v) => serde_json::to_string(&v).unwrap(),
            Err(e) => format!("ERR {e}"),
        }
    }
}
