//! The platform definition archive, by `ebp`'s rules: with `.ebignore`, the working tree minus
//! its gitwildmatch patterns; else in a git repository, the files committed at HEAD (`git
//! archive`, plus each submodule's HEAD when `include_git_submodules` is set); else the whole
//! working tree. Always skipped from the tree: `.elasticbeanstalk`, `*~`, sockets and
//! `.ebignore` itself. platform.yaml gets the healthd settings (see
//! [`super::yaml::with_healthd_settings`]) in every mode; ebp only manages that outside git.
//! An archive may not grow past [`MAX_BUNDLE_BYTES`]; writing stops as soon as it would.

use std::collections::HashSet;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use zip::write::SimpleFileOptions;

/// ebcli refuses larger uploads ("Archive cannot be any larger than 512MB", 536870912 bytes).
pub(crate) const MAX_BUNDLE_BYTES: u64 = 512 * 1024 * 1024;

/// How an archive is made besides its [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// Add each git submodule's committed files (`global.include_git_submodules`).
    pub git_submodules: bool,
    /// The largest archive allowed, in bytes.
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            git_submodules: false,
            max_bytes: max_bytes(),
        }
    }
}

/// [`MAX_BUNDLE_BYTES`], or `RPACK_PLATFORM_MAX_BUNDLE_BYTES` (a seam for tests, which should
/// not have to write 512 MiB to see the limit work).
pub(crate) fn max_bytes() -> u64 {
    std::env::var("RPACK_PLATFORM_MAX_BUNDLE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_BUNDLE_BYTES)
}

/// `512 MiB (536870912 bytes)`.
fn limit_text(max: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if max % MIB == 0 {
        format!("{} MiB ({max} bytes)", max / MIB)
    } else {
        format!("{max} bytes")
    }
}

/// The archive file, refusing to grow past `max` bytes (the flag tells why a write failed).
struct Limited {
    file: std::fs::File,
    pos: u64,
    max: u64,
    exceeded: Arc<AtomicBool>,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pos + buf.len() as u64 > self.max {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "the archive is larger than the limit",
            ));
        }
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Limited {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    EbIgnore,
    Git,
    Tree,
}

/// Which rule builds the archive of `root`.
pub(crate) fn source(root: &Path) -> Source {
    if root.join(".ebignore").is_file() {
        Source::EbIgnore
    } else if in_git(root) {
        Source::Git
    } else {
        Source::Tree
    }
}

pub(crate) fn in_git(root: &Path) -> bool {
    Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
}

