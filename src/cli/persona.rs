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
