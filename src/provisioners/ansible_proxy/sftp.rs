//! The proxy's SFTP subsystem over the communicator: a file opened for writing is collected in
//! a private local file and uploaded when closed; a file opened for reading is downloaded when
//! opened; `stat`, `mkdir`, `remove`, `rename`, `setstat` and `realpath` are small remote
//! commands. That is what `sftp put/get` and OpenSSH's `scp` (which speaks SFTP) need, the ways
//! Ansible moves files.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode,
};
use russh_sftp::server::StatusReply;

use super::Relay;
use crate::communicator::ssh::shell_quote;

enum Open {
    Write {
        local: PathBuf,
        file: std::fs::File,
        remote: String,
        mode: u32,
    },
    Read {
        local: PathBuf,
        file: std::fs::File,
    },
}

pub(super) struct Sftp {
    relay: Relay,
    scratch: PathBuf,
    home: Option<String>,
    open: HashMap<String, Open>,
    next: u64,
}

impl Sftp {
    pub(super) fn new(relay: Relay, scratch: PathBuf) -> Sftp {
        Sftp {
            relay,
            scratch,
            home: None,
            open: HashMap::new(),
            next: 0,
        }
    }

    fn local_file(&mut self) -> PathBuf {
        self.next += 1;
        self.scratch.join(format!(
            "sftp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Runs `command` remotely; success or a failure status with its output.
    async fn run(&self, command: &str) -> Result<String, StatusReply> {
        match self.relay.capture(command).await {
            Ok((0, out)) => Ok(out),
            Ok((code, out)) => Err(StatusCode::Failure
                .with_message(format!("{command}: exit status {code}: {}", out.trim()))),
            Err(e) => Err(StatusCode::ConnectionLost.with_message(e)),
        }
    }

    async fn attrs(&self, path: &str, follow: bool) -> Result<FileAttributes, StatusReply> {
        let cmd = format!(
            "stat {}-c '%f %s %u %g %X %Y' -- {}",
            if follow { "-L " } else { "" },
            shell_quote(path)
        );
        match self.relay.capture(&cmd).await {
            Ok((0, out)) => parse_stat(&out)
                .ok_or_else(|| StatusCode::Failure.with_message(format!("stat output {out:?}"))),
            Ok(_) => Err(StatusCode::NoSuchFile.into()),
            Err(e) => Err(StatusCode::ConnectionLost.with_message(e)),
        }
    }

    async fn home(&mut self) -> Result<String, StatusReply> {
        if let Some(h) = &self.home {
            return Ok(h.clone());
        }
        let h = self.run("pwd").await?.trim().to_string();
        self.home = Some(h.clone());
        Ok(h)
    }
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

fn io(e: std::io::Error) -> StatusReply {
    StatusCode::Failure.with_message(e.to_string())
}

/// `%f %s %u %g %X %Y` of GNU/busybox `stat`: raw mode (hex), size, uid, gid, atime, mtime.
pub(super) fn parse_stat(out: &str) -> Option<FileAttributes> {
    let f: Vec<&str> = out.split_whitespace().collect();
    if f.len() != 6 {
        return None;
    }
    Some(FileAttributes {
        permissions: Some(u32::from_str_radix(f[0], 16).ok()?),
        size: Some(f[1].parse().ok()?),
        uid: Some(f[2].parse().ok()?),
        gid: Some(f[3].parse().ok()?),
        atime: Some(f[4].parse().ok()?),
        mtime: Some(f[5].parse().ok()?),
        ..Default::default()
    })
}

/// `path` made absolute against `home`, with `.` and `..` resolved lexically.
pub(super) fn absolute(home: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{home}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

impl russh_sftp::server::Handler for Sftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.into()
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let home = if path.starts_with('/') {
            String::new()
        } else {
            self.home().await?
        };
        Ok(Name {
            id,
            files: vec![File::dummy(absolute(&home, &path))],
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs(&path, true).await?;
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attrs(&path, false).await?;
        Ok(Attrs { id, attrs })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let local = self.local_file();
        let entry = if pflags.contains(OpenFlags::WRITE) {
            if pflags.contains(OpenFlags::EXCLUDE) && self.attrs(&filename, false).await.is_ok() {
                return Err(StatusCode::Failure.with_message(format!("{filename} exists")));
            }
            // Without TRUNCATE the existing bytes stay (and are overwritten in place).
            let existing = if pflags.contains(OpenFlags::TRUNCATE) {
                None
            } else {
                self.attrs(&filename, true).await.ok()
            };
            if existing.is_some() {
                self.relay
                    .download(&filename, &local)
                    .await
                    .map_err(|e| StatusCode::Failure.with_message(e))?;
            }
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&local)
                .map_err(io)?;
            let mode = attrs
                .permissions
                .or(existing.and_then(|a| a.permissions))
                .map_or(0o644, |p| p & 0o7777);
            Open::Write {
                local,
                file,
                remote: filename,
                mode,
            }
        } else {
            if let Err(e) = self.relay.download(&filename, &local).await {
                let _ = std::fs::remove_file(&local);
                return Err(StatusCode::NoSuchFile.with_message(format!("{filename}: {e}")));
            }
            let file = std::fs::File::open(&local).map_err(io)?;
            Open::Read { local, file }
        };
        let handle = format!("h{}", self.next);
        self.open.insert(handle.clone(), entry);
        Ok(Handle { id, handle })
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let Some(Open::Read { file, .. } | Open::Write { file, .. }) = self.open.get(&handle)
        else {
            return Err(StatusCode::Failure.with_message("unknown handle"));
        };
        let mut buf = vec![0u8; len.min(256 * 1024) as usize];
        let n = file.read_at(&mut buf, offset).map_err(io)?;
        if n == 0 {
            return Err(StatusCode::Eof.into());
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        match self.open.get(&handle) {
            Some(Open::Write { file, .. }) => {
                file.write_all_at(&data, offset).map_err(io)?;
                Ok(ok(id))
            }
            _ => Err(StatusCode::PermissionDenied.with_message("not open for writing")),
        }
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let (file, mode) = match self.open.get(&handle) {
            Some(Open::Read { file, .. }) => (file, 0o644),
            Some(Open::Write { file, mode, .. }) => (file, *mode),
            None => return Err(StatusCode::Failure.with_message("unknown handle")),
        };
        let meta = file.metadata().map_err(io)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes {
                size: Some(meta.len()),
                permissions: Some(0o100_000 | mode),
                ..Default::default()
            },
        })
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        if let (Some(Open::Write { mode, .. }), Some(p)) =
            (self.open.get_mut(&handle), attrs.permissions)
        {
            *mode = p & 0o7777;
        }
        Ok(ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.open.remove(&handle) {
            Some(Open::Write {
                local,
                file,
                remote,
                mode,
            }) => {
                drop(file);
                let r = self.relay.upload(&local, &remote, mode).await;
                let _ = std::fs::remove_file(&local);
                r.map_err(|e| StatusCode::Failure.with_message(format!("{remote}: {e}")))?;
                Ok(ok(id))
            }
            Some(Open::Read { local, file }) => {
                drop(file);
                let _ = std::fs::remove_file(&local);
                Ok(ok(id))
            }
            None => Err(StatusCode::Failure.with_message("unknown handle")),
        }
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let q = shell_quote(&path);
        if let Some(p) = attrs.permissions {
            self.run(&format!("chmod {:o} -- {q}", p & 0o7777)).await?;
        }
        if let Some(m) = attrs.mtime {
            self.run(&format!("touch -m -d @{m} -- {q}")).await?;
        }
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let mode = attrs.permissions.map_or(0o755, |p| p & 0o7777);
        self.run(&format!("mkdir -m {mode:o} -- {}", shell_quote(&path)))
            .await?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        self.run(&format!("rmdir -- {}", shell_quote(&path)))
            .await?;
        Ok(ok(id))
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        self.run(&format!("rm -- {}", shell_quote(&filename)))
            .await?;
        Ok(ok(id))
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        self.run(&format!(
            "mv -- {} {}",
            shell_quote(&oldpath),
            shell_quote(&newpath)
        ))
        .await?;
        Ok(ok(id))
    }
}

impl Drop for Sftp {
    fn drop(&mut self) {
        for (_, o) in self.open.drain() {
            match o {
                Open::Write { local, .. } | Open::Read { local, .. } => {
                    let _ = std::fs::remove_file(local);
                }
            }
        }
    }
}
