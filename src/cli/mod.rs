//! The command line: Packer's single-dash flags and GNU double-dash both accepted, `packer`
//! argv[0] behaves identically, exit codes as Packer (0 ok, 1 error, 127 unknown command).

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> i32 {
    0
}
