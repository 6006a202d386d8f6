//! The build ledger: an append-only JSON-lines file (one per build) that records every cloud id
//! the moment the create call returns, and its deletion. After a crash or SIGKILL the entries
//! without a matching deletion are exactly what is still open.
//!
//! Location: `$RPACK_STATE_DIR/builds/<build-id>.jsonl`, else
//! `$XDG_STATE_HOME/rpack/builds/…`, else `~/.local/state/rpack/builds/…`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

pub use crate::aws::ResourceKind;

pub mod sweep;
pub(crate) mod work_dir;

/// The tag every resource rpack creates carries: `rpack cleanup` finds leftovers by it.
pub const BUILD_ID_TAG: &str = "rpack:build-id";
/// The tag a finished build puts on the AMIs and snapshots it keeps.
pub const COMPLETE_TAG: &str = "rpack:complete";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerEvent {
    Created,
    Deleted,
    /// The build finished and keeps this resource (the final AMIs and their snapshots):
    /// `rpack cleanup` must not delete it.
    Kept,
    /// Not a resource: facts cleanup needs later (`kind` = `endpoint_ec2`, `id` = the URL;
    /// `kind` = [`META_ACCOUNT`], `id` = the AWS account id).
    Meta,
}

/// The [`LedgerEvent::Meta`] key of the AWS account id the build's credentials belong to
/// (learnt from STS GetCallerIdentity), which `rpack cleanup` names when it has no credentials.
pub const META_ACCOUNT: &str = "account";

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// RFC 3339 time the line was written.
    pub t: String,
    pub build_id: String,
    pub event: LedgerEvent,
    /// A [`ResourceKind`]'s name (`instance`, `key_pair`, …), or for [`LedgerEvent::Meta`] the
    /// fact's key. Kept as text so a ledger from a newer rpack still reads.
    pub kind: String,
    pub id: String,
    pub region: String,
}

/// Where a build's ledger lives. Callers may pass their own file to [`Ledger::open`].
pub fn default_path(build_id: &str) -> Option<PathBuf> {
    let base = if let Some(d) = std::env::var_os("RPACK_STATE_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(d).join("rpack")
    } else {
        PathBuf::from(std::env::var_os("HOME")?).join(".local/state/rpack")
    };
    Some(base.join("builds").join(format!("{build_id}.jsonl")))
}

/// Appends created/deleted records for one build. Cheap to share (`Arc<Ledger>`).
pub struct Ledger {
    build_id: String,
    file: Option<Mutex<File>>,
    path: Option<PathBuf>,
    /// Everything written, also kept in memory (tests and end-of-build reports read it).
    entries: Mutex<Vec<LedgerEntry>>,
}

impl Ledger {
    /// Opens (creating directories) the ledger file for `build_id` at `path`.
    pub fn open(build_id: &str, path: &Path) -> Result<Ledger> {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Directories rpack creates are 0700; the ledger names every resource of the build.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating the build state directory {}", dir.display()))?;
            // rpack's own `builds` directory (default_path) is tightened if an older rpack made
            // it 0755; a directory the caller chose is left as it is.
            if dir.file_name() == Some(std::ffi::OsStr::new("builds")) {
                if let Ok(m) = std::fs::metadata(dir) {
                    if m.permissions().mode() & 0o077 != 0 {
                        let _ =
                            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
                    }
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening the build ledger {}", path.display()))?;
        // An existing file (a resumed build id) keeps no wider mode.
        if let Ok(m) = file.metadata() {
            if m.permissions().mode() & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| {
                        format!("making the build ledger {} private", path.display())
                    })?;
            }
        }
        Ok(Ledger {
            build_id: build_id.to_string(),
            file: Some(Mutex::new(file)),
            path: Some(path.to_path_buf()),
            entries: Mutex::new(Vec::new()),
        })
    }

    /// Opens the ledger at [`default_path`].
    pub fn open_default(build_id: &str) -> Result<Ledger> {
        let path = default_path(build_id).context(
            "cannot place the build ledger: set RPACK_STATE_DIR, XDG_STATE_HOME or HOME",
        )?;
        Ledger::open(build_id, &path)
    }

    /// A ledger that only keeps entries in memory (unit tests, `validate`).
    pub fn in_memory(build_id: &str) -> Ledger {
        Ledger {
            build_id: build_id.to_string(),
            file: None,
            path: None,
            entries: Mutex::new(Vec::new()),
        }
    }

    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records that `id` exists. Call it the instant the create call returns, before any wait.
    pub fn created(&self, kind: ResourceKind, id: &str, region: &str) {
        self.write(LedgerEvent::Created, kind.as_str(), id, region);
    }

    /// Records that `id` is gone.
    pub fn deleted(&self, kind: ResourceKind, id: &str, region: &str) {
        self.write(LedgerEvent::Deleted, kind.as_str(), id, region);
    }

