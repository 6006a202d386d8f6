//! An exec channel driven through libssh2's C API, for the one request the `ssh2` crate does
//! not offer: "signal" (RFC 4254 §6.9), which is how a cancelled build stops the remote command.
//!
//! Why not `ssh2::Channel`: it hides its libssh2 handle, and its `process_startup` (the only
//! generic request) refuses a second request after `exec`. libssh2 itself has
//! `libssh2_channel_signal_ex` since 1.11 (the copy `libssh2-sys` compiles in); `libssh2-sys`
//! does not declare it, so it is declared here. Every call locks the session like `ssh2` does
//! (through [`Session::raw`]), so this channel and `ssh2`'s objects share one connection safely.
//!
//! OpenSSH's sshd (7.9 and later) answers "signal" with `killpg` on the command's process group
//! (the session leader it forked for the channel), for commands with or without a terminal.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::ptr::{null, null_mut};

use libssh2_sys as sys;
use ssh2::Session;

extern "C" {
    /// libssh2 ≥ 1.11: sends `SSH_MSG_CHANNEL_REQUEST "signal"` (no reply wanted) with the
    /// signal's name without `SIG` ("TERM", "KILL").
    fn libssh2_channel_signal_ex(
        channel: *mut sys::LIBSSH2_CHANNEL,
        signame: *const c_char,
        signame_len: libc::size_t,
    ) -> c_int;
}

/// The standard output and standard error stream ids of a channel.
const STDOUT: c_int = 0;
const STDERR: c_int = 1;

/// A "session" channel for one remote command. Dropping it frees the channel (libssh2 sends the
/// close first when it was not sent yet).
pub(super) struct ExecChannel {
    /// Keeps the session alive while the channel exists, and its mutex serialises every call.
    sess: Session,
    raw: *mut sys::LIBSSH2_CHANNEL,
}

impl ExecChannel {
    /// Opens a session channel (`channel_session()`'s window and packet sizes).
    pub(super) fn open(sess: &Session) -> Result<ExecChannel, ssh2::Error> {
        let mut guard = sess.raw();
        let s: *mut sys::LIBSSH2_SESSION = &raw mut *guard;
        let kind = b"session";
        // SAFETY: a live session (locked); the type string outlives the call.
        let raw = unsafe {
            sys::libssh2_channel_open_ex(
                s,
                kind.as_ptr().cast(),
                kind.len() as u32,
                sys::LIBSSH2_CHANNEL_WINDOW_DEFAULT,
                sys::LIBSSH2_CHANNEL_PACKET_DEFAULT,
                null(),
                0,
            )
        };
        if raw.is_null() {
            return Err(ssh2::Error::last_session_error_raw(s).unwrap_or_else(ssh2::Error::unknown));
        }
        Ok(ExecChannel {
            sess: sess.clone(),
            raw,
        })
    }

    /// Runs `f` with the session locked; a negative result becomes the session's error.
    fn rc(&self, f: impl FnOnce(*mut sys::LIBSSH2_CHANNEL) -> isize) -> Result<usize, ssh2::Error> {
        let mut guard = self.sess.raw();
        let s: *mut sys::LIBSSH2_SESSION = &raw mut *guard;
        let rc = f(self.raw);
        if rc < 0 {
            Err(ssh2::Error::from_session_error_raw(s, rc as c_int))
        } else {
            Ok(rc as usize)
        }
    }

    /// Asks for an `xterm` terminal of 80×40 with no modes (as `ssh2`'s `request_pty`).
    pub(super) fn request_pty(&mut self) -> Result<(), ssh2::Error> {
        let term = b"xterm";
        // SAFETY: a live channel; the term string outlives the call.
        self.rc(|ch| unsafe {
            sys::libssh2_channel_request_pty_ex(
                ch,
                term.as_ptr().cast(),
                term.len() as u32,
                null(),
                0,
                80,
                40,
                0,
                0,
            ) as isize
        })
        .map(drop)
    }

