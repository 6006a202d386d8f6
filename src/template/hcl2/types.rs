//! The variable type system (a subset of cty's): type expressions, conversion of values to a
//! type, and Packer's reading of `-var`/environment strings.

use hcl::{Map, Value};
use hcl_edit::expr::{Expression, FuncCall};

use super::funcs::{number_text, type_name};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    /// Attribute → (type, optional).
    Object(Vec<(String, Type, bool)>),
}

/// Reads a type expression (`list(string)`, `object({a = number, b = optional(bool)})`, ...).
pub(crate) fn parse(expr: &Expression) -> Result<Type, String> {
    match expr {
        Expression::Variable(v) => match v.as_str() {
            "any" => Ok(Type::Any),
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            other => Err(format!("The keyword \"{other}\" is not a valid type specification.")),
        },
        Expression::FuncCall(fc) => call(fc),
        Expression::Parenthesis(p) => parse(p.inner()),
        _ => Err("A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).".into()),
    }
}

fn call(fc: &FuncCall) -> Result<Type, String> {
    let name = fc.name.name.as_str();
    let args: Vec<&Expression> = fc.args.iter().collect();
    let one = || -> Result<Type, String> {
        match args.as_slice() {
            [a] => parse(a),
            _ => Err(format!(
                "The {name} type constructor requires one argument specifying the element type."
            )),
        }
    };
    match name {
        "list" => Ok(Type::List(Box::new(one()?))),
        "set" => Ok(Type::Set(Box::new(one()?))),
        "map" => Ok(Type::Map(Box::new(one()?))),
        "tuple" => match args.as_slice() {
            [Expression::Array(a)] => Ok(Type::Tuple(a.iter().map(parse).collect::<Result<_, _>>()?)),
            _ => Err("The tuple type constructor requires one argument specifying the element types as a list.".into()),
        },
        "object" => match args.as_slice() {
            [Expression::Object(o)] => {
                let mut attrs = Vec::new();
                for (k, v) in o {
                    let key = match k {
                        hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_string(),
                        hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                        hcl_edit::expr::ObjectKey::Expression(_) => {
                            return Err("Object constructor map keys must be attribute names.".into())
                        }
                    };
                    let (t, opt) = match v.expr() {
                        Expression::FuncCall(f) if f.name.name.as_str() == "optional" => {
                            match f.args.iter().collect::<Vec<_>>().as_slice() {
                                [a] | [a, _] => (parse(a)?, true),
                                _ => return Err("The optional modifier requires the attribute type as its first argument.".into()),
                            }
                        }
                        e => (parse(e)?, false),
                    };
                    attrs.push((key, t, opt));
                }
                Ok(Type::Object(attrs))
            }
            _ => Err("The object type constructor requires one argument specifying the attribute types as a map.".into()),
        },
        other => Err(format!("Keyword \"{other}\" is not a valid type constructor.")),
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                let s: Vec<String> = ts.iter().map(std::string::ToString::to_string).collect();
                write!(f, "tuple([{}])", s.join(", "))
            }
            Type::Object(a) => {
                let s: Vec<String> = a
                    .iter()
                    .map(|(k, t, o)| {
                        if *o {
                            format!("{k}=optional({t})")
                        } else {
                            format!("{k}={t}")
                        }
                    })
                    .collect();
                write!(f, "object({{{}}})", s.join(", "))
            }
        }
    }
}

