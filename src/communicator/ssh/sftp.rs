//! sftp: single files with exact modes, and whole trees file by file when the remote has no
//! `tar` (one sftp session per tree, directory modes applied deepest first).

use std::io::Write;
use std::path::{Path, PathBuf};

use ssh2::Session;

use super::ctl::Ctl;
use super::transfer::{home_relative, local_mode, perm_only, send_file, Outgoing};
use super::{Conn, CHUNK};
use crate::communicator::{CommError, Progress};

/// Uploads one file over an open sftp session, with exactly `mode` (the umask does not apply).
pub(super) fn sftp_put(
    conn: &Conn,
    ctl: &Ctl,
    sftp: &ssh2::Sftp,
    local: &Path,
    remote: &str,
    mode: Option<u32>,
    progress: Option<&Progress>,
) -> Result<(), CommError> {
    let Outgoing {
        file: mut f,
        size,
        mode,
        path,
        what,
    } = Outgoing::open(local, remote, mode)?;
    let sess = &conn.sess;
    let flags = ssh2::OpenFlags::WRITE | ssh2::OpenFlags::CREATE | ssh2::OpenFlags::TRUNCATE;
    let mut file = ctl.call(sess, &what, || {
        sftp.open_mode(&path, flags, mode as i32, ssh2::OpenType::File)
    })?;
    send_file(&mut f, local, size, progress, |b| {
        ctl.write_all(sess, &mut file, b)
    })?;
    ctl.call(sess, &what, || file.setstat(perm_only(mode)))?;
    ctl.call(sess, &what, || file.close())?;
    Ok(())
}

/// Downloads one file over an open sftp session into `out`.
pub(super) fn sftp_get(
    ctl: &Ctl,
    sess: &Session,
    sftp: &ssh2::Sftp,
    remote: &str,
    out: &mut std::fs::File,
    local: &Path,
) -> Result<(), CommError> {
    let what = format!("downloading {remote}");
    let mut buf = vec![0u8; CHUNK];
    let path = home_relative(remote);
    let mut f = ctl.call(sess, &what, || sftp.open(&path))?;
    loop {
        let n = ctl.read(sess, &mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| CommError::Other(format!("writing {}: {e}", local.display())))?;
    }
    let _ = ctl.call(sess, &what, || f.close());
    Ok(())
}

/// The directory upload without `tar`: one sftp session for the whole tree, file by file.
/// The result matches the tar path: `remote` is created with its parents, directories and
/// files get their local modes exactly, and read-only directories are made read-only only
/// after their contents arrived.
pub(super) fn upload_dir_sftp(
    conn: &Conn,
    ctl: &Ctl,
    local: &Path,
    remote: &str,
) -> Result<(), CommError> {
    let sess = &conn.sess;
    let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
    let root = home_relative(remote);
    sftp_mkdir_p(ctl, sess, &sftp, &root)?;
    let mut restore: Vec<(PathBuf, u32)> = Vec::new();
    let mut stack = vec![(local.to_path_buf(), root)];
    while let Some((abs, rdir)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&abs)
            .and_then(std::iter::Iterator::collect::<Result<_, _>>)
            .map_err(|e| CommError::Other(format!("reading {}: {e}", abs.display())))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            let rpath = rdir.join(e.file_name());
            let meta = std::fs::metadata(&path)
                .map_err(|e| CommError::Other(format!("reading {}: {e}", path.display())))?;
            if meta.is_dir() {
                let mode = local_mode(&meta);
                // Writable while its contents arrive (like the tar path and scp -r).
                sftp_dir(ctl, sess, &sftp, &rpath, mode | 0o700)?;
                if mode & 0o700 != 0o700 {
                    restore.push((rpath.clone(), mode));
                }
                stack.push((path, rpath));
            } else if meta.is_file() {
                sftp_put(
                    conn,
                    ctl,
                    &sftp,
                    &path,
                    &rpath.to_string_lossy(),
                    None,
                    None,
                )?;
            }
        }
    }
    // Deepest first, so a parent becomes read-only only after its children got their modes.
    restore.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (path, mode) in restore {
        ctl.call(
            sess,
            &format!("setting the mode of {}", path.display()),
            || sftp.setstat(&path, perm_only(mode)),
        )?;
    }
    Ok(())
}

/// Makes `dir` a directory with exactly `mode` (sftp's mkdir is subject to the umask), also
/// when it exists already, as `tar -x -p` does.
fn sftp_dir(
    ctl: &Ctl,
    sess: &Session,
    sftp: &ssh2::Sftp,
    dir: &Path,
    mode: u32,
) -> Result<(), CommError> {
    let what = format!("creating directory {} over sftp", dir.display());
    if let Err(e) = ctl.call(sess, &what, || sftp.mkdir(dir, mode as i32)) {
        match ctl.call(sess, &what, || sftp.stat(dir)) {
            Ok(st) if st.is_dir() => {}
            Ok(_) => {
                return Err(CommError::Other(format!(
                    "{what}: it exists and is not a directory"
                )))
            }
            Err(_) => return Err(e),
        }
    }
    ctl.call(
        sess,
        &format!("setting the mode of {}", dir.display()),
        || sftp.setstat(dir, perm_only(mode)),
    )
}

/// `mkdir -p` over sftp (new directories get the server's default mode, as with `mkdir -p`).
fn sftp_mkdir_p(ctl: &Ctl, sess: &Session, sftp: &ssh2::Sftp, dir: &Path) -> Result<(), CommError> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") || dir == Path::new(".") {
        return Ok(());
    }
    let what = format!("creating directory {} over sftp", dir.display());
    match ctl.call(sess, &what, || sftp.stat(dir)) {
        Ok(st) if st.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(CommError::Other(format!(
                "{what}: it exists and is not a directory"
            )))
        }
        Err(CommError::Other(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sftp_mkdir_p(ctl, sess, sftp, parent)?;
    }
    ctl.call(sess, &what, || sftp.mkdir(dir, 0o755))
}

/// The directory download without `tar`: one sftp session, file by file, keeping modes.
pub(super) fn download_dir_sftp(
    conn: &Conn,
    ctl: &Ctl,
    remote: &str,
    local: &Path,
) -> Result<(), CommError> {
    use std::os::unix::fs::PermissionsExt;
    let sess = &conn.sess;
    let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut stack = vec![(home_relative(remote), local.to_path_buf())];
    while let Some((rdir, ldir)) = stack.pop() {
        std::fs::create_dir_all(&ldir)
            .map_err(|e| CommError::Other(format!("creating {}: {e}", ldir.display())))?;
        let entries = ctl.call(sess, &format!("listing {}", rdir.display()), || {
            sftp.readdir(&rdir)
        })?;
        for (path, stat) in entries {
            let Some(name) = path.file_name() else {
                continue;
            };
            let lpath = ldir.join(name);
            if stat.is_dir() {
                if let Some(perm) = stat.perm {
                    dirs.push((lpath.clone(), perm & 0o7777));
                }
                stack.push((path.clone(), lpath));
            } else {
                let mut out = std::fs::File::create(&lpath)
                    .map_err(|e| CommError::Other(format!("creating {}: {e}", lpath.display())))?;
                sftp_get(ctl, sess, &sftp, &path.to_string_lossy(), &mut out, &lpath)?;
                if let Some(perm) = stat.perm {
                    let _ = std::fs::set_permissions(
                        &lpath,
                        std::fs::Permissions::from_mode(perm & 0o7777),
                    );
                }
            }
        }
    }
    // Directory modes last and deepest first, so read-only directories could be filled.
    dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (dir, mode) in dirs {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}
