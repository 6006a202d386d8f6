//! `fmt`: HCL2 files (`.pkr.hcl`, `.pkrvars.hcl`) rewritten to the canonical layout
//! ([`crate::template::hcl2::fmt`]), the name of each changed file printed, with `-diff` a
//! unified diff, with `-check` exit code 3 when a file is not formatted.
//!
//! Called as `packer` it is Packer 1.6.6's command: one PATH (a file, or a directory whose
//! `.pkr.hcl` files then `.pkrvars.hcl` files are taken, hidden ones too), flags only before it,
//! a file that does not parse reported without a position. Called as `rpack` it is the newer
//! Packer's: several paths, `-recursive`, `-` for stdin, hidden files and editor backups
//! skipped; a syntax error names file:line:col.

use std::path::Path;

use super::{args, diags, help, persona, usage_error, Output};
use crate::plan::{Diag as PlanDiag, Severity};
use crate::template::hcl2::diag::{self, Diag};
use crate::template::hcl2::fmt as hclfmt;
use crate::ui::Secrets;

/// `rpack fmt -h`.
pub(super) const HELP_RPACK: &str = "Usage: rpack fmt [options] PATH...

  Rewrites Packer HCL2 files (.pkr.hcl and .pkrvars.hcl) to the canonical format,
  as `packer fmt` does, and prints the name of each file it changed. A directory
  means the HCL2 files in it (hidden files and editor backups skipped); `-` reads
  standard input and prints the result. JSON files are not modified.

Options:
  -check        Check if the input is formatted. Exit status will be 0 if all
                 input is properly formatted, 3 if not, and 1 on an error.

  -diff         Display diffs of formatting change

  -write=false  Don't write to source files
                (always disabled if using -check)

  -recursive    Also process files in subdirectories.";

/// `fmt -h` for whoever rpack is run as.
pub(super) fn help() -> &'static str {
    if persona::as_packer() {
        help::FMT
    } else {
        HELP_RPACK
    }
}

/// What one run does, from the flags.
struct Fmt<'a> {
    out: &'a Output,
    diff: bool,
    write: bool,
    recursive: bool,
    packer: bool,
    /// Some file was (or would be) changed.
    changed: bool,
    errors: Vec<Diag>,
}

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    let packer = persona::as_packer();
    // Go's flag package stops at the first argument that is not a flag.
    let (flags, tail) = if packer {
        go_flag_split(rest)
    } else {
        (rest, &[][..])
    };
    let m = match args::parse(args::fmt_command(), flags) {
        Ok(m) => m,
        Err(e) => return usage_error(&*ui, help(), &e),
    };
    let mut paths: Vec<String> = m
        .get_many::<String>("template")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    paths.extend(tail.iter().cloned());
    if paths.is_empty() || (packer && paths.len() != 1) {
        ui.say(help());
        return 1;
    }
    let check = args::flag(&m, "check");
    let mut run = Fmt {
        out,
        diff: args::flag(&m, "diff"),
        write: !check && (!m.contains_id("write") || args::flag(&m, "write")),
        recursive: args::flag(&m, "recursive"),
        packer,
        changed: false,
        errors: Vec::new(),
    };
    if packer {
        run.packer_path(&paths[0]);
    } else {
        for p in &paths {
            run.path(p);
        }
    }
    if !run.errors.is_empty() {
        if packer {
            let plain: Vec<PlanDiag> = run
                .errors
                .iter()
                .map(|d| PlanDiag {
                    severity: Severity::Error,
                    summary: d.summary.clone(),
                    detail: d.detail.clone(),
                })
                .collect();
            return diags::write_diags(&*ui, &plain);
        }
        ui.error(&diag::render(&run.errors));
        return 1;
    }
    if check && run.changed {
        3
    } else {
        0
    }
}

/// Flags, then the arguments from the first one that is not a flag (a `--` ends the flags and
/// is dropped), as Go's `flag.Parse` splits them.
fn go_flag_split(rest: &[String]) -> (&[String], &[String]) {
    match rest
        .iter()
        .position(|a| a == "--" || a == "-" || !a.starts_with('-'))
    {
        Some(i) if rest[i] == "--" => (&rest[..i], &rest[i + 1..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, &[]),
    }
}

fn fail(summary: String, detail: String) -> Diag {
    Diag::error(None, summary, detail)
}

fn is_hcl_file(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

/// Go's `filepath.Join(dir, name)`.
fn join(dir: &str, name: &str) -> String {
    crate::template::hcl2::funcs::files::clean(&format!("{dir}/{name}"))
}

/// A directory's entries as (name, is a directory), sorted by name as Go's `ReadDir`.
fn read_dir(dir: &str) -> std::io::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        // As Go's `ReadDir`, a symbolic link is no directory (so `-recursive` cannot loop).
        let is_dir = e.file_type()?.is_dir();
        out.push((e.file_name().to_string_lossy().into_owned(), is_dir));
    }
    out.sort();
    Ok(out)
}

fn io_text(e: &std::io::Error) -> String {
    crate::template::parse::io_error_text(e)
}

