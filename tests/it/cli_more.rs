//! The rest of an honest CLI (issue #21), through the real binary and side by side with Packer
//! 1.6.6: `fix` byte for byte on `tests/fixtures/fix`, `console` on a set of expressions,
//! shell completion (`completions`, `-autocomplete-install`, `COMP_LINE` answers), `help`
//! listing exactly the commands that exist, var-file errors with positions, and colour only on
//! a terminal; `-debug`'s pauses and `-on-error=ask`'s choices read from standard input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::fidelity::{as_packer, packer, packer_flag_error, run, Out};
use crate::support::paths::fresh_dir;

fn rpack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rpack"))
}

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn show(o: &Out) -> String {
    format!("exit {}\n{}", o.code, o.text)
}

#[test]
fn fix_prints_what_packer_prints_byte_for_byte() {
    let packer = packer();
    let (_link_dir, as_packer) = as_packer();
    let dir = fixtures("fix");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{files:?}");
    let mut failing = 0;
    for f in &files {
        for args in [
            vec!["fix", f.as_str()],
            vec!["fix", "-validate=false", f.as_str()],
        ] {
            let theirs = run(&packer, &dir, &args, &[]);
            failing += usize::from(theirs.code != 0);
            for bin in [&as_packer, &rpack_bin()] {
                let ours = run(bin, &dir, &args, &[]);
                assert_eq!(show(&ours), show(&theirs), "{args:?} as {}", bin.display());
            }
        }
    }
    // The fixtures cover Packer's failures too: decode, syntax, parse and validate errors.
    assert!(failing >= 8, "only {failing} failing runs");
    // Help, a missing template and an unknown flag.
    for args in [
        &["fix", "-h"][..],
        &["fix"],
        &["fix", "-nope", "x.json"],
        &["fix", "missing.json"],
    ] {
        let theirs = if args.contains(&"-nope") {
            let mut code = 0;
            let text = packer_flag_error(&packer, &dir, args, "-nope", |bin, dir, args| {
                let o = run(bin, dir, args, &[]);
                code = o.code;
                o.text
            });
            Out { code, text }
        } else {
            run(&packer, &dir, args, &[])
        };
        let ours = run(&as_packer, &dir, args, &[]);
        assert_eq!(show(&ours), show(&theirs), "{args:?}");
    }
}

