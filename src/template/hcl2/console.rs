//! `rpack console` for HCL2 templates: one line is one HCL expression, evaluated with the
//! template's `var.*`, `local.*`, `data.*`, `path.*`, `packer.*` and every function, and printed
//! as Packer's HCL2 console prints values (`repl.FormatResult`: a top-level string bare, nested
//! strings quoted, lists and maps one element per line).

use super::diag::{self, SourceFile};
use super::eval::{check_functions, eval};
use super::inspect::format_result;
use super::to_model::Scope;

/// What the console evaluates lines in.
#[derive(Clone, Default)]
pub(crate) struct Console {
    pub(super) scope: Scope,
}

impl Console {
    /// Evaluates one line; the error is the rendered diagnostic.
    pub(crate) fn eval(&self, line: &str) -> Result<String, String> {
        let f = SourceFile::new("<console-input>", line);
        let expr = hcl_edit::parser::parse_expr(line).map_err(|e| {
            diag::render(&[diag::Diag::error(
                Some(f.loc(0)),
                "Invalid expression",
                e.message().to_string(),
            )])
        })?;
        let mut diags = Vec::new();
        check_functions(&f, &expr, false, &mut diags);
        if !diags.is_empty() {
            return Err(diag::render(&diags));
        }
        let v = eval(&f, &expr, &self.scope.context()).map_err(|d| diag::render(&[d]))?;
        Ok(format_result(&v, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::Value;

    #[test]
    fn values_print_as_packers_console() {
        assert_eq!(format_result(&Value::String("a b".into()), false), "a b");
        assert_eq!(format_result(&Value::from(3), false), "3");
        let v: Value = hcl::value!({ b = ["x", 1], a = { c = true } });
        assert_eq!(
            format_result(&v, false),
            "{\n  \"a\" = {\n    \"c\" = true\n  }\n  \"b\" = [\n    \"x\",\n    1,\n  ]\n}"
        );
        // As `packer console` 1.6.6 prints them: empty collections on one line, null
        // attributes dropped.
        let v: Value = hcl::value!({ a = {}, b = [], c = null });
        assert_eq!(format_result(&v, false), "{\n  \"a\" = {}\n  \"b\" = []\n}");
        assert_eq!(
            format_result(
                &Value::String(crate::template::hcl2::data::UNKNOWN.into()),
                false
            ),
            "<unknown>"
        );
    }
}
