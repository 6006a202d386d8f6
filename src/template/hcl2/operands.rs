//! HCL's operand conversions: arithmetic and comparison operators (`+ - * / % < <= > >=`, unary
//! `-`) take numbers and `&&`, `||`, `!` take bools, converting other values as cty does
//! (`"2" * "3"` is 6, `"10" > "9"` compares numbers, `"true" && true` is true); `==` and `!=`
//! compare without converting. hcl-rs converts nothing, so before evaluation every such operand
//! is wrapped in a call to [`OPERAND`], which converts it or fails with HCL's "Invalid operand"
//! at the operand.

use hcl::Value;
use hcl_edit::expr::{BinaryOperator, Expression, FuncArgs, FuncCall, UnaryOperator};
use hcl_edit::visit_mut::{self, VisitMut};
use hcl_edit::Span;

use super::diag::{Diag, SourceFile};

/// The internal conversion function (not a valid HCL identifier start for users to call: the
/// function check refuses any name it does not list, this one included).
pub(crate) const OPERAND: &str = "__rpack_operand";

/// Separates the parts of a conversion failure in the function's error text.
const SEP: char = '\u{1}';

/// Wraps every operand that needs a conversion.
pub(crate) fn wrap(e: &mut Expression) {
    struct W;
    impl VisitMut for W {
        fn visit_for_template_expr_mut(&mut self, node: &mut hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr_mut(&mut node.collection_expr);
            visit_mut::visit_for_template_expr_mut(self, node);
        }
        fn visit_expr_mut(&mut self, node: &mut Expression) {
            visit_mut::visit_expr_mut(self, node);
            match node {
                Expression::BinaryOp(op) => {
                    let want = match op.operator.value() {
                        BinaryOperator::Eq | BinaryOperator::NotEq => return,
                        BinaryOperator::And | BinaryOperator::Or => "bool",
                        _ => "number",
                    };
                    convert(&mut op.lhs_expr, want, "left");
                    // The evaluator's integer `%` panics on a zero divisor: it is checked here.
                    let divisor = matches!(op.operator.value(), BinaryOperator::Mod);
                    convert(
                        &mut op.rhs_expr,
                        if divisor { "divisor" } else { want },
                        "right",
                    );
                }
                Expression::UnaryOp(op) => {
                    let want = match op.operator.value() {
                        UnaryOperator::Neg => "number",
                        UnaryOperator::Not => "bool",
                    };
                    convert(&mut op.expr, want, "unary");
                }
                _ => {}
            }
        }
    }
    W.visit_expr_mut(e);
}

fn convert(e: &mut Expression, want: &str, side: &str) {
    let already = match e {
        Expression::Number(_) => want == "number",
        Expression::Bool(_) => want == "bool",
        _ => false,
    };
    if already {
        return;
    }
    let offset = e.span().map_or(0, |s| s.start);
    let inner = std::mem::replace(e, Expression::Null(hcl_edit::expr::Null.into()));
    let args = FuncArgs::from(vec![
        inner,
        Expression::from(want),
        Expression::from(side),
        Expression::from(i64::try_from(offset).unwrap_or(0)),
    ]);
    *e = Expression::from(FuncCall::new(hcl_edit::Ident::new(OPERAND), args));
}

/// The conversion function: `(value, "number"|"bool", side, offset)`.
pub(crate) fn operand(a: hcl::eval::FuncArgs) -> Result<Value, String> {
    let a = a.into_values();
    let (v, want, side, offset) = match a.as_slice() {
        [v, Value::String(w), Value::String(s), Value::Number(o)] => {
            (v, w.as_str(), s.as_str(), o.as_u64().unwrap_or(0))
        }
        _ => return Err("internal operand conversion called wrongly".into()),
    };
    let fail = |summary: &str, detail: String| Err(format!("{offset}{SEP}{summary}{SEP}{detail}"));
    let unsuitable = |m: &str| {
        fail(
            "Invalid operand",
            format!("Unsuitable value for {side} operand: {m}."),
        )
    };
    let divisor = want == "divisor";
    let want = if divisor { "number" } else { want };
    let converted = convert_value(v, want, &fail, &unsuitable);
    match converted {
        Ok(n) if divisor && n.as_number().and_then(hcl::Number::as_f64) == Some(0.0) => fail(
            "Operation failed",
            "Error during operation: can't compute a remainder of division by zero.".into(),
        ),
        other => other,
    }
}

fn convert_value(
    v: &Value,
    want: &str,
    fail: &dyn Fn(&str, String) -> Result<Value, String>,
    unsuitable: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<Value, String> {
    match (want, v) {
        (_, Value::Null) => fail(
            "Operation failed",
            "Error during operation: argument must not be null.".into(),
        ),
        ("number", Value::Number(_)) | ("bool", Value::Bool(_)) => Ok(v.clone()),
        ("number", Value::String(s)) => match number(s) {
            Some(n) => Ok(n),
            None => unsuitable("a number is required"),
        },
        ("number", _) => unsuitable("number required"),
        ("bool", Value::String(s)) => match s.as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            other if other.eq_ignore_ascii_case("true") || other.eq_ignore_ascii_case("false") => {
                unsuitable(&format!(
                    "a bool is required; to convert from string, use lowercase \"{}\"",
                    other.to_ascii_lowercase()
                ))
            }
            _ => unsuitable("a bool is required"),
        },
        _ => unsuitable("bool required"),
    }
}

/// A string read as a number the way cty converts it: decimal syntax only (no spaces, no
/// `inf`/`nan`, no hexadecimal).
fn number(s: &str) -> Option<Value> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(super::funcs::num)
}

/// The diagnostic for a failed conversion (`msg` is the function's error text), at the operand.
pub(crate) fn diag(f: &SourceFile, msg: &str) -> Option<Diag> {
    let mut parts = msg.splitn(3, SEP);
    let offset: usize = parts.next()?.parse().ok()?;
    let summary = parts.next()?;
    let detail = parts.next()?;
    Some(Diag::error(
        f.span_loc(Some(offset..offset)),
        summary.to_string(),
        detail.to_string(),
    ))
}
