//! Local temporary files that hold rendered scripts, env-var files and keys: created fresh
//! (`O_EXCL`, never through an existing file or symlink) with mode 0600 (Packer's
//! `ioutil.TempFile` mode; rpack used to write 0644), and removed when the guard is dropped, so
//! every exit path (error, cancellation dropping the future, panic) removes them.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Creates `path`, which must not exist, readable and writable by its owner only.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A private temporary file, removed on drop.
#[derive(Debug)]
pub(crate) struct PrivateTemp {
    path: PathBuf,
}

impl PrivateTemp {
    /// Writes `data` to a new file `path` (mode 0600).
    pub(crate) fn write(path: PathBuf, data: &[u8]) -> std::io::Result<PrivateTemp> {
        let mut f = create_private(&path)?;
        let guard = PrivateTemp { path };
        f.write_all(data)?;
        Ok(guard)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateTemp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn owner_only_never_through_a_link_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("script");
        let t = PrivateTemp::write(p.clone(), b"echo hi").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"echo hi");
        drop(t);
        assert!(!p.exists());

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(PrivateTemp::write(link.clone(), b"x").is_err());
        assert!(PrivateTemp::write(victim.clone(), b"x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        // A failed create does not remove what was there.
        assert!(link.exists());
    }

    /// `-debug`'s `ec2_<build>.pem`: never written through an existing file or symlink.
    #[test]
    fn the_debug_key_file_is_created_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ec2_b.pem");
        crate::communicator::keys::write_new_private_key_file(&p, "KEY").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = crate::communicator::keys::write_new_private_key_file(&p, "KEY2").unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "KEY");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("ec2_l.pem");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(crate::communicator::keys::write_new_private_key_file(&link, "K").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