impl Fmt<'_> {
    /// Packer 1.6.6's `GetHCL2Files` twice (configuration files, then variable files).
    fn packer_path(&mut self, path: &str) {
        let files = match std::fs::metadata(path) {
            Err(e) => {
                return self.errors.push(fail(
                    format!("Cannot tell wether {path} is a directory"),
                    format!("stat {path}: {}", io_text(&e)),
                ))
            }
            Ok(m) if !m.is_dir() => [".pkr.hcl", ".pkrvars.hcl"]
                .iter()
                .filter(|ext| path.ends_with(*ext))
                .map(|_| path.to_string())
                .collect(),
            Ok(_) => match read_dir(path) {
                Err(e) => {
                    return self.errors.push(fail(
                        "Cannot read hcl directory".into(),
                        format!("open {path}: {}", io_text(&e)),
                    ))
                }
                Ok(entries) => {
                    let files: Vec<String> = entries
                        .into_iter()
                        .filter(|(_, is_dir)| !is_dir)
                        .map(|(name, _)| join(path, &name))
                        .collect();
                    let of =
                        |ext: &'static str| files.iter().filter(move |f| f.ends_with(ext)).cloned();
                    of(".pkr.hcl").chain(of(".pkrvars.hcl")).collect::<Vec<_>>()
                }
            },
        };
        if files.is_empty() {
            return self.errors.push(fail(
                format!("Cannot tell whether {path} contains HCL2 configuration data"),
                String::new(),
            ));
        }
        for f in files {
            self.file(&f);
        }
    }

    /// The newer Packer's walk: a directory's HCL2 files (and its subdirectories' with
    /// `-recursive`), or the file itself.
    fn path(&mut self, path: &str) {
        if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return self.file(path);
        }
        let entries = match read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                return self.errors.push(fail(
                    "Cannot read hcl directory".into(),
                    format!("open {path}: {}", io_text(&e)),
                ))
            }
        };
        for (name, is_dir) in entries {
            let ignored = name.starts_with('.')
                || name.ends_with('~')
                || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'));
            let full = join(path, &name);
            if ignored || (is_dir && !self.recursive) {
                continue;
            }
            if is_dir {
                self.path(&full);
            } else if is_hcl_file(&name) {
                self.file(&full);
            }
        }
    }

    /// A file that does not parse: `d` as rpack, Packer 1.6.6's words (neither where nor why)
    /// as packer.
    fn parse_failed(&mut self, name: &str, d: Diag) {
        self.errors.push(if self.packer {
            fail(
                format!("encountered an error while formatting {name}"),
                format!("failed to parse HCL {name}"),
            )
        } else {
            d
        });
    }

    fn file(&mut self, name: &str) {
        let trouble = |detail: String| {
            fail(
                format!("encountered an error while formatting {name}"),
                detail,
            )
        };
        let stdin = name == "-" && !self.packer;
        if !stdin && !self.packer && !is_hcl_file(name) {
            return self
                .errors
                .push(trouble(format!("file {name} is not a HCL file")));
        }
        let limit = crate::limits::max_input();
        let read = if stdin {
            crate::limits::read_stdin("input", limit)
        } else {
            crate::limits::read_file(Path::new(name), "file", limit, |e| {
                format!("open {name}: {}", io_text(e))
            })
        };
        let bytes = match read {
            Ok(b) => b,
            Err(e) => {
                return self
                    .errors
                    .push(trouble(format!("failed to open {name}: {e}")))
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let why = format!(
                    "{name} is not valid UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                );
                return self.parse_failed(name, trouble(why));
            }
        };
        if let Err(d) = hclfmt::check(if stdin { "<stdin>" } else { name }, &text) {
            return self.parse_failed(name, d);
        }
        let formatted = hclfmt::format(&text);
        let sink = &self.out.sink;
        if formatted == text {
            if stdin {
                sink.write_out(&text);
            }
            return;
        }
        self.changed = true;
        if stdin {
            if self.write {
                sink.write_out(&formatted);
            }
            return;
        }
        sink.write_out(&format!("{name}\n"));
        if self.write {
            if let Err(e) = std::fs::write(name, &formatted) {
                return self
                    .errors
                    .push(trouble(format!("open {name}: {}", io_text(&e))));
            }
        }
        if self.diff {
            match unified_diff(&text, &formatted, name) {
                Ok(d) => sink.write_out(&d),
                Err(e) => self
                    .errors
                    .push(trouble(format!("failed to generate diff for {name}: {e}"))),
            }
        }
    }
}

/// `diff -u` between the two texts, labelled `old/NAME` and `new/NAME`, as Packer produces it
/// (it runs the same `diff` program on two temporary files).
fn unified_diff(old: &str, new: &str, name: &str) -> Result<String, String> {
    let dir = std::env::temp_dir();
    let stem = format!("rpack-fmt-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    let a = dir.join(format!("{stem}-old"));
    let b = dir.join(format!("{stem}-new"));
    let result = (|| {
        std::fs::write(&a, old).map_err(|e| e.to_string())?;
        std::fs::write(&b, new).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("diff")
            .arg(format!("--label=old/{name}"))
            .arg(format!("--label=new/{name}"))
            .arg("-u")
            .arg(&a)
            .arg(&b)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("exec: \"diff\": {e}"))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(text)
    })();
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    result
}
