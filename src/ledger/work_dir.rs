//! A build's local working directory (`$TMPDIR/rpack-<build-id>`, mode 0700): where a tool that
//! needs the temporary private key as a file gets its copy (the `ansible` provisioner; rpack's
//! own login keeps the key in memory), made only then. The build removes it when it ends;
//! `rpack cleanup` removes the ones killed builds (SIGKILL, a second Ctrl-C) left behind.

use std::path::PathBuf;

/// The working directory of `build_id`, or `None` for an id that is not a plain build id (so a
/// crafted ledger file name cannot point the cleanup elsewhere).
pub(crate) fn path(build_id: &str) -> Option<PathBuf> {
    let plain = !build_id.is_empty()
        && build_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plain.then(|| std::env::temp_dir().join(format!("rpack-{build_id}")))
}

/// Removes `build_id`'s working directory; `Ok(Some(path))` when there was one.
pub(crate) fn remove(build_id: &str) -> std::io::Result<Option<PathBuf>> {
    let Some(p) = path(build_id) else {
        return Ok(None);
    };
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p).map(|()| Some(p)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_build_ids_name_a_directory() {
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            path(&id).unwrap(),
            std::env::temp_dir().join(format!("rpack-{id}"))
        );
        for bad in ["", "../x", "a/b", "a b", "."] {
            assert!(path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn remove_deletes_the_directory_and_its_key() {
        let id = format!("wd-test-{}", uuid::Uuid::new_v4().simple());
        let p = path(&id).unwrap();
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("packer_x.pem"), "key").unwrap();
        assert_eq!(remove(&id).unwrap(), Some(p.clone()));
        assert!(!p.exists());
        assert_eq!(remove(&id).unwrap(), None);
    }
}
