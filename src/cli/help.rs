//! Help texts, worded and laid out like Packer 1.6.6's so scripts and eyes see the same thing.

pub(super) const MAIN: &str = "Usage: packer [--version] [--help] <command> [<args>]

Available commands are:
    build           build image(s) from template
    console         creates a console for testing variable interpolation
    fix             fixes templates from old versions of packer
    fmt             Rewrites HCL2 config files to canonical format
    hcl2_upgrade    transform a JSON template into an HCL2 configuration
    inspect         see components of a template
    validate        check that a template is valid
    version         Prints the Packer version
";

pub(super) const VALIDATE: &str = "Usage: packer validate [options] TEMPLATE

  Checks the template is valid by parsing the template and also
  checking the configuration with the various builders, provisioners, etc.

  If it is not valid, the errors will be shown and the command will exit
  with a non-zero exit status. If it is valid, it will exit with a zero
  exit status.

Options:

  -syntax-only           Only check syntax. Do not verify config of the template.
  -except=foo,bar,baz    Validate all builds other than these.
  -only=foo,bar,baz      Validate only these builds.
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables. [ Note that even in HCL mode this expects file to contain JSON, a fix is comming soon ]";

pub(super) const INSPECT: &str = "Usage: packer inspect TEMPLATE

  Inspects a template, parsing and outputting the components a template
  defines. This does not validate the contents of a template (other than
  basic syntax by necessity).

Options:

  -machine-readable  Machine-readable output";

pub(super) const BUILD: &str = "Usage: packer build [options] TEMPLATE

  Will execute multiple builds in parallel as defined in the template.
  The various artifacts created by the template will be outputted.

Options:

  -color=false                  Disable color output. (Default: color)
  -debug                        Debug mode enabled for builds.
  -except=foo,bar,baz           Run all builds and post-processors other than these.
  -only=foo,bar,baz             Build only the specified builds.
  -force                        Force a build to continue if artifacts exist, deletes existing artifacts.
  -machine-readable             Produce machine-readable output.
  -on-error=[cleanup|abort|ask|run-cleanup-provisioner] If the build fails do: clean up (default), abort, ask, or run-cleanup-provisioner.
  -parallel-builds=1            Number of builds to run in parallel. 1 disables parallelization. 0 means no limit (Default: 0)
  -timestamp-ui                 Enable prefixing of each ui output with an RFC3339 timestamp.
  -var 'key=value'              Variable for templates, can be used multiple times.
  -var-file=path                JSON or HCL2 file containing user variables.";

/// `packer version -h` (Packer's version command has no usage line).
pub(super) const VERSION: &str = "Prints the Packer version, and checks for new release.";

/// `rpack version -h` and `rpack help version`.
pub(super) const VERSION_RPACK: &str = "Usage: rpack version

  Prints rpack's version and the Packer version it is compatible with.";

/// `packer hcl2_upgrade -h`: Packer 1.6.6's text, printed when called as `packer`.
pub(super) const HCL2_UPGRADE: &str =
    "Usage: packer hcl2_upgrade -output-file=JSON_TEMPLATE.pkr.hcl JSON_TEMPLATE...

  Will transform your JSON template into an HCL2 configuration.";

/// `packer fmt -h`: Packer 1.6.6's text, printed when called as `packer`.
pub(super) const FMT: &str = "Usage: packer fmt [options] [TEMPLATE]

  Rewrites all Packer configuration files to a canonical format. Both
  configuration files (.pkr.hcl) and variable files (.pkrvars.hcl) are updated.
  JSON files (.json) are not modified.

  If TEMPATE is \".\" the current directory will be used. The given content must
  be in Packer's HCL2 configuration language; JSON is not supported.

Options:
  -check        Check if the input is formatted. Exit status will be 0 if all
                 input is properly formatted and non-zero otherwise.

  -diff         Display diffs of formatting change

  -write=false  Don't write to source files
                (always disabled if using -check)";

/// `rpack validate -h`: Packer's text plus `-evaluate-datasources` and `-strict` (both of
/// which Packer 1.6.6 rejects), and a `-var-file` line that is true for rpack: a JSON template
/// takes JSON var files, an HCL2 template `.pkrvars.hcl` or JSON ones.
pub(super) const VALIDATE_RPACK: &str = "Usage: packer validate [options] TEMPLATE

  Checks the template is valid by parsing the template and also
  checking the configuration with the various builders, provisioners, etc.

  If it is not valid, the errors will be shown and the command will exit
  with a non-zero exit status. If it is valid, it will exit with a zero
  exit status.

Options:

  -syntax-only           Only check syntax. Do not verify config of the template.
  -evaluate-datasources  Evaluate data sources (HCL2 only; may call AWS). Off by default.
  -except=foo,bar,baz    Validate all builds other than these.
  -only=foo,bar,baz      Validate only these builds.
  -strict                Undefined user variables are errors, not warnings (also RPACK_STRICT=1).
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables (HCL2 only for an HCL2 template).";

/// `rpack build -h`: like [`VALIDATE_RPACK`], Packer's text plus `-strict` and a true
/// `-var-file` line.
pub(super) const BUILD_RPACK: &str = "Usage: packer build [options] TEMPLATE

  Will execute multiple builds in parallel as defined in the template.
  The various artifacts created by the template will be outputted.

Options:

  -color=false                  Disable color output. (Default: color)
  -debug                        Debug mode enabled for builds.
  -except=foo,bar,baz           Run all builds and post-processors other than these.
  -only=foo,bar,baz             Build only the specified builds.
  -force                        Force a build to continue if artifacts exist, deletes existing artifacts.
  -machine-readable             Produce machine-readable output.
  -on-error=[cleanup|abort|ask|run-cleanup-provisioner] If the build fails do: clean up (default), abort, ask, or run-cleanup-provisioner.
  -parallel-builds=1            Number of builds to run in parallel. 1 disables parallelization. 0 means no limit (Default: 0)
  -strict                       Undefined user variables are errors, not warnings (also RPACK_STRICT=1).
  -timestamp-ui                 Enable prefixing of each ui output with an RFC3339 timestamp.
  -var 'key=value'              Variable for templates, can be used multiple times.
  -var-file=path                JSON or HCL2 file containing user variables (HCL2 only for an HCL2 template).";

/// `validate`'s help for whoever rpack is run as.
pub(super) fn validate() -> &'static str {
    if super::persona::as_packer() {
        VALIDATE
    } else {
        VALIDATE_RPACK
    }
}

/// `build`'s help for whoever rpack is run as.
pub(super) fn build() -> &'static str {
    if super::persona::as_packer() {
        BUILD
    } else {
        BUILD_RPACK
    }
}

/// `version`'s help for whoever rpack is run as.
pub(super) fn version() -> &'static str {
    if super::persona::as_packer() {
        VERSION
    } else {
        VERSION_RPACK
    }
}
