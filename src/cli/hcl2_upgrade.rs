//! `hcl2_upgrade`: a JSON template → an HCL2 file (`src/template/upgrade/`).

use std::path::Path;

use super::{args, persona, usage_error, Output};
use crate::template::upgrade::{self, Options};
use crate::template::{builtins, parse};
use crate::ui::{Secrets, Ui};

/// `rpack hcl2_upgrade -h` (newer Packer's text; called as `packer`, 1.6.6's `HCL2_UPGRADE`).
pub(super) const HELP: &str = "Usage: packer hcl2_upgrade [options] TEMPLATE

  Will transform your JSON template into an HCL2 configuration.

Options:

  -output-file=path    Set output file name. By default this will be the
                       TEMPLATE name with \".pkr.hcl\" appended to it. To be a
                       valid Packer HCL template, it must have the suffix
                       \".pkr.hcl\". \"-\" writes it to standard output.
  -with-annotations    Add helper annotation comments to the file to help new
                       HCL2 users understand the template format.";

pub(super) fn run(out: &Output, rest: &[String], help: &str) -> i32 {
    let ui = out.ui(Secrets::default());
    let m = match args::parse(args::hcl2_upgrade_command(), rest) {
        Ok(m) => m,
        Err(e) => return usage_error(&*ui, help, &e),
    };
    let templates: Vec<String> = m
        .get_many::<String>("template")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let [path] = templates.as_slice() else {
        ui.say(help);
        return 1;
    };
    let output = m
        .get_one::<String>("output-file")
        .filter(|o| !o.is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{path}.pkr.hcl"));
    let opts = Options {
        annotations: args::flag(&m, "with-annotations"),
        packer_166_header: persona::as_packer(),
    };
    upgrade_file(&*ui, path, &output, opts)
}

/// The path Go's `os.MkdirAll` names when it fails: an existing ancestor that is not a
/// directory, else the first directory it had to create.
fn mkdir_failed_at(dir: &Path) -> &Path {
    let mut child = dir;
    for a in dir.ancestors() {
        if let Ok(m) = std::fs::metadata(a) {
            return if m.is_dir() { child } else { a };
        }
        child = a;
    }
    dir
}

fn upgrade_file(ui: &dyn Ui, path: &str, output: &str, opts: Options) -> i32 {
    // Unlike Packer 1.6.6, nothing is written when the template cannot be read.
    let tpl = match parse::parse_file(path) {
        Ok(t) => t,
        Err(e) => {
            ui.error(&format!("Failed to parse template: {e}"));
            return 1;
        }
    };
    let required: Vec<&str> = tpl
        .variables
        .iter()
        .filter(|v| v.default.is_none())
        .map(|v| v.name.as_str())
        .collect();
    if persona::as_packer() && !required.is_empty() {
        // Packer initializes the template without variables and goes on.
        let points: Vec<String> = required
            .iter()
            .map(|n| format!("\t* required variable not set: {n}"))
            .collect();
        ui.error(&format!(
            "Ignoring following initialization error: {} error{} occurred:\n{}\n\n",
            points.len(),
            if points.len() == 1 { "" } else { "s" },
            points.join("\n")
        ));
    }
    if persona::as_packer() {
        // 1.6.6 refuses a builder type it does not know (the first, in its sorted order).
        let mut kinds: Vec<(String, &str)> = tpl
            .builders
            .iter()
            .map(|b| (format!("{}{}", b.kind, b.name), b.kind.as_str()))
            .collect();
        kinds.sort();
        if let Some((_, k)) = kinds.iter().find(|(_, k)| !builtins::BUILDERS.contains(k)) {
            ui.error(&format!(
                "unknown builder type: {}\n",
                crate::gocompat::strconv::quote(k)
            ));
            return 1;
        }
    }
    let text = upgrade::upgrade(&tpl, opts);
    // rpack's `-output-file=-`: the HCL2 on stdout (Packer creates a file named `-`).
    if output == "-" && !persona::as_packer() {
        ui.say(text.strip_suffix('\n').unwrap_or(&text));
        return 0;
    }
    let dir = Path::new(output)
        .parent()
        .filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        if let Err(e) = std::fs::create_dir_all(d) {
            ui.error(&format!(
                "Failed to create output directory: mkdir {}: {}",
                mkdir_failed_at(d).display(),
                parse::io_error_text(&e)
            ));
            return 1;
        }
    }
    if let Err(e) = std::fs::write(output, text) {
        ui.error(&format!(
            "Failed to create output file: open {output}: {}",
            parse::io_error_text(&e)
        ));
        return 1;
    }
    if persona::as_packer() {
        // Packer 1.6.6's line, trailing space included.
        ui.say(&format!("Successfully created {output} "));
    } else {
        ui.say(&format!("Successfully created {output}"));
    }
    0
}
