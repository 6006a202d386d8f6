//! Directory trees as ONE tar stream over one exec channel: `tar -x` on the remote for uploads
//! (which also tells us whether the remote has `tar` at all), `tar -c` for downloads.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ssh2::Session;

use super::chan::ExecChannel;

use super::ctl::Ctl;
use super::exec::{exec, run_collect, run_streamed, shell_quote, Collect};
use super::transfer::local_mode;
use super::{Conn, CHUNK};
use crate::communicator::CommError;

/// A reader over a channel for the `tar` crate: retries timeouts, honours cancellation.
struct ChanReader<'a> {
    ctl: &'a Ctl,
    sess: &'a Session,
    ch: &'a mut ExecChannel,
}
impl Read for ChanReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ctl
            .read(self.sess, self.ch, buf)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// A writer over a channel for the `tar` crate.
struct ChanWriter<'a> {
    ctl: &'a Ctl,
    sess: &'a Session,
    ch: &'a mut ExecChannel,
    /// The first transport error, kept so it is reported with its kind.
    err: Option<CommError>,
}
impl Write for ChanWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.ch.eof() {
            // The remote command exited without reading everything; its status says why.
            self.err
                .get_or_insert(CommError::Other(STOPPED_READING.into()));
            return Err(io::Error::other(STOPPED_READING));
        }
        match self.ctl.write_all(self.sess, self.ch, buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let msg = e.to_string();
                self.err.get_or_insert(e);
                Err(io::Error::other(msg))
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Exit status of the upload command when the remote has no `tar` (nothing was written then).
const NO_TAR: i32 = 197;
/// Exit status of the upload command when it could not create the destination.
const NO_MKDIR: i32 = 198;
const STOPPED_READING: &str = "the remote command stopped reading its input";

/// The remote side of a tree upload: checks for `tar` (exit [`NO_TAR`] without it), creates
/// `remote` and extracts stdin into it. `-m` gives the files the time of the upload, as
/// Packer's scp and sftp uploads do. GNU tar reads 1 MiB records (`-b 2048`): the default
/// 10 KiB reads make sshd feed the pipe in small pieces, which costs ~10% of the wall time
/// on 5,000 small files; busybox tar has no `-b` and gets the plain command.
fn tar_extract_command(remote: &str) -> String {
    let q = shell_quote(remote);
    format!(
        "command -v tar >/dev/null 2>&1 || exit {NO_TAR}; mkdir -p {q} 2>/dev/null || exit {NO_MKDIR}; \
         case $(tar --version 2>/dev/null) in *GNU*) b='-b 2048';; *) b=;; esac; \
         exec tar -x -m -p $b -f - -C {q}"
    )
}

/// Streams the tree under `local` as one tar archive into `tar -x` on the remote, in one exec
/// channel and without a separate probe for `tar`. Returns `Ok(false)` when the remote turned
/// out to have no `tar`, so the caller can fall back to sftp.
pub(super) fn upload_dir_tar(
    conn: &Conn,
    ctl: &Ctl,
    local: &Path,
    remote: &str,
) -> Result<bool, CommError> {
    let mut ch = exec(conn, ctl, &tar_extract_command(remote), false)?;
    let sess = &conn.sess;
    let mut w = ChanWriter {
        ctl,
        sess,
        ch: &mut ch,
        err: None,
    };
    let res = {
        let mut bw = io::BufWriter::with_capacity(CHUNK, &mut w);
        let r = append_tree(&mut bw, local);
        r.and_then(|()| bw.flush())
    };
    let send_err = match res {
        Ok(()) => None,
        Err(e) => Some(w.err.take().unwrap_or_else(|| {
            CommError::Other(format!("sending {} as tar: {e}", local.display()))
        })),
    };
    drop(w);
    // A remote command that stopped reading (no tar, no destination) shows up as a failed
    // write; its exit status says why. A local read error or a dead connection is reported as
    // it is.
    match send_err {
        Some(CommError::Other(m)) if m == STOPPED_READING => {}
        Some(e) => return Err(e),
        None => ctl.call(sess, "finishing the tar upload", || ch.send_eof())?,
    }
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink, None)?;
    match status {
        0 => Ok(true),
        NO_TAR => Ok(false),
        NO_MKDIR => {
            // Only now ask for mkdir's own words, for the error message.
            let (_, _, err) = run_collect(conn, ctl, &format!("mkdir -p {}", shell_quote(remote)))?;
            Err(CommError::Other(format!(
                "creating {remote} on the remote host failed: {}",
                err.join("\n")
            )))
        }
        _ => {
            let err = sink.err.into_inner().unwrap_or_default().join("\n");
            Err(CommError::Other(format!(
                "extracting into {remote} on the remote host failed (tar exit {status}): {err}"
            )))
        }
    }
}