    /// Starts `command` (the "exec" request).
    pub(super) fn exec(&mut self, command: &str) -> Result<(), ssh2::Error> {
        let req = b"exec";
        // SAFETY: a live channel; both buffers outlive the call and carry their lengths.
        self.rc(|ch| unsafe {
            sys::libssh2_channel_process_startup(
                ch,
                req.as_ptr().cast(),
                req.len() as u32,
                command.as_ptr().cast(),
                command.len() as u32,
            ) as isize
        })
        .map(drop)
    }

    /// Sends the signal `name` ("TERM", "KILL") to the remote command.
    pub(super) fn signal(&mut self, name: &str) -> Result<(), ssh2::Error> {
        // SAFETY: a live channel; the name outlives the call and carries its length.
        self.rc(|ch| unsafe {
            libssh2_channel_signal_ex(ch, name.as_ptr().cast(), name.len()) as isize
        })
        .map(drop)
    }

    fn read_stream(&mut self, stream: c_int, buf: &mut [u8]) -> Result<usize, ssh2::Error> {
        // SAFETY: a live channel; `buf` is writable for its length.
        self.rc(|ch| unsafe {
            sys::libssh2_channel_read_ex(ch, stream, buf.as_mut_ptr().cast(), buf.len())
        })
    }

    /// Reads the command's standard error.
    pub(super) fn read_stderr(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(STDERR, buf).map_err(io::Error::from)
    }

    /// Whether the remote side sent end of file.
    pub(super) fn eof(&self) -> bool {
        // SAFETY: a live channel.
        self.rc(|ch| unsafe { sys::libssh2_channel_eof(ch) as isize })
            .is_ok_and(|n| n != 0)
    }

    /// Sends end of file on the command's standard input.
    pub(super) fn send_eof(&mut self) -> Result<(), ssh2::Error> {
        // SAFETY: a live channel.
        self.rc(|ch| unsafe { sys::libssh2_channel_send_eof(ch) as isize })
            .map(drop)
    }

    /// Sends the channel close.
    pub(super) fn close(&mut self) -> Result<(), ssh2::Error> {
        // SAFETY: a live channel.
        self.rc(|ch| unsafe { sys::libssh2_channel_close(ch) as isize })
            .map(drop)
    }

    /// Waits for the remote side's close (after which exit status and signal are known).
    pub(super) fn wait_close(&mut self) -> Result<(), ssh2::Error> {
        // SAFETY: a live channel.
        self.rc(|ch| unsafe { sys::libssh2_channel_wait_closed(ch) as isize })
            .map(drop)
    }

    pub(super) fn exit_status(&self) -> i32 {
        let _guard = self.sess.raw();
        // SAFETY: a live channel, session locked.
        unsafe { sys::libssh2_channel_get_exit_status(self.raw) }
    }

    /// The name of the signal that ended the command ("TERM"), if one did.
    pub(super) fn exit_signal(&self) -> Option<String> {
        let mut guard = self.sess.raw();
        let s: *mut sys::LIBSSH2_SESSION = &raw mut *guard;
        let mut sig: *mut c_char = null_mut();
        let mut len: libc::size_t = 0;
        // SAFETY: a live channel, session locked; libssh2 allocates `sig` with the session's
        // allocator and we free it with `libssh2_free`.
        unsafe {
            let rc = sys::libssh2_channel_get_exit_signal(
                self.raw,
                &raw mut sig,
                &raw mut len,
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
            );
            if rc != 0 || sig.is_null() {
                return None;
            }
            let name = std::slice::from_raw_parts(sig.cast::<u8>(), len);
            let name = String::from_utf8_lossy(name).into_owned();
            sys::libssh2_free(s, sig.cast::<c_void>());
            Some(name)
        }
    }
}

impl io::Read for ExecChannel {
    /// Reads the command's standard output.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(STDOUT, buf).map_err(io::Error::from)
    }
}

impl io::Write for ExecChannel {
    /// Writes to the command's standard input.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: a live channel; `buf` is readable for its length.
        self.rc(|ch| unsafe {
            sys::libssh2_channel_write_ex(ch, STDOUT, buf.as_ptr().cast(), buf.len())
        })
        .map_err(io::Error::from)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ExecChannel {
    fn drop(&mut self) {
        let _guard = self.sess.raw();
        // SAFETY: the channel is live and freed exactly once, with the session locked.
        unsafe {
            sys::libssh2_channel_free(self.raw);
        }
    }
}
