//! Debug logs through `tracing`, switched on like Packer's: `RPACK_LOG` or `PACKER_LOG` set to
//! anything but "" or "0" logs to stderr, or to the file named by `RPACK_LOG_PATH` /
//! `PACKER_LOG_PATH`. `RPACK_LOG` may also be a filter (`rpack=debug,aws_smithy=info`).
//!
//! Every record goes through [`Masked`], which replaces the secrets registered with
//! [`crate::ui::secrets::register`] by `<sensitive>` (like Packer's `LogSecretFilter`), and the
//! log file is readable by its owner only: created 0600, an existing one narrowed, never
//! opened through a symbolic link, and refused when it is not a regular file of this user.

use std::io::Write;
use std::sync::{Arc, Mutex};

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty() && v != "0")
}

/// Installs the subscriber when logging is asked for; otherwise does nothing (no cost).
pub fn init() {
    let Some(level) = env("RPACK_LOG").or_else(|| env("PACKER_LOG")) else {
        return;
    };
    // "1"/"true" mean "debug logs of rpack"; anything else is taken as a filter directive.
    let filter = if matches!(level.as_str(), "1" | "true" | "yes" | "on") {
        "rpack=debug,info".to_string()
    } else {
        level
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("rpack=debug,info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(true);
    match env("RPACK_LOG_PATH").or_else(|| env("PACKER_LOG_PATH")) {
        Some(path) => match open_log(&path) {
            Ok(file) => {
                let file = Arc::new(Mutex::new(file));
                let _ = builder
                    .with_writer(move || Masked::new(Target::File(file.clone())))
                    .try_init();
            }
            Err(e) => {
                eprintln!("rpack: cannot open log file {path}: {e}; logging to stderr");
                let _ = builder
                    .with_writer(|| Masked::new(Target::Stderr))
                    .try_init();
            }
        },
        None => {
            let _ = builder
                .with_writer(|| Masked::new(Target::Stderr))
                .try_init();
        }
    }
}

/// Opens (appending) the log file: created with mode 0600; never through a symbolic link
/// (`O_NOFOLLOW`); refused unless it is a regular file owned by this user; an existing file
/// open to group or others is narrowed to its owner's bits (`fchmod`; 0644 becomes 0600)
/// before anything is written to it.
fn open_log(path: &str) -> std::io::Result<std::fs::File> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
    let refused = |why: String| Error::new(ErrorKind::InvalidInput, why);
    // O_NONBLOCK: opening a FIFO must not wait for a reader (it is refused below).
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refused(format!(
                "{path} is a symbolic link; the log is not written through one (name the \
                 file itself)"
            )),
            Some(libc::ENXIO) => refused(format!("{path} is not a regular file (a FIFO)")),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refused(format!(
            "{path} is not a regular file; the log must be one"
        )));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(refused(format!(
            "{path} is owned by uid {}, not by this user (uid {me}); remove it or name another \
             file",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o700))?;
    }
    Ok(file)
}

enum Target {
    Stderr,
    File(Arc<Mutex<std::fs::File>>),
}

/// One log record: buffered, then masked and written whole when dropped (the formatter writes
/// each record through a fresh writer).
struct Masked {
    buf: Vec<u8>,
    target: Target,
}

impl Masked {
    fn new(target: Target) -> Self {
        Masked {
            buf: Vec::new(),
            target,
        }
    }
}

impl Write for Masked {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Masked {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = crate::ui::secrets::mask_global(&String::from_utf8_lossy(&self.buf));
        let _ = match &self.target {
            Target::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
            Target::File(f) => f
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .write_all(text.as_bytes()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_is_owner_only_and_records_are_masked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpack.log");
        let file = open_log(path.to_str().unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        crate::ui::secrets::register("LOG-canary-51d2 with spaces");
        let target = Target::File(Arc::new(Mutex::new(file)));
        let mut w = Masked::new(target);
        w.write_all(b"DEBUG ui: out: LOG-canary-51d2 ").unwrap();
        w.write_all(b"with spaces and more\n").unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "DEBUG ui: out: <sensitive> and more\n");
    }

    fn mode(p: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_log_is_narrowed_to_0600_and_appended_to() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.log");
        std::fs::write(&path, "earlier\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = open_log(path.to_str().unwrap()).unwrap();
        assert_eq!(mode(&path), 0o600);
        f.write_all(b"later\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nlater\n");
    }

    #[test]
    fn a_symlink_a_directory_a_fifo_and_a_foreign_file_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_log(link.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert_eq!(mode(&target), 0o644, "the link's target is untouched");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        // A dangling link is not followed to create its target either.
        let dangling = dir.path().join("dangling.log");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
        let e = open_log(dangling.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert!(!dir.path().join("nothing").exists());

        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(open_log(sub.to_str().unwrap()).is_err());

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_log(fifo.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");

        // A file of another user (only root can make one here).
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = dir.path().join("theirs.log");
            std::fs::write(&theirs, "").unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            let e = open_log(theirs.to_str().unwrap()).unwrap_err().to_string();
            assert!(e.contains("is owned by uid 65534"), "{e}");
        }
    }
}
