//! scp (`scp -t` / `scp -f` through libssh2): one file each way, in large chunks.

use std::io::Write;
use std::path::Path;

use super::ctl::Ctl;
use super::transfer::{home_relative, send_file, Outgoing};
use super::{Conn, CHUNK};
use crate::communicator::{CommError, Progress};

pub(super) fn scp_put(
    conn: &Conn,
    ctl: &Ctl,
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
    let mut ch = ctl
        .request(sess, &what, || {
            sess.scp_send(&path, mode as i32, size, None)
        })
        .map_err(|e| scp_error(e, remote))?;
    send_file(&mut f, local, size, progress, |b| {
        ctl.write_all(sess, &mut ch, b)
    })?;
    // The scp protocol's end-of-file acknowledgement; without it the remote scp sees a
    // lost connection and exits 1 (the data is complete either way).
    ctl.write_all(sess, &mut ch, b"\0")?;
    ctl.call(sess, &what, || ch.send_eof())?;
    ctl.call(sess, &what, || ch.wait_eof())?;
    ctl.call(sess, &what, || ch.wait_close())?;
    let status = ch.exit_status().unwrap_or(0);
    if status != 0 {
        return Err(CommError::Other(format!(
            "{what}: scp exited with status {status}"
        )));
    }
    Ok(())
}

/// Downloads one file by scp into `out`.
pub(super) fn scp_get(
    conn: &Conn,
    ctl: &Ctl,
    remote: &str,
    out: &mut std::fs::File,
    local: &Path,
) -> Result<(), CommError> {
    let sess = &conn.sess;
    let what = format!("downloading {remote}");
    let mut buf = vec![0u8; CHUNK];
    let (mut ch, stat) = ctl.request(sess, &what, || sess.scp_recv(&home_relative(remote)))?;
    let mut left = stat.size();
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = ctl.read(sess, &mut ch, &mut buf[..want])?;
        if n == 0 {
            return Err(CommError::Disconnected(format!(
                "{what}: stream ended early"
            )));
        }
        out.write_all(&buf[..n])
            .map_err(|e| CommError::Other(format!("writing {}: {e}", local.display())))?;
        left -= n as u64;
    }
    let _ = ch.send_eof();
    let _ = ctl.call(sess, &what, || ch.wait_close());
    Ok(())
}

fn scp_error(e: CommError, remote: &str) -> CommError {
    match e {
        CommError::Other(m) => CommError::Other(format!(
            "{m} (does the directory of {remote} exist and is it writable?)"
        )),
        e => e,
    }
}
