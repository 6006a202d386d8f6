//! The platform definition archive, by `ebp`'s rules: with `.ebignore`, the working tree minus
//! its gitwildmatch patterns; else in a git repository, the files committed at HEAD (`git
//! archive`); else the whole working tree. Always skipped from the tree: `.elasticbeanstalk`,
//! `*~`, sockets and `.ebignore` itself. platform.yaml gets the healthd settings (see
//! [`super::yaml::with_healthd_settings`]) in every mode; ebp only manages that outside git.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use zip::write::SimpleFileOptions;

/// ebcli refuses larger uploads ("Archive cannot be any larger than 512MB").
pub const MAX_BUNDLE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    EbIgnore,
    Git,
    Tree,
}

/// Which rule builds the archive of `root`.
pub fn source(root: &Path) -> Source {
    if root.join(".ebignore").is_file() {
        Source::EbIgnore
    } else if in_git(root) {
        Source::Git
    } else {
        Source::Tree
    }
}

pub fn in_git(root: &Path) -> bool {
    Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
}

/// `git describe --always --abbrev=4`, for the version label.
pub fn git_describe(root: &Path) -> Option<String> {
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
pub fn git_dirty(root: &Path) -> bool {
    Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Writes the archive of `root` to `out`; `platform_yaml` replaces platform.yaml's content.
/// Returns the entry names in archive order.
pub fn write(root: &Path, out: &Path, platform_yaml: Option<&str>) -> Result<Vec<String>> {
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let names = match source(root) {
        Source::Git => from_git(root, &mut zip, platform_yaml)?,
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
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    if size > MAX_BUNDLE_BYTES {
        bail!("the platform definition archive {} is {size} bytes: archive cannot be any larger than 512MB", out.display());
    }
    Ok(names)
}

fn ebignore(root: &Path) -> Result<ignore::gitignore::Gitignore> {
    let mut b = ignore::gitignore::GitignoreBuilder::new(root);
    if let Some(e) = b.add(root.join(".ebignore")) {
        bail!("reading {}: {e}", root.join(".ebignore").display());
    }
    b.build()
        .with_context(|| format!("reading {}", root.join(".ebignore").display()))
}

type Zip = zip::ZipWriter<std::fs::File>;

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
    let dir_mode = std::fs::metadata(&dir)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o755);
    zip.add_directory(dir_name.clone(), options(dir_mode))?;
    names.push(dir_name);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
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
            match (name.as_str(), platform_yaml) {
                ("platform.yaml", Some(text)) => zip.write_all(text.as_bytes())?,
                _ => {
                    let mut f = std::fs::File::open(e.path())
                        .with_context(|| format!("reading {}", e.path().display()))?;
                    std::io::copy(&mut f, zip)?;
                }
            }
            names.push(name);
        }
    }
    for sub in subdirs {
        walk(root, &sub, zip, platform_yaml, skip, names)?;
    }
    Ok(())
}

fn from_git(root: &Path, zip: &mut Zip, platform_yaml: Option<&str>) -> Result<Vec<String>> {
    let out = Command::new("git")
        .args(["archive", "--format=tar", "HEAD"])
        .current_dir(root)
        .output()
        .with_context(|| format!("running git archive in {}", root.display()))?;
    if !out.status.success() {
        bail!(
            "git archive HEAD in {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&out.stdout[..]);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let mode = entry.header().mode().unwrap_or(0o644);
        match entry.header().entry_type() {
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
            tar::EntryType::Regular => {
                zip.start_file(path.clone(), options(mode))?;
                match (path.as_str(), platform_yaml) {
                    ("platform.yaml", Some(text)) => zip.write_all(text.as_bytes())?,
                    _ => {
                        let mut buf = Vec::new();
                        entry.read_to_end(&mut buf)?;
                        zip.write_all(&buf)?;
                    }
                }
            }
            // pax headers (the commit id comment) and anything else carry no file.
            _ => continue,
        }
        names.push(path);
    }
    Ok(names)
}

/// The entry names of a zip archive.
pub fn entries(zip_path: &Path) -> Result<Vec<String>> {
    let f =
        std::fs::File::open(zip_path).with_context(|| format!("opening {}", zip_path.display()))?;
    let mut z =
        zip::ZipArchive::new(f).with_context(|| format!("reading {}", zip_path.display()))?;
    Ok((0..z.len())
        .filter_map(|i| z.by_index(i).ok().map(|e| e.name().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names = write(d.path(), &out, Some("replaced\n")).unwrap();
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
        let names = write(d.path(), &out, None).unwrap();
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
}
