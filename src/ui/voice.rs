//! Whose voice rpack speaks in: its own (`rpack`: clearer errors, hints, extra commands) or
//! Packer 1.6.6's exact words (started under the name `packer`, e.g. through a symlink). Lower
//! layers ask here when they word a message; the CLI asks here for its commands and help.

use std::sync::OnceLock;

/// Whether the program was started under the name `packer` (`packer`, `/usr/bin/packer`,
/// `packer.exe`).
pub fn as_packer() -> bool {
    static AS_PACKER: OnceLock<bool> = OnceLock::new();
    *AS_PACKER.get_or_init(|| {
        std::env::args_os()
            .next()
            .is_some_and(|a| is_packer_name(&a.to_string_lossy()))
    })
}

fn is_packer_name(argv0: &str) -> bool {
    let base = argv0.rsplit(['/', '\\']).next().unwrap_or(argv0);
    let stem = base.strip_suffix(".exe").unwrap_or(base);
    stem == "packer"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_program_named_packer_speaks_as_packer() {
        assert!(is_packer_name("packer"));
        assert!(is_packer_name("/usr/local/bin/packer"));
        assert!(is_packer_name("C:\\tools\\packer.exe"));
        assert!(!is_packer_name("rpack"));
        assert!(!is_packer_name("/opt/packer/rpack"));
        assert!(!is_packer_name("packer-1.6.6"));
    }
}
