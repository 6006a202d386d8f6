//! Single-file transfers: the local-file side shared by scp and sftp (open, mode, chunked send
//! with progress), the remote-path rules both protocols share, and the choice between them
//! (`ssh_file_transfer_method`).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::ctl::Ctl;
use super::scp::{scp_get, scp_put};
use super::sftp::{sftp_get, sftp_put};
use super::{Conn, CHUNK};
use crate::communicator::config::TransferMethod;
use crate::communicator::{CommError, Progress};

pub(super) fn local_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

pub(super) fn upload_file(
    conn: &Conn,
    ctl: &Ctl,
    method: TransferMethod,
    local: &Path,
    remote: &str,
    mode: Option<u32>,
    progress: Option<&Progress>,
) -> Result<(), CommError> {
    match method {
        TransferMethod::Scp => scp_put(conn, ctl, local, remote, mode, progress),
        TransferMethod::Sftp => {
            let sess = &conn.sess;
            let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
            sftp_put(conn, ctl, &sftp, local, remote, mode, progress)
        }
    }
}

/// A local file on its way to `remote`: the open file, its size, the mode it gets there, the
/// remote path as scp and sftp take it, and the words for error messages.
pub(super) struct Outgoing {
    pub(super) file: std::fs::File,
    pub(super) size: u64,
    pub(super) mode: u32,
    pub(super) path: PathBuf,
    pub(super) what: String,
}

impl Outgoing {
    pub(super) fn open(local: &Path, remote: &str, mode: Option<u32>) -> Result<Self, CommError> {
        let file = std::fs::File::open(local)
            .map_err(|e| CommError::Other(format!("opening {}: {e}", local.display())))?;
        let meta = file
            .metadata()
            .map_err(|e| CommError::Other(format!("reading {}: {e}", local.display())))?;
        let mode = mode.unwrap_or_else(|| local_mode(&meta)) & 0o7777;
        Ok(Outgoing {
            file,
            size: meta.len(),
            mode,
            path: home_relative(remote),
            what: format!("uploading {} to {remote}", local.display()),
        })
    }
}

/// Copies `f` into `w` in [`CHUNK`]s, reporting progress against `size`.
pub(super) fn send_file(
    f: &mut std::fs::File,
    local: &Path,
    size: u64,
    progress: Option<&Progress>,
    mut w: impl FnMut(&[u8]) -> Result<(), CommError>,
) -> Result<(), CommError> {
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| CommError::Other(format!("reading {}: {e}", local.display())))?;
        if n == 0 {
            return Ok(());
        }
        w(&buf[..n])?;
        done += n as u64;
        if let Some(p) = progress {
            p(done, size);
        }
    }
}

pub(super) fn download_file(
    conn: &Conn,
    ctl: &Ctl,
    method: TransferMethod,
    remote: &str,
    local: &Path,
) -> Result<(), CommError> {
    let sess = &conn.sess;
    let mut out = std::fs::File::create(local)
        .map_err(|e| CommError::Other(format!("creating {}: {e}", local.display())))?;
    match method {
        TransferMethod::Scp => scp_get(conn, ctl, remote, &mut out, local)?,
        TransferMethod::Sftp => {
            let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
            sftp_get(ctl, sess, &sftp, remote, &mut out, local)?;
        }
    }
    Ok(())
}

/// A remote path as scp and sftp take it: both start in the login directory and expand no
/// `~`, so `~/x` becomes `x` (the tar and shell paths let the remote shell expand it).
pub(super) fn home_relative(remote: &str) -> PathBuf {
    if remote == "~" {
        return PathBuf::from(".");
    }
    PathBuf::from(remote.strip_prefix("~/").unwrap_or(remote))
}

pub(super) fn perm_only(mode: u32) -> ssh2::FileStat {
    ssh2::FileStat {
        size: None,
        uid: None,
        gid: None,
        perm: Some(mode),
        atime: None,
        mtime: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_and_sftp_paths_start_in_the_home_directory() {
        assert_eq!(home_relative("~/a/b"), PathBuf::from("a/b"));
        assert_eq!(home_relative("~"), PathBuf::from("."));
        assert_eq!(home_relative("/tmp/x"), PathBuf::from("/tmp/x"));
        assert_eq!(home_relative("rel/~/x"), PathBuf::from("rel/~/x"));
    }
}
