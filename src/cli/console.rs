//! `console`: Packer 1.6.6's JSON-mode console. Each line is rendered against the template's
//! user variables (defaults < `-var-file` < `-var`, resolved like a build), the way
//! `packer console` does: `help`, `variables` and `exit` are commands, any other line is a
//! Go template. Where the lines come from decides what is printed, as in Packer:
//! - a terminal: a `> ` prompt before each line, edited as with Packer's readline library
//!   (cursor keys, history, Ctrl-C, Ctrl-D: [`line_edit`]), each result printed;
//! - a pipe: every line (trimmed) is evaluated and only the last result is printed;
//! - anything else (`< file`, `/dev/null`): Packer's line editor reads it without a prompt and
//!   each line's result is printed. `\r` and `\n` end a line, backspace deletes, Ctrl-C drops
//!   the line, Ctrl-D on an empty line ends the input; other control characters are kept as
//!   they are (Packer's editor also moves the cursor on Ctrl-A, Ctrl-E …).
//!
//! Called as `packer`, the output is Packer's byte for byte (its problem reports are headed
//! `???????:` and go to stdout, and the exit code stays 0; a template its core rejects, one
//! without builders for instance, gives no variables at all). Called as `rpack`, a failed
//! expression is an `Error:` on stderr and the exit code is 1; a template whose variables do
//! not resolve is an error instead of Packer's silent empty variable set, and a template's
//! structure (builders, `only`/`except` names) does not matter to the console.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};

use super::{args, line_edit, persona, usage_error, Output};
use crate::template::interp::{self, BuildData, Context};
use crate::template::parse::Template;
use crate::template::variables::{self, parse_var_arg};
use crate::ui::{wrap_string, Secrets, Ui};

pub(super) const HELP: &str = "Usage: packer console [options] [TEMPLATE]

  Creates a console for testing variable interpolation.
  If a template is provided, this command will load the template and any
  variables defined therein into its context to be referenced during
  interpolation.

Options:
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables. [ Note that even in HCL mode this expects file to contain JSON, a fix is comming soon ]";

/// What `help` prints in the console.
const CONSOLE_HELP: &str = "Packer console JSON Mode.
The Packer console allows you to experiment with Packer interpolations.
You may access variables in the Packer config you called the console with.

Type in the interpolation to test and hit <enter> to see the result.

\"variables\" will dump all available variables and their values.

\"{{timestamp}}\" will output the timestamp, for example \"1559855090\".

To exit the console, type \"exit\" and hit <enter>, or use Control-C.

/!\\ If you would like to start console in hcl2 mode without a config you can
use the --config-type=hcl2 option.";

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    let m = match args::parse(args::console_command(), rest) {
        Ok(m) => m,
        Err(e) => return usage_error(&*ui, HELP, &e),
    };
    let many = |name: &str| -> Vec<String> {
        m.get_many::<String>(name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let mut vars = Vec::new();
    for raw in many("var") {
        match parse_var_arg(&raw) {
            Ok(kv) => vars.push(kv),
            Err(e) => {
                let msg = format!(
                    "invalid value {} for flag -var: {e}",
                    crate::gocompat::strconv::quote(&raw)
                );
                return usage_error(&*ui, HELP, &args::UsageError(Some(msg)));
            }
        }
    }
    // Like Packer, a template is used only when exactly one is named.
    let templates = many("template");
    if let [path] = templates.as_slice() {
        if crate::template::hcl2::is_hcl2_path(path) && std::fs::metadata(path).is_ok() {
            return hcl2(out, path, &many("var-file"), &vars);
        }
    }
    let (template, values, origins) = if let [path] = templates.as_slice() {
        match crate::plan::load(&*ui, path, &many("var-file"), &vars) {
            Ok(l) => (l.template, l.values, l.origins),
            Err(code) => return code,
        }
    } else {
        let mut files = Vec::new();
        for f in many("var-file") {
            match variables::read_var_file_checked(&f) {
                Ok(v) => files.push(v),
                Err(e) => {
                    ui.error(&e);
                    return 1;
                }
            }
        }
        let t = Template::default();
        let origins = variables::origins(&files, &vars);
        let files: Vec<Vec<(String, String)>> = files.into_iter().map(|f| f.values).collect();
        let values = variables::merge(&t, &files, &vars);
        (t, values, origins)
    };
    let checked = if templates.len() == 1 && persona::as_packer() {
        core_problems(&template)
    } else {
        Ok(())
    };
    let ctx = match checked.and_then(|()| context(&template, &values, &origins)) {
        Ok(c) => c,
        Err(errors) if !persona::as_packer() => {
            ui.error(&crate::gocompat::fmt::multierror(&errors));
            return 1;
        }
        // Packer ignores the failure and evaluates with no variables at all.
        Err(_) => Context {
            user_vars: BTreeMap::new(),
            ..console_context(&template)
        },
    };
    let ui = out.ui(Secrets::new(crate::plan::load::sensitive_values(
        &template,
        &ctx.user_vars,
    )));
    super::warn_short_secrets(&*ui);
    read_lines(&*ui, &Evaluator::Json(Box::new(ctx)))
}

/// An HCL2 template's console: its data sources are evaluated, each line is an HCL
/// expression.
fn hcl2(out: &Output, path: &str, var_files: &[String], vars: &[(String, String)]) -> i32 {
    use crate::template::hcl2;
    let data = hcl2::DataOptions {
        provider: Some(&crate::plan::datasources::Provider),
        execute: true,
        plugins: None,
    };
    let secrets = Some(crate::aws::secrets::secrets_lookup());
    let loaded = hcl2::with_secrets(secrets, || {
        hcl2::load_template_with(path, var_files, vars, data)
    });
    let ui = out.ui(Secrets::default());
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            ui.error(&e);
            return 1;
        }
    };
    if !loaded.warnings.is_empty() {
        ui.error(&loaded.warnings);
    }
    let ui = out.ui(Secrets::new(
        loaded.sensitive.values().cloned().collect::<Vec<String>>(),
    ));
    super::warn_short_secrets(&*ui);
    read_lines(&*ui, &Evaluator::Hcl2(loaded.console))
}

