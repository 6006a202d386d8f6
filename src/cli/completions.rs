//! Shell completion: `rpack completions bash|zsh|fish` prints a script generated from the clap
//! definitions ([`super::manual`]); `-autocomplete-install` / `-autocomplete-uninstall` edit the
//! shell start-up files the way Packer 1.6.6 does (posener/complete: `complete -C <binary>
//! <name>` appended to the first of `.bashrc`, `.bash_profile`, `.bash_login`, `.profile` that
//! exists, the same with `bashcompinit` in `.zshrc`, a `completions/<name>.fish` file in an
//! existing fish config directory); the shell then runs the binary with `COMP_LINE` set and it
//! answers with the candidates ([`answer`]).
//!
//! Packer finds the home directory through the password database and ignores `$HOME`; rpack
//! uses `$HOME` (and `$XDG_CONFIG_HOME` for fish, as Packer does), so the files it edits are
//! the ones the user's shell reads.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ui::Ui;

pub(super) const HELP: &str = "Usage: rpack completions bash|zsh|fish

  Prints the completion script for the shell. For example:

    rpack completions bash > ~/.local/share/bash-completion/completions/rpack
    rpack completions zsh > \"${fpath[1]}/_rpack\"
    rpack completions fish > ~/.config/fish/completions/rpack.fish

  Or, as Packer does, let rpack edit the shell's start-up files:

    rpack -autocomplete-install      (and -autocomplete-uninstall)";

/// `rpack completions SHELL`.
pub(super) fn run(ui: &dyn Ui, rest: &[String]) -> i32 {
    let shell = if let [s] = rest {
        match s.as_str() {
            "bash" => clap_complete::Shell::Bash,
            "zsh" => clap_complete::Shell::Zsh,
            "fish" => clap_complete::Shell::Fish,
            other => {
                ui.say(HELP);
                ui.error(&format!(
                    "unknown shell {other:?}: rpack completes bash, zsh and fish"
                ));
                return 1;
            }
        }
    } else {
        ui.say(HELP);
        return 1;
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut super::manual::command(), "rpack", &mut buf);
    let mut out = std::io::stdout().lock();
    if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
        return 1;
    }
    0
}

/// One shell's start-up file (or fish's completion file).
enum Target {
    /// A file that gets one line (bash, zsh).
    Rc { file: PathBuf, zsh: bool },
    /// fish's config directory.
    Fish(PathBuf),
}

fn targets(home: &Path) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(file) = [".bashrc", ".bash_profile", ".bash_login", ".profile"]
        .iter()
        .map(|f| home.join(f))
        .find(|p| p.exists())
    {
        out.push(Target::Rc { file, zsh: false });
    }
    let zshrc = home.join(".zshrc");
    if zshrc.exists() {
        out.push(Target::Rc {
            file: zshrc,
            zsh: true,
        });
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home.join(".config"), PathBuf::from);
    let fish = config.join("fish");
    if fish.is_dir() {
        out.push(Target::Fish(fish));
    }
    out
}

fn has_line(file: &Path, line: &str) -> bool {
    fs::read_to_string(file).is_ok_and(|s| s.lines().any(|l| l == line))
}

fn fish_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("completions").join(format!("{name}.fish"))
}

fn fish_script(name: &str, bin: &str) -> String {
    format!(
        "\nfunction __complete_{name}\n    set -lx COMP_LINE (commandline -cp)\n    test -z (commandline -ct)\n    and set COMP_LINE \"$COMP_LINE \"\n    {bin}\nend\ncomplete -f -c {name} -a \"(__complete_{name})\"\n\n"
    )
}

fn install_one(t: &Target, name: &str, bin: &str) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    match t {
        Target::Rc { file, zsh } => {
            let line = if *zsh {
                format!("complete -o nospace -C {bin} {name}")
            } else {
                format!("complete -C {bin} {name}")
            };
            if has_line(file, &line) {
                return Err(format!("already installed in {}", file.display()));
            }
            let init = "autoload -U +X bashcompinit && bashcompinit";
            let text = if *zsh && !has_line(file, init) {
                format!("\n{init}\n{line}\n")
            } else {
                format!("\n{line}\n")
            };
            let mut f = fs::OpenOptions::new().append(true).open(file).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)
        }
        Target::Fish(dir) => {
            let path = fish_file(dir, name);
            if path.exists() {
                return Err(format!("already installed at {}", path.display()));
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io)?;
            }
            fs::write(&path, fish_script(name, bin)).map_err(io)
        }
    }
}

