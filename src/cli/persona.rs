//! Who rpack is being run as: `rpack` (its own voice: extra commands, warnings, clearer errors)
//! or `packer` (a symlink or copy named `packer`: Packer 1.6.6's exact output).

/// Whether the program was started under the name `packer` (see [`crate::ui::voice`]).
pub(crate) fn as_packer() -> bool {
    crate::ui::voice::as_packer()
}

/// `rpack --help`: the commands rpack has, its own included, and no others.
pub(crate) const RPACK_MAIN: &str = "Usage: rpack [--version] [--help] <command> [<args>]

Available commands are:
    build           build image(s) from template
    cleanup         remove what a killed build left behind (from its ledger)
    completions     print the shell completion script (bash, zsh, fish)
    console         creates a console for testing variable interpolation
    fix             fixes templates from old versions of packer
    fmt             rewrites HCL2 config files to canonical format
    hcl2_upgrade    transform a JSON template into an HCL2 configuration
    init            nothing to install: rpack needs no plugins
    inspect         see components of a template
    platform        build and manage Elastic Beanstalk custom platforms
    plugins         installed|required: rpack needs no plugins
    validate        check that a template is valid
    version         Prints the rpack version and the Packer version it is compatible with

Shell completion: `rpack completions bash|zsh|fish`, or `rpack -autocomplete-install`.
Called as `packer` (a link named packer), rpack behaves as Packer 1.6.6.
";

/// The main help for whoever rpack is run as.
pub(crate) fn main_help() -> &'static str {
    if as_packer() {
        super::help::MAIN
    } else {
        RPACK_MAIN
    }
}

/// The commit rpack was built from (build.rs), empty when the build did not know it.
pub(crate) const COMMIT: &str = env!("RPACK_COMMIT");

/// rpack's version, its short commit and the Packer version it stands in for:
/// `0.1.0 (commit 0123456789ab, compatible with Packer v1.6.6)` (`v` is `"v"` or `""`).
fn rpack_version(v: &str) -> String {
    let p = crate::PACKER_COMPAT_VERSION;
    let ours = env!("CARGO_PKG_VERSION");
    match COMMIT.get(..12) {
        Some(short) => format!("{ours} (commit {short}, compatible with Packer {v}{p})"),
        None => format!("{ours} (compatible with Packer {v}{p})"),
    }
}

/// `rpack --version`: rpack's own version and the Packer version it stands in for.
pub(crate) fn version_line() -> String {
    if as_packer() {
        crate::PACKER_COMPAT_VERSION.to_string()
    } else {
        format!("rpack {}", rpack_version(""))
    }
}

/// `rpack version`'s human line (`packer version` says `Packer v1.6.6`).
pub(crate) fn version_say() -> String {
    let p = crate::PACKER_COMPAT_VERSION;
    if as_packer() {
        format!("Packer v{p}")
    } else {
        format!("rpack v{}", rpack_version("v"))
    }
}

/// A command line as Packer 1.6.6's CLI library (mitchellh/cli) reads it, before the command
/// runs: flags are looked for up to a `--`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PackerCall {
    /// `-h`, `-help` or `--help`, anywhere.
    pub help: bool,
    /// `-v`, `-version` or `--version` before the command.
    pub version: bool,
    pub install: bool,
    pub uninstall: bool,
    /// Another flag before the command (refused: "Invalid flags before the subcommand").
    pub top_flags: bool,
    /// The first argument that is not a flag.
    pub command: Option<String>,
    /// Everything after the command, as given.
    pub args: Vec<String>,
}

impl PackerCall {
    pub(crate) fn read(argv: &[String]) -> Self {
        let mut call = Self::default();
        for (i, arg) in argv.iter().enumerate() {
            match arg.as_str() {
                "--" => break,
                "-h" | "-help" | "--help" => call.help = true,
                "-autocomplete-install" | "--autocomplete-install" => call.install = true,
                "-autocomplete-uninstall" | "--autocomplete-uninstall" => call.uninstall = true,
                "-v" | "-version" | "--version" if call.command.is_none() => call.version = true,
                a if call.command.is_none() && a.starts_with('-') => call.top_flags = true,
                a if call.command.is_none() && !a.is_empty() => {
                    call.command = Some(a.to_string());
                    call.args = argv[i + 1..].to_vec();
                }
                _ => {}
            }
        }
        call
    }
}

#[cfg(test)]
mod tests {
    use super::PackerCall;

    fn read(args: &[&str]) -> PackerCall {
        PackerCall::read(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn a_command_line_reads_like_mitchellh_cli() {
        let c = read(&["build", "-force", "t.json", "-h"]);
        assert!(c.help && !c.version && !c.top_flags);
        assert_eq!(c.command.as_deref(), Some("build"));
        assert_eq!(c.args, ["-force", "t.json", "-h"]);
        // A version flag after the command is the command's; before it, the CLI's.
        assert!(!read(&["version", "-v"]).version);
        assert!(read(&["-v", "build"]).version);
        assert!(read(&["-foo", "build", "t.json"]).top_flags);
        // Nothing after `--` is looked at.
        let c = read(&["--", "-v", "build"]);
        assert!(!c.version && c.command.is_none());
        let c = read(&["-autocomplete-install", "-h"]);
        assert!(c.install && c.help && c.command.is_none());
        assert_eq!(read(&["help", "build"]).command.as_deref(), Some("help"));
    }
}
