//! Running remote commands: opening an exec channel (with a pty when asked), streaming its
//! stdout and stderr line by line to an [`OutputSink`], and its exit status (128+signal when a
//! signal killed it, like Go's ssh package).

use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Instant;

use ssh2::Channel;

use super::ctl::{is_retry, map_err, map_io, wait_socket, Ctl};
use super::{Conn, TICK};
use crate::communicator::{CommError, OutputSink};

/// Quotes a remote path for the POSIX shell, keeping a leading `~/` expandable.
pub(crate) fn shell_quote(path: &str) -> String {
    fn q(s: &str) -> String {
        format!("'{}'", s.replace('\'', r#"'"'"'"#))
    }
    if path == "~" {
        return "~".into();
    }
    match path.strip_prefix("~/") {
        Some(rest) => format!("~/{}", q(rest)),
        None => q(path),
    }
}

/// Splits a byte stream into lines for an [`OutputSink`].
pub(super) struct LineSplitter {
    pub(super) buf: Vec<u8>,
}
impl LineSplitter {
    pub(super) fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&str)) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]);
            emit(line.strip_suffix('\r').unwrap_or(&line));
        }
    }
    pub(super) fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            emit(line.strip_suffix('\r').unwrap_or(&line));
            self.buf.clear();
        }
    }
}

/// Lines gathered in memory, for internal commands whose output we inspect.
#[derive(Default)]
pub(super) struct Collect {
    pub(super) out: Mutex<Vec<String>>,
    pub(super) err: Mutex<Vec<String>>,
}
impl OutputSink for Collect {
    fn stdout_line(&self, line: &str) {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_string());
    }
    fn stderr_line(&self, line: &str) {
        self.err
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_string());
    }
}

/// Opens a session channel and starts `command`.
pub(super) fn exec(conn: &Conn, ctl: &Ctl, command: &str, pty: bool) -> Result<Channel, CommError> {
    let sess = &conn.sess;
    let mut ch = ctl.request(sess, "opening an ssh session channel", || {
        sess.channel_session()
    })?;
    if pty {
        ctl.request(sess, "requesting a pty", || {
            ch.request_pty("xterm", None, Some((80, 40, 0, 0)))
        })?;
    }
    ctl.request(
        sess,
        &format!("starting remote command {command:?}"),
        || ch.exec(command),
    )?;
    Ok(ch)
}

/// Streams a running command's stdout/stderr line by line and returns its exit status
/// (128+signal when killed by a signal, like Go's ssh package).
pub(super) fn run_streamed(
    conn: &Conn,
    ctl: &Ctl,
    mut ch: Channel,
    out: &dyn OutputSink,
) -> Result<i32, CommError> {
    let sess = &conn.sess;
    // Non-blocking reads of both streams with our own poll, so neither starves the other.
    sess.set_blocking(false);
    let res = (|| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut so = LineSplitter { buf: Vec::new() };
        let mut se = LineSplitter { buf: Vec::new() };
        let mut last_ka = Instant::now();
        loop {
            ctl.check()?;
            let mut progress = false;
            match ch.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    so.feed(&buf[..n], |l| out.stdout_line(l));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("reading command output", e)),
            }
            match ch.stderr().read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    se.feed(&buf[..n], |l| out.stderr_line(l));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("reading command output", e)),
            }
            if !progress && ch.eof() {
                break;
            }
            if !progress {
                if let Some(k) = ctl.keep_alive {
                    if last_ka.elapsed() >= k {
                        match sess.keepalive_send() {
                            Err(e) if !is_retry(&e) => return Err(map_err("sending keepalive", e)),
                            _ => {}
                        }
                        last_ka = Instant::now();
                    }
                }
                wait_socket(sess, ctl.fd, TICK)?;
            }
        }
        so.finish(|l| out.stdout_line(l));
        se.finish(|l| out.stderr_line(l));
        Ok(())
    })();
    sess.set_blocking(true);
    res?;
    ctl.call(sess, "closing the command channel", || ch.wait_close())?;
    if let Ok(sig) = ch.exit_signal() {
        if let Some(name) = sig.exit_signal {
            return Ok(128 + signal_number(&name));
        }
    }
    ctl.call(sess, "reading the exit status", || ch.exit_status())
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "USR1" => 10,
        "USR2" => 12,
        _ => 0,
    }
}

/// Runs a command to completion and returns (status, stdout lines, stderr lines).
pub(super) fn run_collect(
    conn: &Conn,
    ctl: &Ctl,
    command: &str,
) -> Result<(i32, Vec<String>, Vec<String>), CommError> {
    let ch = exec(conn, ctl, command, false)?;
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink)?;
    let out = sink.out.into_inner().unwrap_or_default();
    let err = sink.err.into_inner().unwrap_or_default();
    Ok((status, out, err))
}

pub(super) fn has_tar(conn: &mut Conn, ctl: &Ctl) -> Result<bool, CommError> {
    if let Some(t) = conn.has_tar {
        return Ok(t);
    }
    let (status, _, _) = run_collect(conn, ctl, "command -v tar >/dev/null 2>&1")?;
    conn.has_tar = Some(status == 0);
    Ok(status == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_home_expandable() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("~/x y"), "~/'x y'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
    }

    #[test]
    fn lines_are_split_across_chunks_and_crlf_trimmed() {
        let mut s = LineSplitter { buf: Vec::new() };
        let mut got = Vec::new();
        s.feed(b"one\r\ntw", |l| got.push(l.to_string()));
        s.feed(b"o\nthree", |l| got.push(l.to_string()));
        s.finish(|l| got.push(l.to_string()));
        assert_eq!(got, ["one", "two", "three"]);
    }
}