/// `git describe --always --abbrev=4`, for the version label.
pub(crate) fn git_describe(root: &Path) -> Option<String> {
    let o = Command::new("git")
        .args(["describe", "--always", "--abbrev=4"])
        .current_dir(root)
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Whether the work tree has changes that `git archive HEAD` will not include.
pub(crate) fn git_dirty(root: &Path) -> bool {
    Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Writes the archive of `root` to `out`; `platform_yaml` replaces platform.yaml's content.
/// Returns the entry names in archive order. An archive that would pass `opts.max_bytes` is
/// not finished: the partial file is removed and the error names the limit and `root`.
pub(crate) fn write(
    root: &Path,
    out: &Path,
    platform_yaml: Option<&str>,
    opts: &Options,
) -> Result<Vec<String>> {
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let exceeded = Arc::new(AtomicBool::new(false));
    let mut zip = zip::ZipWriter::new(Limited {
        file,
        pos: 0,
        max: opts.max_bytes,
        exceeded: exceeded.clone(),
    });
    let written = (|| {
        let names = match source(root) {
            Source::Git => from_git(root, &mut zip, platform_yaml, opts.git_submodules)?,
            Source::EbIgnore => {
                let ignore = ebignore(root)?;
                from_tree(root, &mut zip, platform_yaml, &|rel, dir| {
                    ignore.matched_path_or_any_parents(rel, dir).is_ignore()
                })?
            }
            Source::Tree => from_tree(root, &mut zip, platform_yaml, &|rel, _| {
                rel == Path::new(".gitignore")
            })?,
        };
        zip.finish()
            .with_context(|| format!("writing {}", out.display()))?;
        Ok::<_, anyhow::Error>(names)
    })();
    match written {
        Ok(names) => Ok(names),
        Err(e) => {
            let _ = std::fs::remove_file(out);
            if exceeded.load(Ordering::Relaxed) {
                let limit = limit_text(opts.max_bytes);
                bail!("the platform definition archive of {} is larger than {limit}: an archive cannot be any larger than {limit} (ebp's limit); leave big files out with .ebignore", root.display());
            }
            Err(e)
        }
    }
}

fn ebignore(root: &Path) -> Result<ignore::gitignore::Gitignore> {
    let mut b = ignore::gitignore::GitignoreBuilder::new(root);
    if let Some(e) = b.add(root.join(".ebignore")) {
        bail!("reading {}: {e}", root.join(".ebignore").display());
    }
    b.build()
        .with_context(|| format!("reading {}", root.join(".ebignore").display()))
}

type Zip = zip::ZipWriter<Limited>;

fn options(mode: u32) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(mode & 0o7777)
}

fn from_tree(
    root: &Path,
    zip: &mut Zip,
    platform_yaml: Option<&str>,
    skip: &dyn Fn(&Path, bool) -> bool,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    walk(root, Path::new(""), zip, platform_yaml, skip, &mut names)?;
    Ok(names)
}

/// One directory the way ebcli's os.walk loop writes it: its own entry, its files, then its
/// subdirectories (names sorted, where os.walk takes the file system's order).
fn walk(
    root: &Path,
    rel_dir: &Path,
    zip: &mut Zip,
    platform_yaml: Option<&str>,
    skip: &dyn Fn(&Path, bool) -> bool,
    names: &mut Vec<String>,
) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = root.join(rel_dir);
    let dir_name = if rel_dir.as_os_str().is_empty() {
        "./".to_string()
    } else {
        format!("{}/", rel_dir.to_string_lossy())
    };
    let dir_mode = std::fs::metadata(&dir).map_or(0o755, |m| m.permissions().mode());
    zip.add_directory(dir_name.clone(), options(dir_mode))?;
    names.push(dir_name);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut subdirs = Vec::new();
    for e in entries {
        let rel = rel_dir.join(e.file_name());
        let name = rel.to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(e.path())?;
        let ft = meta.file_type();
        let top_git = rel
            .components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git");
        if name.contains(".elasticbeanstalk")
            || name.ends_with('~')
            || ft.is_socket()
            || rel == Path::new(".ebignore")
            || top_git
        {
            continue;
        }
        if skip(&rel, ft.is_dir()) {
            continue;
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(e.path())?;
            zip.add_symlink(name.clone(), target.to_string_lossy(), options(0o755))?;
            names.push(name);
        } else if ft.is_dir() {
            subdirs.push(rel);
        } else if ft.is_file() {
            zip.start_file(name.clone(), options(meta.permissions().mode()))?;
            if let ("platform.yaml", Some(text)) = (name.as_str(), platform_yaml) {
                zip.write_all(text.as_bytes())?;
            } else {
                let mut f = std::fs::File::open(e.path())
                    .with_context(|| format!("reading {}", e.path().display()))?;
                std::io::copy(&mut f, zip)?;
            }
            names.push(name);
        }
    }
    for sub in subdirs {
        walk(root, &sub, zip, platform_yaml, skip, names)?;
    }
    Ok(())
}

fn from_git(
    root: &Path,
    zip: &mut Zip,
    platform_yaml: Option<&str>,
    submodules: bool,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    add_git_archive(root, "", zip, platform_yaml, &mut names, &mut seen)?;
    if submodules {
        // ebcli: `git submodule foreach --recursive`, then each one's `git archive HEAD` under
        // its path. $displaypath is the path from the top, also for nested submodules.
        let out = Command::new("git")
            .args([
                "submodule",
                "--quiet",
                "foreach",
                "--recursive",
                "echo \"$displaypath\"",
            ])
            .current_dir(root)
            .output()
            .with_context(|| format!("running git submodule foreach in {}", root.display()))?;
        if !out.status.success() {
            bail!(
                "git submodule foreach in {}: {}",
                root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        for path in String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            add_git_archive(
                &root.join(path),
                &format!("{path}/"),
                zip,
                None,
                &mut names,
                &mut seen,
            )?;
        }
    }
    Ok(names)
}

/// The files committed at HEAD in `dir`, named `prefix` + path (entries already in the archive,
/// like a submodule's own folder, are not added twice).
fn add_git_archive(
    dir: &Path,
    prefix: &str,
    zip: &mut Zip,
    platform_yaml: Option<&str>,
    names: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<()> {
    // Streamed: the archive of a big repository never sits in memory whole.
    let mut child = Command::new("git")
        .args(["archive", "--format=tar", "HEAD"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running git archive in {}", dir.display()))?;
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(
                &mut std::io::Read::take(&mut e, 64 << 10),
                &mut text,
            );
            text
        })
    });
    let stdout = child.stdout.take().context("git archive has no output")?;
    let copied = copy_git_tar(stdout, prefix, zip, platform_yaml, names, seen);
    if copied.is_err() {
        // Stopped early (the size limit, a bad entry): git must not wait on a full pipe.
        let _ = child.kill();
    }
    let status = child.wait()?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match copied {
        Err(e) if stderr.trim().is_empty() => Err(e),
        Err(e) => Err(e.context(format!(
            "git archive HEAD in {}: {}",
            dir.display(),
            stderr.trim()
        ))),
        Ok(()) if !status.success() => {
            bail!("git archive HEAD in {}: {}", dir.display(), stderr.trim())
        }
        Ok(()) => Ok(()),
    }
}

