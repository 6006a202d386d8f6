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
mod fmt;
mod hcl2_upgrade;
mod help;
mod init;
mod inspect;
mod inspect_hcl2;
mod line_edit;
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
        self.ui_coloured(secrets, true)
    }

    /// [`Output::ui`], with colour for diagnostics only when `allow` (`build -color=false`
    /// turns it off) and a person reads stderr.
    pub fn ui_coloured(&self, secrets: Secrets, allow: bool) -> Box<dyn Ui> {
        if self.machine {
            Box::new(MachineUi::new(self.sink.clone(), secrets))
        } else {
            let colour =
                allow && matches!(self.sink, Sink::Std) && crate::ui::stderr_wants_colour();
            Box::new(BasicUi::new(self.sink.clone(), secrets).with_colour(colour))
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
    warn_short_secrets(&*ui);
    (checked, base, ui)
}

/// Says once per run that a sensitive value is too short to be masked inside other text (see
/// [`crate::ui::secrets::MIN_SUBSTRING`]). Called as `packer`, nothing is added to Packer's
/// output.
fn warn_short_secrets(ui: &dyn Ui) {
    if persona::as_packer() {
        return;
    }
    if let Some(w) = crate::ui::secrets::take_short_warning() {
        ui.error(&w);
    }
}

/// Runs one command line (without the program name) and returns the exit code.
pub fn run(argv: Vec<String>, sink: Sink) -> i32 {
    let (argv, machine) = args::strip_machine_readable(argv);
    let out = Output { machine, sink };
    if persona::as_packer() {
        return run_as_packer(&out, &argv);
    }
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
        "-autocomplete-install" | "--autocomplete-install" if !asks_help(rest) => {
            completions::autocomplete(&*ui, true)
        }
        "-autocomplete-uninstall" | "--autocomplete-uninstall" if !asks_help(rest) => {
            completions::autocomplete(&*ui, false)
        }
        // `-autocomplete-install -h` asks for help, as with Packer (nothing is installed).
        "-h"
        | "--help"
        | "-help"
        | "-autocomplete-install"
        | "--autocomplete-install"
        | "-autocomplete-uninstall"
        | "--autocomplete-uninstall" => {
            say_main_help(&*ui);
            0
        }
        "help" => {
            if let Some(text) = rest.first().and_then(|c| command_help(c)) {
                say_ok(&*ui, &text)
            } else {
                say_main_help(&*ui);
                0
            }
        }
        cmd => match command_help(cmd) {
            Some(text) if cmd != "platform" => {
                with_help(&*ui, rest, &text, || run_command(&out, cmd, rest))
            }
            // `platform` has subcommands, each with its own help.
            Some(_) => run_command(&out, cmd, rest),
            None => {
                say_main_help(&*ui);
                EXIT_UNKNOWN_COMMAND
            }
        },
    }
}

/// The help text of command `name`, `None` when there is no such command (for whoever rpack is
/// run as: called as `packer`, only Packer 1.6.6's commands exist).
fn command_help(name: &str) -> Option<String> {
    let text = match name {
        "validate" => help::validate(),
        "inspect" => help::INSPECT,
        "build" => help::build(),
        "fix" => return Some(fix::help()),
        "console" => console::HELP,
        "version" => help::version(),
        "fmt" => fmt::help(),
        "hcl2_upgrade" if persona::as_packer() => help::HCL2_UPGRADE,
        "hcl2_upgrade" => hcl2_upgrade::HELP,
        "completions" if !persona::as_packer() => completions::HELP,
        "init" | "plugins" if !persona::as_packer() => init::HELP,
        "cleanup" if !persona::as_packer() => cleanup::HELP,
        "platform" if !persona::as_packer() => platform::HELP,
        _ => return None,
    };
    Some(text.to_string())
}

/// Runs command `cmd` (one [`command_help`] knows) with its arguments.
fn run_command(out: &Output, cmd: &str, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    match cmd {
        "version" => version(&*ui),
        "validate" => validate::run(out, rest),
        "inspect" => inspect::run(out, rest),
        "build" => build::run(out, rest),
        "fix" => fix::run(out, rest),
        "console" => console::run(out, rest),
        "completions" => completions::run(&*ui, rest),
        "cleanup" => cleanup::run(out, rest),
        "platform" => platform::run(out, rest),
        "init" => init::init(&*ui, rest),
        "plugins" => init::plugins(&*ui, rest),
        "fmt" => fmt::run(out, rest),
        "hcl2_upgrade" => hcl2_upgrade::run(out, rest, &command_help(cmd).unwrap_or_default()),
        _ => {
            say_main_help(&*ui);
            EXIT_UNKNOWN_COMMAND
        }
    }
}

/// Called as `packer`: the command line as Packer 1.6.6's CLI library (mitchellh/cli) reads
/// it. Flags are looked for up to a `--`: `-h`/`-help`/`--help` anywhere asks for help,
/// `-v`/`-version`/`--version` before the command for the version, and other flags before the
/// command are refused; `help` is no command (exit 127, as any unknown command).
fn run_as_packer(out: &Output, argv: &[String]) -> i32 {
    // The library writes its help texts straight to stdout, also with `-machine-readable`.
    let raw = BasicUi::new(out.sink.clone(), Secrets::default());
    let call = persona::PackerCall::read(argv);
    if call.version {
        raw.say(&persona::version_line());
        return 0;
    }
    if call.help && call.command.is_none() {
        say_main_help(&raw);
        return 0;
    }
    let ui = out.ui(Secrets::default());
    match (call.install, call.uninstall) {
        // Packer exits 1 without a word.
        (true, true) => return 1,
        (true, false) => return completions::autocomplete(&*ui, true),
        (false, true) => return completions::autocomplete(&*ui, false),
        (false, false) => {}
    }
    let cmd = call.command.as_deref().unwrap_or("");
    let Some(text) = command_help(cmd) else {
        say_main_help(&raw);
        return EXIT_UNKNOWN_COMMAND;
    };
    if call.help {
        return say_ok(&raw, &text);
    }
    if call.top_flags {
        raw.say(&format!(
            "Invalid flags before the subcommand. If these flags are for\n\
             the subcommand, please put them after the subcommand.\n\n{text}"
        ));
        return 1;
    }
    run_command(out, cmd, &call.args)
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

/// Whether `-h`/`-help`/`--help` is among the arguments (up to a `--`).
fn asks_help(rest: &[String]) -> bool {
    rest.iter()
        .take_while(|a| *a != "--")
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
}

/// `-h`/`-help`/`--help` anywhere among a command's flags prints its help (exit 0).
fn with_help(ui: &dyn Ui, rest: &[String], text: &str, f: impl FnOnce() -> i32) -> i32 {
    if asks_help(rest) {
        return say_ok(ui, text);
    }
    f()
}

/// Packer's usage failure: the command's help, then what was wrong (on stderr; on stdout, as
/// Packer prints it, when called as `packer`); exit 1.
pub(crate) fn usage_error(ui: &dyn Ui, text: &str, err: &args::UsageError) -> i32 {
    ui.say(text);
    match &err.0 {
        // Packer 1.6.6 prints the flag error after the usage, on stdout like its other errors.
        Some(msg) if persona::as_packer() => ui.error_on_stdout(msg),
        Some(msg) => ui.error(msg),
        None => {}
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