/// Converts `v` to type `t` like cty's `convert.Convert`, or says why it cannot.
pub(crate) fn convert(v: &Value, t: &Type) -> Result<Value, String> {
    if *v == Value::Null {
        return Ok(Value::Null);
    }
    match (t, v) {
        (Type::Any, _) => Ok(v.clone()),
        (Type::String, Value::String(_)) => Ok(v.clone()),
        (Type::String, Value::Number(n)) => Ok(Value::String(number_text(n))),
        (Type::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Type::Number, Value::Number(_)) => Ok(v.clone()),
        (Type::Number, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .map(super::funcs::num)
            .ok_or_else(|| "a number is required".to_string()),
        (Type::Bool, Value::Bool(_)) => Ok(v.clone()),
        (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (Type::Bool, _) => Err("a bool is required".into()),
        (Type::List(e) | Type::Set(e), Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, x) in a.iter().enumerate() {
                let c = convert(x, e).map_err(|m| format!("element {i}: {m}"))?;
                if matches!(t, Type::List(_)) || !out.contains(&c) {
                    out.push(c);
                }
            }
            // cty orders a set of strings lexically and a set of numbers by value.
            if matches!(t, Type::Set(_)) {
                if out.iter().all(Value::is_string) {
                    out.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                } else if out.iter().all(Value::is_number) {
                    out.sort_by(|a, b| {
                        a.as_f64()
                            .unwrap_or(0.0)
                            .total_cmp(&b.as_f64().unwrap_or(0.0))
                    });
                }
            }
            Ok(Value::Array(out))
        }
        (Type::Map(e), Value::Object(o)) => {
            let mut out = Map::new();
            for (k, x) in o {
                out.insert(
                    k.clone(),
                    convert(x, e).map_err(|m| format!("element {k:?}: {m}"))?,
                );
            }
            Ok(Value::Object(out))
        }
        (Type::Tuple(ts), Value::Array(a)) => {
            if ts.len() != a.len() {
                return Err(format!("tuple required with {} elements", ts.len()));
            }
            let out = a
                .iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (x, t))| convert(x, t).map_err(|m| format!("element {i}: {m}")))
                .collect::<Result<_, _>>()?;
            Ok(Value::Array(out))
        }
        (Type::Object(attrs), Value::Object(o)) => {
            let mut out = Map::new();
            for (k, t, opt) in attrs {
                match o.get(k) {
                    Some(x) => {
                        out.insert(
                            k.clone(),
                            convert(x, t).map_err(|m| format!("attribute {k:?}: {m}"))?,
                        );
                    }
                    None if *opt => {
                        out.insert(k.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute {k:?} is required")),
                }
            }
            Ok(Value::Object(out))
        }
        (Type::List(_) | Type::Set(_), _) => Err(format!("{} required", kind(t))),
        (Type::Tuple(_), _) => Err("tuple required".into()),
        (Type::Map(_) | Type::Object(_), _) => Err(format!("{} required", kind(t))),
        (Type::String | Type::Number, _) => {
            Err(format!("{} required, got {}", kind(t), type_name(v)))
        }
    }
}

fn kind(t: &Type) -> &'static str {
    match t {
        Type::List(_) => "list of any single type",
        Type::Set(_) => "set of any single type",
        Type::Map(_) => "map of any single type",
        Type::Object(_) => "object",
        Type::String => "string",
        Type::Number => "number",
        _ => "value",
    }
}

/// Whether a `-var`/environment string is taken literally (string and untyped variables) or
/// parsed as an HCL expression first (every other type), as Packer does.
pub(crate) fn literal_string(t: &Type) -> bool {
    matches!(t, Type::String | Type::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Type {
        parse(&hcl_edit::parser::parse_expr(s).unwrap()).unwrap()
    }
    fn v(s: &str) -> Value {
        hcl::eval::Evaluate::evaluate(
            &s.parse::<hcl::Expression>().unwrap(),
            &hcl::eval::Context::new(),
        )
        .unwrap()
    }

    #[test]
    fn types_parse_and_print() {
        for s in [
            "string",
            "list(string)",
            "map(number)",
            "set(bool)",
            "tuple([string, number])",
            "object({a=string, b=optional(number)})",
            "any",
        ] {
            assert_eq!(t(s).to_string(), s);
        }
        assert!(parse(&hcl_edit::parser::parse_expr("strin").unwrap()).is_err());
        assert!(parse(&hcl_edit::parser::parse_expr("list(string, number)").unwrap()).is_err());
    }

    #[test]
    fn conversion() {
        assert_eq!(convert(&v("5"), &t("string")).unwrap(), v("\"5\""));
        assert_eq!(convert(&v("\"5\""), &t("number")).unwrap(), v("5"));
        assert!(convert(&v("\"x\""), &t("number")).is_err());
        assert_eq!(
            convert(&v("[1, \"2\"]"), &t("list(number)")).unwrap(),
            v("[1, 2]")
        );
        assert_eq!(convert(&v("[1, 1]"), &t("set(number)")).unwrap(), v("[1]"));
        assert_eq!(
            convert(
                &v("{a = \"x\"}"),
                &t("object({a=string, b=optional(number)})")
            )
            .unwrap(),
            v("{a = \"x\", b = null}")
        );
        assert!(convert(&v("{b = 1}"), &t("object({a=string})")).is_err());
        assert!(convert(&v("\"x\""), &t("list(string)")).is_err());
        assert!(convert(&v("\"yes\""), &t("bool")).is_err());
    }
}
