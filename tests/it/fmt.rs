//! `rpack fmt` / `packer fmt`: the fixture corpus (`tests/fixtures/fmt/input`, messy files, and
//! `expected/`, what Packer 1.6.6's `fmt` made of them), checked against the real binary and
//! against Packer 1.6.6 itself; the command line side by side with Packer; rpack's own
//! additions (`-recursive`, stdin, several paths, positioned syntax errors).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fidelity::{as_packer, packer, run, Out};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt")
}

fn rpack() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rpack"))
}

/// The corpus's input file names, sorted.
fn inputs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus().join("input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A temp dir holding a copy of the corpus inputs under `in/`, a subdirectory `in/sub` with one
/// messy file, a hidden messy file, a file that does not parse, a JSON file and a text file.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir_all(inp.join("sub")).unwrap();
    for name in inputs() {
        std::fs::copy(corpus().join("input").join(&name), inp.join(&name)).unwrap();
    }
    let messy = read(&corpus().join("input/alignment.pkr.hcl"));
    std::fs::write(inp.join("sub/alignment.pkr.hcl"), &messy).unwrap();
    std::fs::write(inp.join(".hidden.pkr.hcl"), &messy).unwrap();
    std::fs::write(dir.path().join("bad.pkr.hcl"), "a = 1\nx = \n").unwrap();
    std::fs::write(dir.path().join("j.pkr.json"), "{}\n").unwrap();
    std::fs::write(dir.path().join("t.txt"), "").unwrap();
    dir
}

/// Every file under `dir` with its bytes, sorted by path.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), read(&p)));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_corpus_formats_as_packer_1_6_6_formats_it_and_formatting_is_idempotent() {
    let packer = packer();
    let names = inputs();
    assert!(names.len() >= 15, "{names:?}");
    let mut changed = 0;
    for name in &names {
        let input = read(&corpus().join("input").join(name));
        let expected = read(&corpus().join("expected").join(name));
        changed += usize::from(input != expected);
        for bin in [rpack(), packer.clone()] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(name), &input).unwrap();
            let out = run(&bin, dir.path(), &["fmt", name], &[]);
            assert_eq!(out.code, 0, "{} fmt {name}: {}", bin.display(), out.text);
            let want = if input == expected {
                String::new()
            } else {
                format!("{name}\n")
            };
            assert_eq!(out.text, want, "{} fmt {name}", bin.display());
            let got = read(&dir.path().join(name));
            assert!(
                got == expected,
                "{} fmt {name}:\n{}\n--- expected:\n{}",
                bin.display(),
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected)
            );
            // Idempotence: the formatted file is already canonical.
            let again = run(&bin, dir.path(), &["fmt", "-check", name], &[]);
            assert_eq!((again.code, again.text.as_str()), (0, ""), "{name}");
            assert_eq!(read(&dir.path().join(name)), expected);
        }
    }
    // The corpus is messy: all but the one already formatted file change.
    assert_eq!(changed, names.len() - 1);
}

/// Runs `bin args` in a fresh [`workdir`]; returns its output and the files afterwards.
fn fresh_run(bin: &Path, args: &[&str]) -> (Out, Vec<(PathBuf, Vec<u8>)>) {
    let dir = workdir();
    let out = run(bin, dir.path(), args, &[]);
    (out, tree(dir.path()))
}

