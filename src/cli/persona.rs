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
    init            nothing to install: rpack needs no plugins
    inspect         see components of a template
    platform        build and manage Elastic Beanstalk custom platforms
    plugins         installed|required: rpack needs no plugins
    validate        check that a template is valid
    version         Prints the rpack version and the Packer version it is compatible with

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

/// `rpack --version`: rpack's own version and the Packer version it stands in for.
pub(crate) fn version_line() -> String {
    if as_packer() {
        crate::PACKER_COMPAT_VERSION.to_string()
    } else {
        format!(
            "rpack {} (compatible with Packer {})",
            env!("CARGO_PKG_VERSION"),
            crate::PACKER_COMPAT_VERSION
        )
    }
}