/// What lines are evaluated with: a JSON template's render context or an HCL2 scope.
enum Evaluator {
    Json(Box<Context>),
    Hcl2(crate::template::hcl2::console::Console),
}

/// Reads the lines from standard input the way its kind decides (see the module docs).
fn read_lines(ui: &dyn Ui, ev: &Evaluator) -> i32 {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        interactive(ui, ev, &mut stdin.lock())
    } else if stdin_is_pipe(&stdin) {
        piped(ui, ev, &mut stdin.lock())
    } else {
        edited(ui, ev, &mut stdin.lock())
    }
}

/// Whether standard input is a pipe (Packer's test: a named or unnamed FIFO).
fn stdin_is_pipe(stdin: &std::io::Stdin) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    stdin
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.file_type().is_fifo())
}

/// What Packer's core rejects before variables are read (`Template.Validate`, the minimum
/// version): Packer's console then goes on with no variables at all.
fn core_problems(template: &Template) -> Result<(), Vec<String>> {
    let mut problems: Vec<String> = template.validate().into_iter().map(|e| e.message).collect();
    if let Some(v) = &template.min_version {
        problems.extend(crate::plan::min_version_error(v));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The console's render context: no build, no `packer_version`, `build` unavailable.
fn console_context(template: &Template) -> Context {
    Context {
        packer_version: None,
        build_data: BuildData::Unavailable,
        ..crate::plan::base_context(template)
    }
}

/// The context with the template's variables resolved (Packer's `Initialize`).
fn context(
    template: &Template,
    values: &BTreeMap<String, String>,
    origins: &variables::Origins,
) -> Result<Context, Vec<String>> {
    let missing = variables::missing_required(template, values);
    if !missing.is_empty() {
        return Err(missing
            .iter()
            .map(|n| format!("required variable not set: {n}"))
            .collect());
    }
    let base = console_context(template);
    let user_vars = variables::resolve_from(template, values, origins, &base)?;
    Ok(Context { user_vars, ..base })
}

/// One evaluated line: its result, whether it asked to exit, and the problem, if any (an HCL2
/// problem is a rendered diagnostic).
struct Evaluated {
    result: String,
    exit: bool,
    problem: Option<String>,
    diagnostic: bool,
}

fn evaluate(line: &str, ev: &Evaluator) -> Evaluated {
    let ok = |result: String| Evaluated {
        result,
        exit: false,
        problem: None,
        diagnostic: false,
    };
    let ctx = match ev {
        Evaluator::Json(ctx) => ctx,
        Evaluator::Hcl2(c) => {
            return match line {
                "" => ok(String::new()),
                "exit" => Evaluated {
                    exit: true,
                    ..ok(String::new())
                },
                "help" => ok(HCL2_HELP.to_string()),
                expr => match c.eval(expr) {
                    Ok(r) => ok(r),
                    Err(d) => Evaluated {
                        problem: Some(d),
                        diagnostic: true,
                        ..ok(String::new())
                    },
                },
            };
        }
    };
    match line {
        "" => ok(String::new()),
        "exit" => Evaluated {
            exit: true,
            ..ok(String::new())
        },
        "help" => ok(CONSOLE_HELP.to_string()),
        "variables" => ok(ctx
            .user_vars
            .iter()
            .fold("\n".to_string(), |s, (k, v)| format!("{s}{k}: {v},\n"))),
        expr => match interp::render(expr, ctx) {
            Ok(r) => ok(r),
            Err(e) => Evaluated {
                problem: Some(e.message),
                ..ok(String::new())
            },
        },
    }
}

/// What `help` prints in an HCL2 template's console.
const HCL2_HELP: &str = "Packer console HCL2 Mode.
The Packer console allows you to experiment with Packer interpolations.
You may access variables and functions in the Packer config you called the
console with.

Type in the interpolation to test and hit <enter> to see the result.

\"upper(var.foo.id)\" will evaluate to the upper case of the id of var.foo.

\"data.amazon-ami.base.id\" will show the id of the image that data source found.

To exit the console, type \"exit\" and hit <enter>, or use Control-C.";

/// Reports a failed line: an HCL2 diagnostic as it is, else Packer's interpolation error.
fn report_evaluated(ui: &dyn Ui, e: &Evaluated) -> i32 {
    match &e.problem {
        Some(d) if e.diagnostic => {
            ui.error(&ui.mask(d));
            1
        }
        Some(p) => report(ui, p),
        None => 0,
    }
}

/// Reports a failed expression; returns the exit code it implies.
fn report(ui: &dyn Ui, detail: &str) -> i32 {
    let detail = wrap_string(&ui.mask(detail), 80);
    if persona::as_packer() {
        // Packer's diagnostic has no severity, which its writer labels `???????`.
        ui.say(&format!("???????: Interpolation error\n\n{detail}\n\n"));
        0
    } else {
        ui.error(&format!("Error: Interpolation error\n\n{detail}\n"));
        1
    }
}

/// Stdin is not a terminal: every line (trimmed) is evaluated, problems are reported as they
/// come, and the last line's result is printed.
fn piped(ui: &dyn Ui, ctx: &Evaluator, input: &mut dyn BufRead) -> i32 {
    let mut last = String::new();
    let mut code = 0;
    for line in input.lines() {
        let Ok(line) = line else { break };
        let e = evaluate(line.trim(), ctx);
        code = report_evaluated(ui, &e).max(code);
        last = e.result;
    }
    ui.message(&last);
    code
}

/// Neither a terminal nor a pipe (`< file`): Packer's line editor reads the input without a
/// prompt and each line's result is printed, up to `exit` or the end of the input.
fn edited(ui: &dyn Ui, ctx: &Evaluator, input: &mut dyn Read) -> i32 {
    let mut code = 0;
    let mut line: Vec<u8> = Vec::new();
    let mut bytes = std::io::BufReader::new(input).bytes();
    loop {
        let byte = match bytes.next() {
            Some(Ok(b)) => b,
            // The end of the input: a last line without its newline still counts.
            _ if !line.is_empty() => b'\n',
            _ => return code,
        };
        match byte {
            b'\r' | b'\n' => {
                let text = String::from_utf8_lossy(&std::mem::take(&mut line)).into_owned();
                let e = evaluate(&text, ctx);
                code = report_evaluated(ui, &e).max(code);
                if e.exit {
                    return code;
                }
                ui.say(&e.result);
            }
            // Backspace / delete: the last character (all bytes of a UTF-8 sequence).
            0x08 | 0x7f => while line.pop().is_some_and(|b| b & 0xc0 == 0x80) {},
            // Ctrl-C drops the line; Ctrl-D on an empty line ends the input.
            0x03 => line.clear(),
            0x04 if line.is_empty() => return code,
            0x04 => {}
            b => line.push(b),
        }
    }
}

/// A terminal: Packer's readline console. `> ` prompts and the line editor of [`line_edit`]
/// (history, cursor keys), each result printed, until `exit`, Ctrl-D or Ctrl-C on an empty
/// line. Where the terminal cannot be put in raw mode, the terminal's own line editing is used.
fn interactive(ui: &dyn Ui, ctx: &Evaluator, input: &mut dyn BufRead) -> i32 {
    let mut code = 0;
    let mut editor = line_edit::Editor::default();
    loop {
        let read = match line_edit::RawMode::enter() {
            Ok(raw) => {
                let r = editor.read_line("> ", input, &mut std::io::stdout().lock());
                drop(raw);
                r.unwrap_or(line_edit::Input::Eof)
            }
            Err(_) => cooked_line(input),
        };
        let line = match read {
            line_edit::Input::Line(l) => l,
            line_edit::Input::Interrupted(l) if l.is_empty() => return code,
            line_edit::Input::Interrupted(_) => continue,
            line_edit::Input::Eof => return code,
        };
        let e = evaluate(&line, ctx);
        code = report_evaluated(ui, &e).max(code);
        if e.exit {
            return code;
        }
        ui.say(&e.result);
    }
}

/// One line in the terminal's canonical mode (its own echo and erase keys).
fn cooked_line(input: &mut dyn BufRead) -> line_edit::Input {
    print!("> ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => {
            println!("exit");
            line_edit::Input::Eof
        }
        Ok(_) => {
            let line = line.strip_suffix('\n').unwrap_or(&line);
            line_edit::Input::Line(line.strip_suffix('\r').unwrap_or(line).to_string())
        }
    }
}
