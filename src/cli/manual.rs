//! The whole command line as one clap [`Command`], assembled from each command's own definition,
//! for what is generated from it: shell completions and man pages (`examples/dist_docs.rs`, run
//! by `scripts/release.sh`). Parsing never goes through it: each command parses its own
//! arguments after the Packer-style normalisation of [`args`](super::args).

use clap::Command;

use super::{args, cleanup, completions, console, help, persona, platform};

/// The one-line description of `name` in `rpack --help` (the single source of those lines).
fn about(name: &str) -> String {
    persona::RPACK_MAIN
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .find_map(|l| {
            let (cmd, text) = l.split_once(' ')?;
            (cmd == name).then(|| text.trim().to_string())
        })
        .unwrap_or_default()
}

/// `fix`'s help, built once from the fixer list (clap keeps a `&'static str`).
static FIX_HELP: std::sync::LazyLock<String> = std::sync::LazyLock::new(super::fix::help);

/// `cmd` as a subcommand of `rpack`: its description, and the text `rpack CMD -h` prints.
fn sub(cmd: Command, long_help: &'static str) -> Command {
    let name = cmd.get_name().to_string();
    cmd.about(about(&name))
        .after_long_help(long_help)
        .no_binary_name(false)
}

/// `rpack` with every command it has (as `rpack`; called as `packer` it offers Packer's subset).
pub fn command() -> Command {
    Command::new("rpack")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A fast, leak-free drop-in for HashiCorp Packer (JSON and HCL2 templates, amazon-ebs, Elastic Beanstalk custom platforms)")
        .long_about(persona::RPACK_MAIN)
        .subcommand_required(true)
        .disable_help_subcommand(true)
        .subcommand(sub(args::build_command(), help::BUILD_RPACK))
        .subcommand(sub(cleanup::command(), cleanup::HELP))
        .subcommand(sub(
            Command::new("completions").arg(
                clap::Arg::new("shell")
                    .required(true)
                    .value_parser(["bash", "zsh", "fish"]),
            ),
            completions::HELP,
        ))
        .subcommand(sub(args::console_command(), console::HELP))
        .subcommand(sub(args::fix_command(), FIX_HELP.as_str()))
        .subcommand(sub(args::fmt_command(), super::fmt::HELP_RPACK))
        .subcommand(sub(args::hcl2_upgrade_command(), super::hcl2_upgrade::HELP))
        .subcommand(sub(Command::new("init"), super::init::HELP))
        .subcommand(sub(args::inspect_command(), help::INSPECT))
        .subcommand(sub(platform::command(), platform::HELP))
        .subcommand(
            sub(Command::new("plugins"), super::init::HELP)
                .subcommand(Command::new("installed"))
                .subcommand(Command::new("required")),
        )
        .subcommand(sub(args::validate_command(), help::VALIDATE_RPACK))
        .subcommand(sub(Command::new("version"), help::VERSION_RPACK))
        .subcommand(
            Command::new("help")
                .about("Prints the help of a command")
                .subcommand(Command::new("build"))
                .subcommand(Command::new("cleanup"))
                .subcommand(Command::new("completions"))
                .subcommand(Command::new("console"))
                .subcommand(Command::new("fix"))
                .subcommand(Command::new("fmt"))
                .subcommand(Command::new("hcl2_upgrade"))
                .subcommand(Command::new("init"))
                .subcommand(Command::new("inspect"))
                .subcommand(Command::new("platform"))
                .subcommand(Command::new("plugins"))
                .subcommand(Command::new("validate"))
                .subcommand(Command::new("version")),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_the_main_help_is_there_with_its_description() {
        let cmd = command();
        cmd.clone().debug_assert();
        let listed: Vec<&str> = persona::RPACK_MAIN
            .lines()
            .filter_map(|l| l.strip_prefix("    "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(listed.len() >= 8, "{listed:?}");
        for name in listed {
            let sub = cmd
                .find_subcommand(name)
                .unwrap_or_else(|| panic!("{name} is missing"));
            let about = sub
                .get_about()
                .map(std::string::ToString::to_string)
                .unwrap_or_default();
            assert!(!about.is_empty(), "{name} has no description");
        }
        let build = cmd.find_subcommand("build").unwrap();
        assert!(build.get_arguments().any(|a| a.get_id() == "on-error"));
    }
}
