//! Shell quoting where Packer does not quote (rpack differences, noted in README): the remote
//! script paths of the `shell` provisioner (`chmod`, `rm -f`, the default `execute_command`), the
//! script path in `shell-local`'s default `sh -c` line, and env var names, which must be shell
//! names. Paths made only of characters the shell leaves alone are used as is, so ordinary
//! commands read exactly like Packer's.

use crate::communicator::ssh::shell_quote;

/// `path` quoted for the POSIX shell when it holds anything but `[A-Za-z0-9_./,:=@%+-]` (a
/// leading `~/` stays expandable).
pub(crate) fn quote_path(path: &str) -> String {
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./,:=@%+-".contains(c))
    };
    match path.strip_prefix("~/") {
        Some(rest) if plain(rest) => path.to_string(),
        None if plain(path) => path.to_string(),
        _ => shell_quote(path),
    }
}

/// Whether `name` is a shell variable name (`[A-Za-z_][A-Za-z0-9_]*`); `A;cmd;B` is not.
pub(crate) fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_as_packer_prints_them() {
        assert_eq!(quote_path("/tmp/script_123.sh"), "/tmp/script_123.sh");
        assert_eq!(quote_path("~/x/s.sh"), "~/x/s.sh");
    }

    #[test]
    fn other_paths_are_one_shell_word() {
        assert_eq!(
            quote_path("/tmp/x/decoy x/script_1.sh"),
            "'/tmp/x/decoy x/script_1.sh'"
        );
        assert_eq!(quote_path("/a;rm -rf b/$(id)"), "'/a;rm -rf b/$(id)'");
        assert_eq!(quote_path("/it's"), r#"'/it'"'"'s'"#);
        assert_eq!(quote_path("~/a b"), "~/'a b'");
        assert_eq!(quote_path(""), "''");
    }

    #[test]
    fn shell_names() {
        for ok in ["A", "_x", "PATH_2", "a1"] {
            assert!(is_shell_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A;cmd;B", "A B", "A-B", "A=B", "É"] {
            assert!(!is_shell_name(bad), "{bad}");
        }
    }
}