#[test]
fn as_packer_the_command_is_packer_1_6_6_byte_for_byte() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let cases: &[&[&str]] = &[
        &["fmt", "in"],
        &["fmt", "-check", "in"],
        &["fmt", "-diff", "in"],
        &["fmt", "-write=false", "in"],
        &["fmt", "-write=false", "-diff", "in"],
        &["fmt", "-check", "-diff", "in/alignment.pkr.hcl"],
        &["fmt", "-check", "in/formatted.pkr.hcl"],
        &["fmt", "-diff", "in/no_eol.pkr.hcl"],
        &["fmt", "-check=false", "in"],
        &["fmt", "-write", "in"],
        &["fmt", "--", "in"],
        &["fmt", "in/"],
        &["fmt", "./in"],
        &["fmt", "in/vars.pkrvars.hcl"],
        // Errors: a file that does not parse, no HCL2 file, no such path, stdin (not in 1.6.6).
        &["fmt", "bad.pkr.hcl"],
        &["fmt", "-check", "bad.pkr.hcl"],
        &["fmt", "."],
        &["fmt", "j.pkr.json"],
        &["fmt", "t.txt"],
        &["fmt", "nope"],
        &["fmt", "-"],
        // Usage: no path, two paths, a flag after the path.
        &["fmt"],
        &["fmt", "in", "in"],
        &["fmt", "in", "-check"],
    ];
    let mut differ = Vec::new();
    for args in cases {
        let (theirs, their_files) = fresh_run(&packer, args);
        let (ours, our_files) = fresh_run(&link, args);
        if (theirs.code, &theirs.text) != (ours.code, &ours.text) {
            differ.push(format!(
                "{args:?}\npacker ({}):\n{}\nrpack ({}):\n{}",
                theirs.code, theirs.text, ours.code, ours.text
            ));
        } else if their_files != our_files {
            differ.push(format!("{args:?}: the files differ afterwards"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
    // The exit codes are Packer's: 3 for -check with a change, 1 for a syntax error.
    assert_eq!(fresh_run(&link, &["fmt", "-check", "in"]).0.code, 3);
    assert_eq!(fresh_run(&link, &["fmt", "bad.pkr.hcl"]).0.code, 1);
    // Packer 1.6.6 has no -recursive. Its flag-error line comes through a pipe that its exit
    // races (see packer_flag_error) and `fmt` loses it most of the time, so Packer's output is
    // taken with or without that line; rpack always prints it.
    let args = ["fmt", "-recursive", "in"];
    let dir = workdir();
    let line = "flag provided but not defined: -recursive\n";
    let theirs = run(&packer, dir.path(), &args, &[]);
    let ours = run(&link, dir.path(), &args, &[]);
    assert_eq!((theirs.code, ours.code), (1, 1));
    assert!(ours.text.contains(line), "{}", ours.text);
    assert_eq!(ours.text.replace(line, ""), theirs.text.replace(line, ""));
    assert_eq!(tree(dir.path()), tree(workdir().path()), "nothing written");
}

#[test]
fn a_syntax_error_names_file_line_and_column_and_leaves_the_file_alone() {
    let (out, files) = fresh_run(&rpack(), &["fmt", "bad.pkr.hcl"]);
    assert_eq!(out.code, 1, "{}", out.text);
    assert!(out.text.contains("on bad.pkr.hcl:2:5:"), "{}", out.text);
    let bad = files.iter().find(|(p, _)| p == Path::new("bad.pkr.hcl"));
    assert_eq!(bad.unwrap().1, b"a = 1\nx = \n");
    assert!(!out.text.contains("bad.pkr.hcl\n"), "{}", out.text);
    // With other paths, as Packer does: the others are formatted, the bad one is not.
    let (out, files) = fresh_run(&rpack(), &["fmt", "bad.pkr.hcl", "in/alignment.pkr.hcl"]);
    assert_eq!(out.code, 1, "{}", out.text);
    assert!(
        out.text.starts_with("in/alignment.pkr.hcl\n"),
        "{}",
        out.text
    );
    let get = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == Path::new(name))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(get("bad.pkr.hcl"), b"a = 1\nx = \n");
    assert_eq!(
        get("in/alignment.pkr.hcl"),
        read(&corpus().join("expected/alignment.pkr.hcl"))
    );
    // As packer: Packer 1.6.6's words, without a position.
    let (_link_dir, link) = as_packer();
    let (out, _) = fresh_run(&link, &["fmt", "bad.pkr.hcl"]);
    assert_eq!(
        out.text,
        "Error: encountered an error while formatting bad.pkr.hcl\n\nfailed to parse HCL bad.pkr.hcl\n\n\n"
    );
}

#[test]
fn as_rpack_recursive_several_paths_stdin_and_skipped_files() {
    // -recursive reaches in/sub; hidden files are skipped; several paths are taken in order.
    let (out, files) = fresh_run(&rpack(), &["fmt", "-check", "-recursive", "in"]);
    assert_eq!(out.code, 3, "{}", out.text);
    assert!(
        out.text.contains("in/sub/alignment.pkr.hcl\n"),
        "{}",
        out.text
    );
    assert!(!out.text.contains(".hidden"), "{}", out.text);
    assert_eq!(files, tree(workdir().path()), "-check writes nothing");
    let (out, _) = fresh_run(&rpack(), &["fmt", "-check", "in"]);
    assert!(!out.text.contains("in/sub/"), "{}", out.text);
    let (out, files) = fresh_run(
        &rpack(),
        &["fmt", "in/heredoc.pkr.hcl", "in/sub/alignment.pkr.hcl"],
    );
    assert_eq!(
        (out.code, out.text.as_str()),
        (0, "in/heredoc.pkr.hcl\nin/sub/alignment.pkr.hcl\n")
    );
    let get = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == Path::new(name))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        get("in/sub/alignment.pkr.hcl"),
        read(&corpus().join("expected/alignment.pkr.hcl"))
    );
    // A symbolic link to a directory is not followed (as Go's ReadDir): a loop cannot hang it.
    let dir = workdir();
    std::os::unix::fs::symlink("..", dir.path().join("in/sub/loop")).unwrap();
    let out = run(
        &rpack(),
        dir.path(),
        &["fmt", "-check", "-recursive", "in"],
        &[],
    );
    assert_eq!(out.code, 3, "{}", out.text);
    assert!(!out.text.contains("loop"), "{}", out.text);
    // A file that is not HCL2 is refused by name.
    let (out, _) = fresh_run(&rpack(), &["fmt", "t.txt"]);
    assert_eq!(out.code, 1);
    assert!(
        out.text.contains("file t.txt is not a HCL file"),
        "{}",
        out.text
    );
    // `-` formats standard input to standard output.
    let input = read(&corpus().join("input/operators.pkr.hcl"));
    let mut child = Command::new(rpack())
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.stdout, read(&corpus().join("expected/operators.pkr.hcl")));
    // The help names what rpack adds.
    let help = run(&rpack(), Path::new("."), &["fmt", "-h"], &[]);
    assert_eq!(help.code, 0);
    assert!(help.text.starts_with("Usage: rpack fmt"), "{}", help.text);
    assert!(help.text.contains("-recursive"), "{}", help.text);
}