fn uninstall_one(t: &Target, name: &str, bin: &str) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    match t {
        Target::Rc { file, zsh } => {
            let line = if *zsh {
                format!("complete -o nospace -C {bin} {name}")
            } else {
                format!("complete -C {bin} {name}")
            };
            if !has_line(file, &line) {
                return Err(format!("does not installed in {}", file.display()));
            }
            let text = fs::read_to_string(file).map_err(io)?;
            let kept: String = text
                .lines()
                .filter(|l| *l != line)
                .map(|l| format!("{l}\n"))
                .collect();
            fs::write(file, kept).map_err(io)
        }
        Target::Fish(dir) => {
            let path = fish_file(dir, name);
            if !path.exists() {
                return Err(format!("does not installed in {}", dir.display()));
            }
            fs::remove_file(path).map_err(io)
        }
    }
}

/// `-autocomplete-install` (`install`) or `-autocomplete-uninstall`: Packer's messages
/// (`Error executing CLI: …`, go-multierror's list), exit 1 on any failure.
pub(super) fn autocomplete(ui: &dyn Ui, install: bool) -> i32 {
    let name = if super::persona::as_packer() {
        "packer"
    } else {
        "rpack"
    };
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        ui.error("Error executing CLI: HOME is not set: rpack needs it to find the shell's start-up files");
        return 1;
    };
    let found = targets(Path::new(&home));
    if found.is_empty() {
        let verb = if install { "install" } else { "uninstall" };
        ui.error(&format!(
            "Error executing CLI: Did not find any shells to {verb}"
        ));
        return 1;
    }
    let bin = match std::env::current_exe().and_then(std::path::absolute) {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(e) => {
            ui.error(&format!("Error executing CLI: {e}"));
            return 1;
        }
    };
    let errors: Vec<String> = found
        .iter()
        .filter_map(|t| {
            if install {
                install_one(t, name, &bin).err()
            } else {
                uninstall_one(t, name, &bin).err()
            }
        })
        .collect();
    if errors.is_empty() {
        return 0;
    }
    ui.error(&format!(
        "Error executing CLI: {}",
        crate::gocompat::fmt::multierror(&errors)
    ));
    1
}

/// The shell asks for completions (`COMP_LINE` set): the candidates for the word under the
/// cursor, one per line: commands and global flags first, then the command's flags, and file
/// names for a command's arguments.
pub(super) fn answer(line: &str, point: Option<usize>) -> Vec<String> {
    let line = match point {
        Some(p) if p <= line.len() && line.is_char_boundary(p) => &line[..p],
        _ => line,
    };
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let last = if line.ends_with(char::is_whitespace) || words.is_empty() {
        ""
    } else {
        words.pop().unwrap_or("")
    };
    let cmd = super::manual::command();
    let mut out: Vec<String> = match words.get(1) {
        None => cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .filter(|n| n != "help")
            .chain(
                [
                    "-autocomplete-install",
                    "-autocomplete-uninstall",
                    "-help",
                    "-version",
                ]
                .map(String::from),
            )
            .collect(),
        Some(sub) => match cmd.find_subcommand(sub) {
            Some(s) => {
                let mut c: Vec<String> = s
                    .get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("-{l}"))
                    .chain(s.get_subcommands().map(|x| x.get_name().to_string()))
                    .collect();
                if !last.starts_with('-') {
                    c.extend(files(last));
                }
                c
            }
            None => Vec::new(),
        },
    };
    out.retain(|c| c.starts_with(last));
    out.sort();
    out.dedup();
    out
}

/// Paths completing `prefix` (directories with a trailing `/`).
fn files(prefix: &str) -> Vec<String> {
    let (dir, shown) = match prefix.rfind('/') {
        Some(i) => (&prefix[..=i], &prefix[..=i]),
        None => ("./", ""),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .take(1000)
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let slash = if e.path().is_dir() { "/" } else { "" };
            format!("{shown}{name}{slash}")
        })
        .collect()
}
