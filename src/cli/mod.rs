//! The command line: Packer's single-dash flags and GNU double-dash both accepted, `packer`
//! argv[0] behaves identically, exit codes as Packer (0 ok, 1 error, 127 unknown command).
//!
//! `main` turns argv into checked settings ([`args`]), runs one command and returns its exit
//! code; every command prints through a [`Ui`](crate::ui::Ui).

pub mod args;
mod build;
mod cleanup;
mod completions;
mod console;
mod diags;
mod fix;
mod help;
mod init;
mod inspect;
pub mod manual;
pub(crate) mod persona;
mod platform;
mod validate;

use crate::plan;
use crate::ui::{BasicUi, MachineUi, Secrets, Sink, Ui};

/// Exit code for an unknown command (mitchellh/cli's).
const EXIT_UNKNOWN_COMMAND: i32 = 127;

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> i32 {
    // The shell asks for completions (installed by `-autocomplete-install`).
    if let Some(line) = std::env::var_os("COMP_LINE") {
        let point = std::env::var("COMP_POINT")
            .ok()
            .and_then(|p| p.parse().ok());
        for c in completions::answer(&line.to_string_lossy(), point) {
            println!("{c}");
        }
        return 0;
    }
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    run(argv, Sink::Std)
}

/// How a command prints: human or machine-readable, with sensitive values masked.
pub struct Output {
    pub machine: bool,
    sink: Sink,
}

impl Output {
    pub fn ui(&self, secrets: Secrets) -> Box<dyn Ui> {
        if self.machine {
            Box::new(MachineUi::new(self.sink.clone(), secrets))
        } else {
            Box::new(BasicUi::new(self.sink.clone(), secrets))
        }
    }
}

/// Checks the builds `targs` selects in `loaded` (Packer's `GetBuilds`). Returns the result,
/// the context it was checked in, and a UI that masks the sensitive variables' resolved values.
/// Like Packer, values are only masked once variables were resolved (a template that fails
/// earlier prints its messages unmasked, so a secret "1" does not turn "1 error" into noise).
fn check_builds(
    out: &Output,
    loaded: &plan::Loaded,
    targs: &args::TemplateArgs,
) -> (plan::Checked, crate::template::interp::Context, Box<dyn Ui>) {
    let options = plan::Options {
        only: targs.only.clone(),
        except: targs.except.clone(),
        strict: targs.strict,
        report_undefined: !persona::as_packer(),
    };
    let (checked, base) = plan::load::check_builds(loaded, &options);
    let ui = out.ui(Secrets::new(plan::load::sensitive_values(
        &loaded.template,
        &checked.user_vars,
    )));
    (checked, base, ui)
}

/// Runs one command line (without the program name) and returns the exit code.
pub fn run(argv: Vec<String>, sink: Sink) -> i32 {
    let (argv, machine) = args::strip_machine_readable(argv);
    let out = Output { machine, sink };
    let ui = out.ui(Secrets::default());
    let Some(cmd) = argv.first().cloned() else {
        say_main_help(&*ui);
        return EXIT_UNKNOWN_COMMAND;
    };
    let rest = &argv[1..];
    match cmd.as_str() {
        "-v" | "--version" | "-version" => {
            ui.say(&persona::version_line());
            0
        }
        "-autocomplete-install" | "--autocomplete-install" => completions::autocomplete(&*ui, true),
        "-autocomplete-uninstall" | "--autocomplete-uninstall" => {
            completions::autocomplete(&*ui, false)
        }
        "-h" | "--help" | "-help" => {
            say_main_help(&*ui);
            0
        }
        "help" => match rest.first().map(String::as_str) {
            Some("validate") => say_ok(&*ui, help::VALIDATE),
            Some("inspect") => say_ok(&*ui, help::INSPECT),
            Some("build") => say_ok(&*ui, help::BUILD),
            Some("fix") => say_ok(&*ui, &fix::help()),
            Some("console") => say_ok(&*ui, console::HELP),
            Some("completions") if !persona::as_packer() => say_ok(&*ui, completions::HELP),
            Some("init" | "plugins") if !persona::as_packer() => say_ok(&*ui, init::HELP),
            Some("version") => say_ok(&*ui, help::VERSION),
            Some("cleanup") => say_ok(&*ui, cleanup::HELP),
            Some("platform") => say_ok(&*ui, platform::HELP),
            _ => {
                say_main_help(&*ui);
                0
            }
        },
        "version" => version(&*ui),
        "validate" => with_help(&*ui, rest, help::VALIDATE, || validate::run(&out, rest)),
        "inspect" => with_help(&*ui, rest, help::INSPECT, || inspect::run(&out, rest)),
        "build" => with_help(&*ui, rest, help::BUILD, || build::run(&out, rest)),
        "fix" => with_help(&*ui, rest, &fix::help(), || fix::run(&out, rest)),
        "console" => with_help(&*ui, rest, console::HELP, || console::run(&out, rest)),
        "completions" if !persona::as_packer() => with_help(&*ui, rest, completions::HELP, || {
            completions::run(&*ui, rest)
        }),
        "cleanup" => with_help(&*ui, rest, cleanup::HELP, || cleanup::run(&out, rest)),
        "platform" => platform::run(&out, rest),
        "init" if !persona::as_packer() => {
            with_help(&*ui, rest, init::HELP, || init::init(&*ui, rest))
        }
        "plugins" if !persona::as_packer() => {
            with_help(&*ui, rest, init::HELP, || init::plugins(&*ui, rest))
        }
        _ => {
            say_main_help(&*ui);
            EXIT_UNKNOWN_COMMAND
        }
    }
}

/// The main help; as `packer` exactly Packer's bytes (which end in a blank line).
fn say_main_help(ui: &dyn Ui) {
    if persona::as_packer() {
        ui.say(help::MAIN);
    } else {
        ui.say(persona::main_help().trim_end());
    }
}

fn say_ok(ui: &dyn Ui, text: &str) -> i32 {
    ui.say(text);
    0
}

/// `-h`/`-help`/`--help` anywhere among a command's flags prints its help (exit 0).
fn with_help(ui: &dyn Ui, rest: &[String], text: &str, f: impl FnOnce() -> i32) -> i32 {
    let flags = rest.iter().take_while(|a| *a != "--");
    if flags
        .into_iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        return say_ok(ui, text);
    }
    f()
}

/// Packer's usage failure: the command's help, then what was wrong; exit 1.
pub(crate) fn usage_error(ui: &dyn Ui, text: &str, err: &args::UsageError) -> i32 {
    ui.say(text);
    if let Some(msg) = &err.0 {
        ui.error(msg);
    }
    1
}

fn version(ui: &dyn Ui) -> i32 {
    let v = crate::PACKER_COMPAT_VERSION;
    ui.machine("", "version", &[v]);
    ui.machine("", "version-prelease", &[""]);
    ui.machine("", "version-commit", &[persona::COMMIT]);
    ui.say(&persona::version_say());
    0
}
