//! The CRLF check on the scripts of a platform definition, in bounded memory: only files that
//! go into the bundle (`.ebignore` is honoured; `.git`, `.elasticbeanstalk` and `*~` are
//! skipped) and only scripts (`*.sh`, or starting with `#!`) are read, each as a stream of
//! 64 KiB chunks. A multi-gigabyte data file in the workspace costs a 2-byte read.

use std::io::Read;
use std::path::Path;

/// Scripts with CRLF line ends, as `rel/path:LINE: …` messages in path order.
pub(crate) fn problems(root: &Path) -> Vec<String> {
    let ignore = ignore_rules(root);
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
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
                out.push(format!("{rel}:{line}: the script has Windows (CRLF) line ends; the builder would fail with $'\\r': command not found"));
            }
        }
    }
    out.sort();
    out
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
}
