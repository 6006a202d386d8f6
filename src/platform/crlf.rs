//! The CRLF check on the scripts of a platform definition, in bounded memory: only files that
//! go into the bundle are looked at, chosen by the rule the bundle uses (see `super::bundle`):
//! with `.ebignore`, the tree minus its patterns; in a git repository without one, the files
//! committed at HEAD (untracked and ignored files never reach the bundle); else the whole tree.
//! `.git`, `.elasticbeanstalk` and `*~` are skipped. Only scripts (`*.sh`, or starting with
//! `#!`) are read, each as a stream of 64 KiB chunks: a multi-gigabyte data file in the
//! workspace costs a 2-byte read.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Scripts with CRLF line ends, as `rel/path:LINE: …` messages in path order.
pub(crate) fn problems(root: &Path) -> Vec<String> {
    if super::bundle::source(root) == super::bundle::Source::Git {
        if let Some(files) = committed(root) {
            let mut out = Vec::new();
            for rel in files {
                let name = rel.to_string_lossy();
                if name.ends_with('~') || name.starts_with(".elasticbeanstalk/") {
                    continue;
                }
                let path = root.join(&rel);
                let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
                if is_file {
                    if let Some(line) = crlf_line(&path, name.ends_with(".sh")) {
                        out.push(message(&name, line));
                    }
                }
            }
            out.sort();
            return out;
        }
    }
    let ignore = ignore_rules(root);
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries.into_iter().rev() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            if name.ends_with('~') || name == ".ebignore" {
                continue;
            }
            if let Some(rules) = &ignore {
                if rules
                    .matched_path_or_any_parents(&path, ft.is_dir())
                    .is_ignore()
                {
                    continue;
                }
            }
            if ft.is_dir() {
                if name != ".git" && name != ".elasticbeanstalk" {
                    stack.push(path);
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            if let Some(line) = crlf_line(&path, name.ends_with(".sh")) {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                out.push(message(&rel, line));
            }
        }
    }
    out.sort();
    out
}

fn message(rel: &str, line: usize) -> String {
    format!("{rel}:{line}: the script has Windows (CRLF) line ends; the builder would fail with $'\\r': command not found")
}

/// The files committed at HEAD under `root` (what `git archive HEAD` run there bundles),
/// relative to `root`; `None` when git cannot tell (no commit yet).
fn committed(root: &Path) -> Option<Vec<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new("git")
        .args(["ls-tree", "-r", "-z", "--name-only", "HEAD"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut files: Vec<PathBuf> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
        .collect();
    files.sort();
    Some(files)
}

fn ignore_rules(root: &Path) -> Option<ignore::gitignore::Gitignore> {
    let file = root.join(".ebignore");
    if !file.is_file() {
        return None;
    }
    let mut b = ignore::gitignore::GitignoreBuilder::new(root);
    b.add(file);
    b.build().ok()
}

/// The 1-based line of the first `\r\n` in a script file, reading it in chunks; `None` for a
/// file that is not a script or has none.
fn crlf_line(path: &Path, is_script_name: bool) -> Option<usize> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 << 10];
    let mut first = true;
    let mut line = 1usize;
    let mut prev_cr = false;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        let chunk = &buf[..n];
        if first {
            first = false;
            if !is_script_name && !chunk.starts_with(b"#!") {
                // A one-byte first read cannot tell: `#` alone keeps the file a candidate.
                if chunk != b"#" {
                    return None;
                }
            }
        }
        for &b in chunk {
            if b == b'\n' {
                if prev_cr {
                    return Some(line);
                }
                line += 1;
            }
            prev_cr = b == b'\r';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_crlf_only_in_bundled_scripts() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("a.sh"), "echo 1\necho 2\r\n").unwrap();
        std::fs::write(p.join("run"), "#!/bin/sh\r\n").unwrap();
        std::fs::write(p.join("data.bin"), "x\r\ny\r\n").unwrap();
        std::fs::write(p.join("skipped.sh"), "x\r\n").unwrap();
        std::fs::write(p.join(".ebignore"), "skipped.sh\n").unwrap();
        std::fs::write(p.join("b.sh~"), "x\r\n").unwrap();
        // CRLF split across a chunk boundary.
        let mut long = vec![b'a'; (64 << 10) - 1];
        long.extend_from_slice(b"\r\n");
        std::fs::write(p.join("long.sh"), long).unwrap();
        let got = problems(p);
        let where_: Vec<&str> = got.iter().map(|m| m.split(": ").next().unwrap()).collect();
        assert_eq!(where_, ["a.sh:2", "long.sh:1", "run:1"]);
    }

    #[test]
    fn in_git_only_committed_scripts_are_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(p)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(p.join("tracked.sh"), "echo 1\r\n").unwrap();
        std::fs::write(p.join("clean.sh"), "echo 1\n").unwrap();
        std::fs::write(p.join(".gitignore"), "ignored.sh\n").unwrap();
        git(&["add", "tracked.sh", "clean.sh", ".gitignore"]);
        git(&["commit", "-qm", "x"]);
        std::fs::write(p.join("untracked.sh"), "echo 1\r\n").unwrap();
        std::fs::write(p.join("ignored.sh"), "echo 1\r\n").unwrap();
        let got = problems(p);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("tracked.sh:1: "), "{got:?}");
    }
}