    /// Records that the finished build keeps `id` (its final AMIs and snapshots).
    pub fn kept(&self, kind: ResourceKind, id: &str, region: &str) {
        self.write(LedgerEvent::Kept, kind.as_str(), id, region);
    }

    /// Records a fact cleanup needs later, such as the EC2 endpoint the build used.
    pub fn meta(&self, key: &str, value: &str, region: &str) {
        self.write(LedgerEvent::Meta, key, value, region);
    }

    fn write(&self, event: LedgerEvent, kind: &str, id: &str, region: &str) {
        let entry = LedgerEntry {
            t: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            build_id: self.build_id.clone(),
            event,
            kind: kind.to_string(),
            id: id.to_string(),
            region: region.to_string(),
        };
        if let Some(file) = &self.file {
            // One write call per line, so a crash leaves at most a torn last line that `read`
            // skips. A failure to write is logged, never fatal: the build-id tag on the resource
            // is the second line of defence.
            let mut line = serde_json::to_string(&entry).expect("ledger entries serialize");
            line.push('\n');
            let mut f = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = f.write_all(line.as_bytes()).and_then(|()| f.flush()) {
                tracing::warn!("writing the build ledger: {e}");
            }
        }
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(entry);
    }

    /// Every entry written through this handle, in order.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Resources created and not (yet) recorded as deleted, in creation order.
    pub fn open_resources(&self) -> Vec<LedgerEntry> {
        outstanding(&self.entries())
    }

    /// Reads a ledger file (skipping a torn last line).
    pub fn read(path: &Path) -> Result<Vec<LedgerEntry>> {
        let f = File::open(path)
            .with_context(|| format!("reading the build ledger {}", path.display()))?;
        Ok(BufReader::new(f)
            .lines()
            .map_while(std::result::Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect())
    }
}

/// The created entries that have no later deletion of the same kind, id and region.
pub fn outstanding(entries: &[LedgerEntry]) -> Vec<LedgerEntry> {
    let mut open: Vec<LedgerEntry> = Vec::new();
    for e in entries {
        match e.event {
            LedgerEvent::Created => open.push(e.clone()),
            LedgerEvent::Deleted | LedgerEvent::Kept => {
                open.retain(|o| !(o.kind == e.kind && o.id == e.id && o.region == e.region));
            }
            LedgerEvent::Meta => {}
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_records_creates_and_deletes_and_outstanding_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("builds/b1.jsonl");
        let l = Ledger::open("b1", &path).unwrap();
        l.created(ResourceKind::Instance, "i-1", "us-east-1");
        l.created(ResourceKind::Image, "ami-1", "us-east-1");
        l.created(ResourceKind::Image, "ami-1", "eu-west-1");
        l.deleted(ResourceKind::Instance, "i-1", "us-east-1");
        l.deleted(ResourceKind::Image, "ami-1", "eu-west-1");
        let read = Ledger::read(&path).unwrap();
        assert_eq!(read.len(), 5);
        assert_eq!(read, l.entries());
        let open = outstanding(&read);
        assert_eq!(open.len(), 1);
        assert_eq!(
            (
                open[0].kind.as_str(),
                open[0].id.as_str(),
                open[0].region.as_str()
            ),
            ("image", "ami-1", "us-east-1")
        );
        assert!(read.iter().all(|e| e.build_id == "b1"));
    }

    #[test]
    fn the_ledger_is_0600_in_a_0700_directory() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // New directories and file, whatever the umask says.
        let path = dir.path().join("state/builds/b.jsonl");
        let l = Ledger::open("b", &path).unwrap();
        l.created(ResourceKind::KeyPair, "packer_x", "us-east-1");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("state/builds")), 0o700);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        // An older, world-readable ledger and builds directory are tightened on reopen.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let builds = dir.path().join("state/builds");
        std::fs::set_permissions(&builds, std::fs::Permissions::from_mode(0o755)).unwrap();
        let l = Ledger::open("b", &path).unwrap();
        l.deleted(ResourceKind::KeyPair, "packer_x", "us-east-1");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&builds), 0o700);
        assert_eq!(Ledger::read(&path).unwrap().len(), 2);
        // A directory the caller chose (not rpack's `builds`) keeps its mode.
        let other = dir.path().join("shared");
        std::fs::create_dir(&other).unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
        Ledger::open("c", &other.join("c.jsonl")).unwrap();
        assert_eq!(mode(&other), 0o755);
        assert_eq!(mode(&other.join("c.jsonl")), 0o600);
    }

    #[test]
    fn torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.jsonl");
        let l = Ledger::open("b", &path).unwrap();
        l.created(ResourceKind::KeyPair, "packer_x", "us-east-1");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"t\":\"20")
            .unwrap();
        assert_eq!(Ledger::read(&path).unwrap().len(), 1);
    }
}