/// Copies the entries of `git archive`'s tar stream into the zip.
fn copy_git_tar(
    tar_stream: impl std::io::Read,
    prefix: &str,
    zip: &mut Zip,
    platform_yaml: Option<&str>,
    names: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<()> {
    let mut ar = tar::Archive::new(tar_stream);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = format!("{prefix}{}", entry.path()?.to_string_lossy());
        let mode = entry.header().mode().unwrap_or(0o644);
        let kind = entry.header().entry_type();
        // pax headers (the commit id comment) and anything else carry no file.
        if !matches!(
            kind,
            tar::EntryType::Directory | tar::EntryType::Symlink | tar::EntryType::Regular
        ) || !seen.insert(path.clone())
        {
            continue;
        }
        match kind {
            tar::EntryType::Directory => {
                zip.add_directory(path.clone(), options(mode))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                zip.add_symlink(path.clone(), target, options(mode))?;
            }
            _ => {
                zip.start_file(path.clone(), options(mode))?;
                match (path.as_str(), platform_yaml) {
                    ("platform.yaml", Some(text)) => zip.write_all(text.as_bytes())?,
                    _ => {
                        std::io::copy(&mut entry, zip)?;
                    }
                }
            }
        }
        names.push(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("builder/scripts")).unwrap();
        std::fs::create_dir_all(p.join(".elasticbeanstalk")).unwrap();
        std::fs::write(p.join("platform.yaml"), "version: \"1.0\"\n").unwrap();
        std::fs::write(p.join("t.json"), "{}").unwrap();
        std::fs::write(p.join("builder/builder.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(p.join("builder/scripts/a.log"), "x").unwrap();
        std::fs::write(p.join("builder/b.sh~"), "old").unwrap();
        std::fs::write(p.join(".elasticbeanstalk/config.yml"), "global: {}\n").unwrap();
        d
    }

    #[test]
    fn plain_tree_skips_eb_files_and_backups() {
        let d = tree();
        let out = d.path().join("../bundle-plain.zip");
        let names = write(d.path(), &out, Some("replaced\n"), &Options::default()).unwrap();
        assert_eq!(
            names,
            vec![
                "./",
                "platform.yaml",
                "t.json",
                "builder/",
                "builder/builder.sh",
                "builder/scripts/",
                "builder/scripts/a.log"
            ]
        );
        let mut z = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name("platform.yaml")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "replaced\n");
        std::fs::remove_file(out).unwrap();
    }

    #[test]
    fn ebignore_patterns_apply() {
        let d = tree();
        std::fs::write(d.path().join(".ebignore"), "*.log\n/t.json\n").unwrap();
        let out = d.path().join("../bundle-ebignore.zip");
        let names = write(d.path(), &out, None, &Options::default()).unwrap();
        assert_eq!(
            names,
            vec![
                "./",
                "platform.yaml",
                "builder/",
                "builder/builder.sh",
                "builder/scripts/"
            ]
        );
        std::fs::remove_file(out).unwrap();
    }

    #[test]
    fn an_archive_past_the_limit_is_refused_before_it_is_finished() {
        assert_eq!(MAX_BUNDLE_BYTES, 536_870_912, "ebcli's limit");
        assert_eq!(limit_text(MAX_BUNDLE_BYTES), "512 MiB (536870912 bytes)");
        let d = tree();
        // xorshift bytes: deflate cannot shrink them.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(d.path().join("big.bin"), noise).unwrap();
        let out = d.path().join("../bundle-big.zip");
        let e = write(
            d.path(),
            &out,
            None,
            &Options {
                git_submodules: false,
                max_bytes: 100_000,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("is larger than 100000 bytes")
                && e.contains(&d.path().display().to_string()),
            "{e}"
        );
        assert!(!out.exists(), "the partial archive is removed");
    }
}
