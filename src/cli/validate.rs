//! `validate`: parse the template, read variables, then check every build like Packer — but
//! report every problem in one run.

use super::args::{self, TemplateArgs};
use super::check_builds;
use super::diags::write_diags;
use super::{help, usage_error, Output};
use crate::plan::fixable;
use crate::plan::load;
use crate::template::variables::parse_var_arg;
use crate::ui::Secrets;

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    // The process exits once the template is checked: its trees need not be freed.
    crate::template::keep_trees_until_exit();
    let ui = out.ui(Secrets::default());
    let parsed = args::parse(args::validate_command(), rest).and_then(|m| {
        let t = args::template_args(&m)?;
        Ok((
            args::flag(&m, "syntax-only"),
            args::flag(&m, "evaluate-datasources"),
            t,
        ))
    });
    let (syntax_only, evaluate_data, targs) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(&*ui, help::validate(), &e),
    };
    let vars = match parse_vars(&targs) {
        Ok(v) => v,
        Err(msg) => return usage_error(&*ui, help::validate(), &args::UsageError(Some(msg))),
    };
    let loaded = match load::load_with(
        &*ui,
        &targs.template,
        &targs.var_files,
        &vars,
        evaluate_data,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if syntax_only {
        ui.say("Syntax-only check passed. Everything looks okay.");
        return 0;
    }
    let (checked, _, ui) = check_builds(out, &loaded, &targs);
    let mut diags = checked.diags;
    let file = if targs.template == "-" {
        "<stdin>"
    } else {
        targs.template.as_str()
    };
    diags.extend(fixable::diag(&fixable::find(&loaded.template), file));
    write_diags(&*ui, &diags)
}

/// `-var k=v` values; a value without `=` is a flag error like Go's.
pub(crate) fn parse_vars(t: &TemplateArgs) -> Result<Vec<(String, String)>, String> {
    t.vars
        .iter()
        .map(|v| {
            parse_var_arg(v).map_err(|e| {
                format!(
                    "invalid value {} for flag -var: {e}",
                    crate::gocompat::strconv::quote(v)
                )
            })
        })
        .collect()
}