/// Writes a tar archive of the contents of `dir` (symlinks followed, like Packer).
fn append_tree(w: &mut impl Write, dir: &Path) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(true);
    b.mode(tar::HeaderMode::Deterministic);
    let mut stack = vec![(dir.to_path_buf(), PathBuf::new())];
    // Directories the owner cannot write (a read-only 0555 tree) are first created writable so
    // their contents can be extracted, then re-emitted at the end with their real mode: tar
    // updates an existing directory's mode in place (scp -r does the same dance).
    let mut restore: Vec<(PathBuf, std::fs::Metadata, u32)> = Vec::new();
    while let Some((abs, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&abs)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            let name = rel.join(e.file_name());
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                let mode = local_mode(&meta);
                let mut h = tar::Header::new_gnu();
                h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
                h.set_mode(mode | 0o700);
                b.append_data(&mut h, &name, io::empty())?;
                if mode & 0o700 != 0o700 {
                    restore.push((name.clone(), meta.clone(), mode));
                }
                stack.push((path, name));
            } else if meta.is_file() {
                let mut h = tar::Header::new_gnu();
                h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
                h.set_mode(local_mode(&meta));
                b.append_data(&mut h, &name, std::fs::File::open(&path)?)?;
            }
        }
    }
    // Deepest first, so a parent becomes read-only only after its children got their modes.
    restore.sort_by_key(|(name, _, _)| std::cmp::Reverse(name.components().count()));
    for (name, meta, mode) in restore {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        h.set_mode(mode);
        b.append_data(&mut h, &name, io::empty())?;
    }
    b.finish()
}

pub(super) fn download_dir_tar(
    conn: &Conn,
    ctl: &Ctl,
    remote: &str,
    local: &Path,
) -> Result<(), CommError> {
    std::fs::create_dir_all(local)
        .map_err(|e| CommError::Other(format!("creating {}: {e}", local.display())))?;
    let cmd = format!("tar -c -f - -C {} .", shell_quote(remote));
    let mut ch = exec(conn, ctl, &cmd, false)?;
    let sess = &conn.sess;
    let res = {
        let r = ChanReader {
            ctl,
            sess,
            ch: &mut ch,
        };
        let mut ar = tar::Archive::new(io::BufReader::with_capacity(CHUNK, r));
        ar.set_preserve_permissions(true);
        ar.set_overwrite(true);
        ar.unpack(local)
    };
    if let Err(e) = res {
        ctl.check()?;
        return Err(CommError::Other(format!(
            "downloading {remote} as tar into {}: {e}",
            local.display()
        )));
    }
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink, None)?;
    if status != 0 {
        let err = sink.err.into_inner().unwrap_or_default().join("\n");
        return Err(CommError::Other(format!(
            "tar of {remote} on the remote host failed (exit {status}): {err}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_of_tree_keeps_modes_and_nesting() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/x.sh"), "echo").unwrap();
        std::fs::set_permissions(
            dir.path().join("sub/x.sh"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        let mut buf = Vec::new();
        append_tree(&mut buf, dir.path()).unwrap();
        let mut ar = tar::Archive::new(&buf[..]);
        let entries: Vec<(String, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert!(
            entries.contains(&("sub/x.sh".to_string(), 0o750)),
            "{entries:?}"
        );
        assert!(entries.iter().any(|(p, _)| p == "sub"), "{entries:?}");
    }
}
