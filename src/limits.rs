//! Hard bounds on what untrusted input may cost: how big an input file may be (and that it must
//! be a regular file, so a FIFO or a device can never hang or flood a `validate`), and how big a
//! rendered value and all user variables together may grow.
//!
//! Both bounds are generous by default and can be changed in the environment:
//! * `RPACK_MAX_INPUT_MIB` (default 64): largest template, `-var-file`, stdin template or
//!   platform file that is read whole;
//! * `RPACK_MAX_VALUE_MIB` (default 64): largest rendered value, and largest total of all user
//!   variables after rendering.
//!
//! SSH private key files have a fixed bound of [`MAX_KEY_FILE`].

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// The largest private key file read (real keys are a few KiB).
pub(crate) const MAX_KEY_FILE: u64 = 1 << 20;

const DEFAULT_MIB: u64 = 64;

fn mib_from_env(name: &str, cell: &'static OnceLock<u64>) -> u64 {
    *cell.get_or_init(|| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .map_or(DEFAULT_MIB << 20, |n| n.saturating_mul(1 << 20))
    })
}

/// The largest input file read whole, in bytes (`RPACK_MAX_INPUT_MIB`).
pub(crate) fn max_input() -> u64 {
    static CELL: OnceLock<u64> = OnceLock::new();
    mib_from_env("RPACK_MAX_INPUT_MIB", &CELL)
}

/// The largest rendered value and total of user variables, in bytes (`RPACK_MAX_VALUE_MIB`).
pub(crate) fn max_value() -> usize {
    static CELL: OnceLock<u64> = OnceLock::new();
    usize::try_from(mib_from_env("RPACK_MAX_VALUE_MIB", &CELL)).unwrap_or(usize::MAX)
}

/// Why an input file was not read. `Display` names the file and what it is for.
#[derive(Debug)]
pub(crate) enum InputError {
    /// open/read failed; the text is Go's (`open x: no such file or directory`).
    Io(String),
    /// Not a regular file (FIFO, device, socket, directory).
    NotRegular {
        what: String,
        path: String,
        kind: &'static str,
    },
    TooLarge {
        what: String,
        path: String,
        limit: u64,
        env: &'static str,
    },
    /// A text input that is not UTF-8, with the 1-based line and column of the first bad byte.
    Utf8 {
        path: String,
        line: usize,
        col: usize,
    },
}

impl std::error::Error for InputError {}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(text) => f.write_str(text),
            InputError::NotRegular { what, path, kind } => {
                write!(
                    f,
                    "{what} {path} is {kind}, not a regular file; refusing to read it"
                )
            }
            InputError::TooLarge {
                what,
                path,
                limit,
                env,
            } => {
                write!(f, "{what} {path} is larger than {}", human(*limit))?;
                if !env.is_empty() {
                    write!(f, " (the limit; set {env} to raise it)")?;
                }
                Ok(())
            }
            InputError::Utf8 { path, line, col } => {
                write!(
                    f,
                    "{path}:{line}:{col}: invalid UTF-8 (the file must be UTF-8 text)"
                )
            }
        }
    }
}

/// Reads a UTF-8 text input (platform.yaml, workspace configuration, …) like [`read_file`] with
/// the [`max_input`] bound; invalid UTF-8 is an error naming the file, line and column.
pub(crate) fn read_text(path: &Path, what: &str) -> Result<String, InputError> {
    let bytes = read_file(path, what, max_input(), |e| {
        format!("open {}: {e}", path.display())
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        InputError::Utf8 {
            path: path.display().to_string(),
            line,
            col,
        }
    })
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// What kind of non-regular file `ft` is, in words.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Reads `path` whole if it is a regular file of at most `limit` bytes. `what` names the input
/// in messages ("template", "var file", …). The file is opened without blocking (a FIFO without
/// a writer would otherwise hang the open) and its type is checked on the opened descriptor.
/// `io_text` turns an I/O error into the caller's (Go-compatible) wording.
pub(crate) fn read_file(
    path: &Path,
    what: &str,
    limit: u64,
    io_text: impl Fn(&std::io::Error) -> String,
) -> Result<Vec<u8>, InputError> {
    let env = if what.contains("key") {
        ""
    } else {
        "RPACK_MAX_INPUT_MIB"
    };
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| InputError::Io(io_text(&e)))?;
    let meta = file.metadata().map_err(|e| InputError::Io(io_text(&e)))?;
    if !meta.file_type().is_file() {
        return Err(InputError::NotRegular {
            what: what.to_string(),
            path: shown,
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            what: what.to_string(),
            path: shown,
            limit,
            env,
        });
    }
    read_capped(file, &shown, what, limit, env, &io_text)
}

/// Reads standard input up to `limit` bytes.
pub(crate) fn read_stdin(what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    read_capped(
        std::io::stdin().lock(),
        "(stdin)",
        what,
        limit,
        "RPACK_MAX_INPUT_MIB",
        &|e: &std::io::Error| e.to_string(),
    )
}

fn read_capped(
    r: impl Read,
    shown: &str,
    what: &str,
    limit: u64,
    env: &'static str,
    io_text: &dyn Fn(&std::io::Error) -> String,
) -> Result<Vec<u8>, InputError> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| InputError::Io(io_text(&e)))?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            what: what.to_string(),
            path: shown.to_string(),
            limit,
            env,
        });
    }
    Ok(buf)
}

/// A rendered value or the total of the user variables grew past [`max_value`].
pub(crate) fn value_too_large(name: &str, len: usize, total: bool) -> String {
    let limit = max_value();
    if total {
        format!(
            "user variables are {} bytes in total once \"{name}\" is rendered, more than the {} limit \
             (set RPACK_MAX_VALUE_MIB to raise it)",
            len,
            human(limit as u64)
        )
    } else {
        format!(
            "user variable \"{name}\" renders to {len} bytes, more than the {} limit (set RPACK_MAX_VALUE_MIB to raise it)",
            human(limit as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(e: &std::io::Error) -> String {
        e.to_string()
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_file(&fifo, "var file", 1 << 20, go).unwrap_err();
        assert!(
            e.to_string()
                .contains("is a named pipe (FIFO), not a regular file"),
            "{e}"
        );
        let e = read_file(dir.path(), "template", 1 << 20, go).unwrap_err();
        assert!(e.to_string().starts_with("template "), "{e}");
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_file(Path::new("/dev/zero"), "key file", MAX_KEY_FILE, go).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
    }

    #[test]
    fn caps_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.json");
        std::fs::write(&f, vec![b' '; 4096]).unwrap();
        let e = read_file(&f, "template", 4095, go).unwrap_err();
        assert!(e.to_string().contains("is larger than 4095 bytes"), "{e}");
        assert_eq!(read_file(&f, "template", 4096, go).unwrap().len(), 4096);
        std::fs::write(&f, b"a: 1\nb: x\xff\n").unwrap();
        let e = read_text(&f, "platform file").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}:2:5: invalid UTF-8 (the file must be UTF-8 text)",
                f.display()
            )
        );
        let short = read_capped(&b"abcdef"[..], "(stdin)", "template", 3, "X", &go).unwrap_err();
        assert!(short.to_string().contains("(stdin) is larger than 3 bytes"));
    }
}
