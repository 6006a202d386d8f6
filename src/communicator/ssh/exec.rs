//! Running remote commands: opening an exec channel (with a pty when asked), streaming its
//! stdout and stderr line by line to an [`OutputSink`], and its exit status (128+signal when a
//! signal killed it, like Go's ssh package).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ssh2::Session;

use super::chan::ExecChannel;
use super::ctl::{is_retry, map_err, map_io, wait_socket, wait_socket_or, Ctl};
use super::Conn;
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line.to_string());
    }
    fn stderr_line(&self, line: &str) {
        self.err
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line.to_string());
    }
}

/// Opens a session channel and starts `command`.
pub(super) fn exec(
    conn: &Conn,
    ctl: &Ctl,
    command: &str,
    pty: bool,
) -> Result<ExecChannel, CommError> {
    let sess = &conn.sess;
    let mut ch = ctl.request(sess, "opening an ssh session channel", || {
        ExecChannel::open(sess)
    })?;
    if pty {
        ctl.request(sess, "requesting a pty", || ch.request_pty())?;
    }
    ctl.request(
        sess,
        &format!("starting remote command {command:?}"),
        || ch.exec(command),
    )?;
    Ok(ch)
}

/// How long a streamed command's loop sleeps at most before it looks at cancellation again.
const CANCEL_TICK: Duration = Duration::from_millis(100);
/// After TERM, how long the remote command has to exit before it gets KILL.
const TERM_GRACE: Duration = Duration::from_millis(1500);

/// Streams a running command's stdout/stderr line by line and returns its exit status
/// (128+signal when killed by a signal, like Go's ssh package). `stdin`, when given, is the
/// read end of a pipe whose bytes go to the command's standard input, followed by end of file
/// when the pipe's writer closes it. On cancellation the remote command is stopped
/// ([`stop_remote`]) before this returns [`CommError::Cancelled`].
pub(super) fn run_streamed(
    conn: &Conn,
    ctl: &Ctl,
    mut ch: ExecChannel,
    out: &dyn OutputSink,
    stdin: Option<OwnedFd>,
) -> Result<i32, CommError> {
    let sess = &conn.sess;
    // Non-blocking reads of both streams with our own poll, so neither starves the other.
    sess.set_blocking(false);
    let res = (|| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut so = LineSplitter { buf: Vec::new() };
        let mut se = LineSplitter { buf: Vec::new() };
        let mut feed = stdin.map(StdinFeed::new);
        let mut last_ka = Instant::now();
        loop {
            if ctl.cancel.is_cancelled() {
                stop_remote(sess, ctl.fd, &mut ch);
                return Err(CommError::Cancelled);
            }
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
            match ch.read_stderr(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    se.feed(&buf[..n], |l| out.stderr_line(l));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("reading command output", e)),
            }
            let eof = ch.eof();
            if let Some(f) = feed.as_mut() {
                if eof {
                    // The command is done; what it did not read is dropped.
                    feed = None;
                } else {
                    progress |= f.pump(&mut ch)?;
                    if f.done {
                        feed = None;
                    }
                }
            }
            if !progress && eof {
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
                let extra = feed.as_ref().and_then(StdinFeed::wants_input);
                wait_socket_or(sess, ctl.fd, extra, CANCEL_TICK)?;
            }
        }
        so.finish(|l| out.stdout_line(l));
        se.finish(|l| out.stderr_line(l));
        Ok(())
    })();
    sess.set_blocking(true);
    res?;
    ctl.call(sess, "closing the command channel", || ch.wait_close())?;
    if let Some(name) = ch.exit_signal() {
        return Ok(128 + signal_number(&name));
    }
    Ok(ch.exit_status())
}

/// Stops a cancelled command on the remote host: the "signal" request for TERM, which sshd
/// turns into a signal to the command's whole process group; KILL when the command has not
/// ended after [`TERM_GRACE`]; then the channel close. Best effort and bounded in time: the
/// connection is dropped right after, whatever happened here. The session is non-blocking.
fn stop_remote(sess: &Session, fd: RawFd, ch: &mut ExecChannel) {
    let deadline = Instant::now() + TERM_GRACE + Duration::from_secs(2);
    let retry = |f: &mut dyn FnMut() -> Result<(), ssh2::Error>| loop {
        match f() {
            Err(e) if is_retry(&e) && Instant::now() < deadline => {
                if wait_socket(sess, fd, CANCEL_TICK).is_err() {
                    return false;
                }
            }
            Err(e) => {
                tracing::debug!("stopping the remote command: {}", e.message());
                return false;
            }
            Ok(()) => return true,
        }
    };
    if !retry(&mut || ch.signal("TERM")) {
        return;
    }
    tracing::debug!("sent TERM to the remote command");
    let grace = Instant::now() + TERM_GRACE;
    let mut sink = [0u8; 16 * 1024];
    // Its output from here on is dropped; reading it keeps the window open so it can exit.
    while !ch.eof() && Instant::now() < grace {
        let a = ch.read(&mut sink);
        let b = ch.read_stderr(&mut sink);
        if !matches!(a, Ok(n) if n > 0)
            && !matches!(b, Ok(n) if n > 0)
            && wait_socket(sess, fd, CANCEL_TICK).is_err()
        {
            return;
        }
    }
    if !ch.eof() {
        tracing::debug!("the remote command outlived TERM; sending KILL");
        retry(&mut || ch.signal("KILL"));
    }
    retry(&mut || ch.close());
}

/// Feeds a local pipe's bytes into a command's standard input, then end of file.
struct StdinFeed {
    pipe: Option<std::fs::File>,
    pending: Vec<u8>,
    /// The pipe reached end of file and the channel's EOF still has to go out.
    eof_due: bool,
    /// Everything, end of file included, has been sent.
    done: bool,
}

impl StdinFeed {
    fn new(fd: OwnedFd) -> StdinFeed {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        StdinFeed {
            pipe: Some(std::fs::File::from(fd)),
            pending: Vec::new(),
            eof_due: false,
            done: false,
        }
    }

    /// The pipe to wait on, while there is room for more of its bytes.
    fn wants_input(&self) -> Option<RawFd> {
        match &self.pipe {
            Some(p) if self.pending.is_empty() => Some(p.as_raw_fd()),
            _ => None,
        }
    }

    /// Moves what it can without blocking; whether anything moved.
    fn pump(&mut self, ch: &mut ExecChannel) -> Result<bool, CommError> {
        let mut progress = false;
        if self.pending.is_empty() {
            if let Some(p) = self.pipe.as_mut() {
                // Read straight into the (empty) pending buffer, then keep what arrived.
                self.pending.resize(32 * 1024, 0);
                let read = p.read(&mut self.pending);
                self.pending.truncate(*read.as_ref().unwrap_or(&0));
                match read {
                    Ok(0) => {
                        self.pipe = None;
                        self.eof_due = true;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(CommError::Other(format!("reading standard input: {e}"))),
                }
            }
        }
        if !self.pending.is_empty() {
            match ch.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                    progress |= n > 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("writing the command's standard input", e)),
            }
        }
        if self.pending.is_empty() && self.eof_due {
            match ch.send_eof() {
                Ok(()) => {
                    self.eof_due = false;
                    self.done = true;
                    progress = true;
                }
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(map_err("closing the command's standard input", e)),
            }
        }
        Ok(progress)
    }
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
    let status = run_streamed(conn, ctl, ch, &sink, None)?;
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