/// `console` with `stdin` piped in.
fn console(bin: &Path, dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .arg("console")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(stdin.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Expressions whose result (or error) Packer 1.6.6's console gives deterministically.
const EXPRESSIONS: &[&str] = &[
    "{{user `greeting`}}",
    "{{user `derived`}}",
    "{{user `from_file`}}",
    "{{user `overridden`}}",
    "{{user `secret`}}",
    "{{user `undefined`}}",
    "{{ .Foo }}",
    "{{upper \"packer\"}}",
    "{{ lower \"AB\" | upper }}",
    "{{ split \"a,b,c\" \",\" 1 }}",
    "{{ replace_all \"a\" \"b\" \"banana\" }}",
    "{{ printf \"%05d-%s\" 42 (user `greeting`) }}",
    "{{ isotime \"2006\" | len }}",
    "{{template_dir}}",
    "help",
    "exit",
    "",
    "plain text",
    "{{build_name}}",
    "{{packer_version}}",
    "{{env `HOME`}}",
    "{{clean_resource_name \"a b\"}}",
    "{{",
    "first line\n{{user `greeting`}}",
];

#[test]
fn console_evaluates_like_packer() {
    let packer = packer();
    let (_link_dir, as_packer) = as_packer();
    let dir = fixtures("console");
    let args = [
        "-var",
        "overridden=from the command line",
        "-var-file=vars.json",
        "template.json",
    ];
    for expr in EXPRESSIONS {
        let input = format!("{expr}\n");
        let theirs = console(&packer, &dir, &args, &input);
        let theirs_text = format!("{}{}", theirs.1, theirs.2);
        let ours = console(&as_packer, &dir, &args, &input);
        assert_eq!(
            (ours.0, format!("{}{}", ours.1, ours.2)),
            (theirs.0, theirs_text.clone()),
            "as packer: {expr:?}"
        );
        // As rpack: the same result; a failed expression is an error on stderr, exit 1.
        let mine = console(&rpack_bin(), &dir, &args, &input);
        if theirs_text.starts_with("???????: Interpolation error") {
            assert_eq!(mine.0, 1, "{expr:?}: {mine:?}");
            assert!(
                mine.2.starts_with("Error: Interpolation error\n\n"),
                "{expr:?}: {mine:?}"
            );
            let detail = theirs_text.lines().nth(2).unwrap_or_default();
            assert!(mine.2.contains(detail), "{expr:?}: {mine:?}");
        } else {
            assert_eq!(
                (mine.0, mine.1.as_str()),
                (0, theirs_text.as_str()),
                "{expr:?}"
            );
        }
    }
    // Without a template: no variables, `user` renders "".
    for bin in [&packer, &as_packer] {
        let r = console(bin, &dir, &[], "{{user `greeting`}}-{{upper \"x\"}}\n");
        assert_eq!(
            r,
            (0, "-X\n".to_string(), String::new()),
            "{}",
            bin.display()
        );
    }
}

#[test]
fn console_variables_are_listed_sorted_and_masked() {
    let dir = fixtures("console");
    let (code, out, err) = console(
        &rpack_bin(),
        &dir,
        &["-var-file=vars.json", "template.json"],
        "variables\n",
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "\nderived: hello, world!,\nfrom_file: read from vars.json,\ngreeting: hello, world,\noverridden: default,\nsecret: <sensitive>,\n\n"
    );
    // A required variable left unset is an error as rpack (Packer goes on with no variables).
    let (code, _, err) = console(&rpack_bin(), &dir, &["required.json"], "{{user `r`}}\n");
    assert_eq!(code, 1);
    assert!(err.contains("required variable not set: r"), "{err}");
}

#[test]
fn console_on_a_terminal_prompts_and_stops_at_exit() {
    let dir = fixtures("console");
    let cmd = format!(
        "{} console -var-file=vars.json template.json",
        rpack_bin().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(&dir)
        .env("HOME", tempfile::tempdir().unwrap().path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    {
        use std::io::Write;
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(b"{{user `greeting`}}\nexit\n{{user `from_file`}}\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{text}");
    // The line editor redraws each line after its `> ` prompt; the result follows on the next
    // line, then the next prompt (console_tty.rs checks the editing keys).
    assert!(
        text.contains("> {{user `greeting`}}\x1b[K\nhello, world\n> "),
        "{text}"
    );
    assert!(
        !text.contains("read from vars.json\n"),
        "went on after exit: {text}"
    );
}

/// Runs the binary with `HOME` set to `home` and `env` added.
fn in_home(bin: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn completion_scripts_come_from_the_command_definitions() {
    let home = tempfile::tempdir().unwrap();
    let bash = in_home(&rpack_bin(), home.path(), &["completions", "bash"], &[]);
    assert_eq!(bash.code, 0, "{}", bash.text);
    let script = home.path().join("rpack.bash");
    std::fs::write(&script, &bash.text).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");
    for word in ["console", "fix", "completions", "--on-error", "--var-file"] {
        assert!(bash.text.contains(word), "bash script lacks {word}");
    }
    let zsh = in_home(&rpack_bin(), home.path(), &["completions", "zsh"], &[]);
    assert!(
        zsh.code == 0 && zsh.text.starts_with("#compdef rpack"),
        "{}",
        zsh.text
    );
    let fish = in_home(&rpack_bin(), home.path(), &["completions", "fish"], &[]);
    assert!(
        fish.code == 0 && fish.text.contains("complete -c rpack"),
        "{}",
        fish.text
    );
    let bad = in_home(&rpack_bin(), home.path(), &["completions", "tcsh"], &[]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.text.contains("rpack completes bash, zsh and fish"),
        "{}",
        bad.text
    );
}

/// `-autocomplete-install` writes what Packer 1.6.6's installer (posener/complete, vendored in
/// Packer) writes. Packer itself is not run here: it finds the home directory through the
/// password database and ignores `$HOME`, so it would edit the real user's files.
#[test]
fn autocomplete_install_edits_the_shell_files_like_packer() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(h.join(".bashrc"), "export A=1\n").unwrap();
    std::fs::write(h.join(".zshrc"), "").unwrap();
    std::fs::create_dir_all(h.join(".config/fish")).unwrap();
    let bin = rpack_bin();
    // The binary itself, links resolved (Go's os.Executable, Rust's current_exe).
    let abs = std::fs::canonicalize(&bin).unwrap();
    let abs = abs.display();
    let first = in_home(&bin, h, &["-autocomplete-install"], &[]);
    assert_eq!((first.code, first.text.as_str()), (0, ""));
    let read = |p: &str| std::fs::read_to_string(h.join(p)).unwrap();
    assert_eq!(
        read(".bashrc"),
        format!("export A=1\n\ncomplete -C {abs} rpack\n")
    );
    assert_eq!(
        read(".zshrc"),
        format!(
            "\nautoload -U +X bashcompinit && bashcompinit\ncomplete -o nospace -C {abs} rpack\n"
        )
    );
    assert_eq!(
        read(".config/fish/completions/rpack.fish"),
        format!("\nfunction __complete_rpack\n    set -lx COMP_LINE (commandline -cp)\n    test -z (commandline -ct)\n    and set COMP_LINE \"$COMP_LINE \"\n    {abs}\nend\ncomplete -f -c rpack -a \"(__complete_rpack)\"\n\n")
    );
    let again = in_home(&bin, h, &["-autocomplete-install"], &[]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.text,
        format!(
            "Error executing CLI: 3 errors occurred:\n\t* already installed in {b}\n\t* already installed in {z}\n\t* already installed at {f}\n\n\n",
            b = h.join(".bashrc").display(),
            z = h.join(".zshrc").display(),
            f = h.join(".config/fish/completions/rpack.fish").display()
        )
    );
    let off = in_home(&bin, h, &["-autocomplete-uninstall"], &[]);
    assert_eq!((off.code, off.text.as_str()), (0, ""));
    assert_eq!(read(".bashrc"), "export A=1\n\n");
    assert!(!h.join(".config/fish/completions/rpack.fish").exists());
    let again = in_home(&bin, h, &["-autocomplete-uninstall"], &[]);
    assert_eq!(again.code, 1);
    assert!(
        again.text.contains("does not installed in"),
        "{}",
        again.text
    );
    // Called as packer, the line names packer.
    let (_link_dir, link) = as_packer();
    assert_eq!(in_home(&link, h, &["-autocomplete-install"], &[]).code, 0);
    assert!(read(".bashrc").contains(&format!("\ncomplete -C {abs} packer\n")));
    // No shell at all.
    let empty = tempfile::tempdir().unwrap();
    let none = in_home(&bin, empty.path(), &["-autocomplete-install"], &[]);
    assert_eq!(
        (none.code, none.text.as_str()),
        (
            1,
            "Error executing CLI: Did not find any shells to install\n"
        )
    );
}

#[test]
fn the_shell_gets_candidates_for_the_word_being_completed() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("web.json"), "{}").unwrap();
    let ask = |line: &str| {
        in_home(
            &rpack_bin(),
            home.path(),
            &["rpack"],
            &[("COMP_LINE", line)],
        )
        .text
    };
    assert_eq!(ask("rpack fi"), "fix\n");
    assert_eq!(ask("rpack co"), "completions\nconsole\n");
    assert_eq!(ask("rpack -autocomplete-i"), "-autocomplete-install\n");
    assert_eq!(ask("rpack build -o"), "-on-error\n-only\n");
    assert_eq!(ask("rpack validate w"), "web.json\n");
    assert!(ask("rpack ").lines().any(|l| l == "validate"));
}

#[test]
fn help_lists_exactly_the_commands_that_exist() {
    let home = tempfile::tempdir().unwrap();
    let main = in_home(&rpack_bin(), home.path(), &["--help"], &[]);
    let listed: Vec<String> = main
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(listed.len() >= 11, "{listed:?}");
    assert_eq!(
        in_home(&rpack_bin(), home.path(), &["help"], &[]).text,
        main.text
    );
    for cmd in &listed {
        let h = in_home(&rpack_bin(), home.path(), &["help", cmd], &[]);
        assert_eq!(h.code, 0, "help {cmd}: {}", h.text);
        assert!(h.text.starts_with("Usage: "), "help {cmd}: {}", h.text);
        assert!(
            !h.text.contains("Available commands"),
            "help {cmd} is the main help"
        );
        let dash = in_home(&rpack_bin(), home.path(), &[cmd, "-h"], &[]);
        assert_eq!(dash.code, 0, "{cmd} -h: {}", dash.text);
        assert!(
            !dash.text.contains("Available commands"),
            "{cmd} -h: {}",
            dash.text
        );
    }
    assert!(listed.iter().any(|c| c == "fmt"), "{listed:?}");
    assert!(listed.iter().any(|c| c == "hcl2_upgrade"), "{listed:?}");
    // Packer 1.6.6 has no `push` command either: an unknown command.
    assert!(!listed.iter().any(|c| c == "push"));
    assert_eq!(in_home(&rpack_bin(), home.path(), &["push"], &[]).code, 127);
}

#[test]
fn var_file_errors_say_where() {
    let packer = packer();
    let dir = fixtures("console");
    let cases = [
        (
            "vars-number.json",
            "(vars-number.json:3:12: the value of \"count\" must be a string)",
        ),
        ("vars-syntax.json", "(vars-syntax.json:3:12)"),
    ];
    for (file, place) in cases {
        let arg = format!("-var-file={file}");
        let args = ["validate", arg.as_str(), "template.json"];
        let theirs = run(&packer, &dir, &args, &[]);
        let ours = run(&rpack_bin(), &dir, &args, &[]);
        assert_eq!(
            (theirs.code, ours.code),
            (1, 1),
            "{}\n{}",
            theirs.text,
            ours.text
        );
        // Packer's words, then where.
        assert!(
            ours.text.starts_with(theirs.text.trim_end()),
            "{}\n{}",
            theirs.text,
            ours.text
        );
        assert!(ours.text.contains(place), "{}", ours.text);
    }
    // A name set twice: Packer takes the later value silently; rpack says where.
    let args = ["validate", "-var-file=vars-twice.json", "template.json"];
    assert_eq!(run(&packer, &dir, &args, &[]).code, 0);
    let ours = run(&rpack_bin(), &dir, &args, &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.text.contains("Warning: variable \"greeting\" is set twice in vars-twice.json: at 2:3 and at 3:3; the value at 3:3 is used, as in Packer"),
        "{}",
        ours.text
    );
    let (_link_dir, link) = as_packer();
    assert!(!run(&link, &dir, &args, &[]).text.contains("Warning"));
}

#[test]
fn colour_only_on_a_terminal() {
    let packer = packer();
    let dir = fixtures("console");
    let args = ["build", "null.json"];
    // Packer colours a pipe; rpack does not.
    let theirs = run(&packer, &dir, &args, &[]);
    assert!(theirs.text.contains("\u{1b}[1;32m"), "{}", theirs.text);
    let ours = run(&rpack_bin(), &dir, &args, &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(!ours.text.contains('\u{1b}'), "{}", ours.text);
    // On a terminal rpack colours, unless -color=false.
    let on_tty = |extra: &str| {
        let cmd = format!("{} build {extra} null.json", rpack_bin().display());
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(&dir)
            .env("HOME", tempfile::tempdir().unwrap().path())
            .stdin(Stdio::null())
            .output()
            .expect("script(1) from util-linux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty("");
    assert!(
        coloured.contains("output will be in this color."),
        "{coloured}"
    );
    assert!(
        coloured.contains("\u{1b}[1;32mnull: output will be in this color.\u{1b}[0m"),
        "{coloured}"
    );
    assert!(
        !coloured.contains("\\u{1b}"),
        "colour codes printed as text: {coloured}"
    );
    let plain = on_tty("-color=false");
    assert!(!plain.contains("output will be in this color."), "{plain}");
}

/// Runs `rpack build` in `dir` with `stdin` fed to it; returns exit code and output.
fn build_with_stdin(dir: &std::path::Path, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .current_dir(dir)
        .arg("build")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn debug_pauses_after_each_step_and_ask_offers_packers_choices() {
    let dir = fresh_dir("build-debug");
    let tpl = |inline: &str| {
        json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": [inline]}]
        })
        .to_string()
    };
    std::fs::write(dir.join("ok.json"), tpl("echo provisioned")).unwrap();
    std::fs::write(dir.join("fail.json"), tpl("exit 7")).unwrap();

    let (code, out) =
        build_with_stdin(&dir, &["-color=false", "-debug", "ok.json"], "\n\n\n\n\n\n");
    assert_eq!(code, Some(0), "{out}");
    for step in ["StepConnect", "StepProvision"] {
        let pause = format!("Pausing after run of step '{step}'. Press enter to continue.");
        assert_eq!(out.matches(&pause).count(), 1, "{pause:?} once in:\n{out}");
    }
    assert!(
        !out.contains("continue. Press enter"),
        "the prompt is not doubled:\n{out}"
    );

    let (code, out) =
        build_with_stdin(&dir, &["-color=false", "-on-error=ask", "fail.json"], "c\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("[c] Clean up and exit, [a] abort without cleanup, or [r] retry step"),
        "{out}"
    );
    assert!(out.contains("Build 'null' errored"), "{out}");
}
