//! The HCL2 conformance corpus (`tests/fixtures/hcl2/corpus/<case>/`): one feature or one error
//! per case, each with an `expect` file holding its verdict. Every case is validated (and built,
//! when it names build output: all cases use the `null` builder and `shell-local`, or amazon-ebs
//! for `validate` only) by rpack and, where Packer 1.6.6's beta HCL2 has the feature
//! (`packer: same`), by Packer side by side, which must agree.
//!
//! `expect` keys, one per line (`#` starts a comment):
//! - `args:` extra arguments for `validate` and `build` (split on spaces);
//! - `exit:` the `validate` exit code (rpack's, and Packer's with `packer: same`);
//! - `packer: same` (run Packer too) or `packer: lacks …` (1.6.6 lacks the feature; the verdict
//!   then comes from Packer's documentation and `hcl2template` source, named by `source:`);
//! - `both:` a text in both tools' `validate` output; `rpack:` / `rpack-absent:` in (not in)
//!   rpack's only; `packer-only:` in Packer's only (where rpack words it differently);
//! - `at: FILE:LINE [rpack]` a position: `FILE:LINE:` in rpack's output and, unless `rpack` is
//!   given, `FILE line LINE` or `FILE:LINE,` (HCL's spellings) in Packer's;
//! - `build:` a text in both tools' `build` output; `build-rpack:` / `build-packer:` in one
//!   only; `build-absent:` in neither; `build-exit-packer:` Packer's build exit code when not 0;
//! - `difference:` a known difference from Packer, with its reason (the `*-rpack`/`packer-only`
//!   lines pin both sides, so a change on either side makes the case fail and be looked at).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::paths::repo_root;

fn corpus() -> PathBuf {
    repo_root().join("tests/fixtures/hcl2/corpus")
}

#[derive(Default, Debug)]
struct Expect {
    args: Vec<String>,
    exit: Option<i32>,
    packer_same: bool,
    packer_line: Option<String>,
    source: Option<String>,
    both: Vec<String>,
    rpack: Vec<String>,
    rpack_absent: Vec<String>,
    packer_only: Vec<String>,
    at: Vec<(String, bool)>,
    build: Vec<String>,
    build_rpack: Vec<String>,
    build_packer: Vec<String>,
    build_absent: Vec<String>,
    build_exit_packer: i32,
    differences: Vec<String>,
}

fn read_expect(path: &Path) -> Result<Expect, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut e = Expect::default();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("{}: no `key: value` in {line:?}", path.display()))?;
        let v = value.to_string();
        match key {
            "args" => e.args = value.split(' ').map(str::to_string).collect(),
            "exit" => e.exit = Some(value.parse().map_err(|_| format!("exit: {value}"))?),
            "packer" => {
                e.packer_same = value == "same";
                if !e.packer_same && !value.starts_with("lacks") {
                    return Err(format!("{}: packer: {value}", path.display()));
                }
                e.packer_line = Some(v);
            }
            "source" => e.source = Some(v),
            "both" => e.both.push(v),
            "rpack" => e.rpack.push(v),
            "rpack-absent" => e.rpack_absent.push(v),
            "packer-only" => e.packer_only.push(v),
            "at" => match value.strip_suffix(" rpack") {
                Some(p) => e.at.push((p.to_string(), false)),
                None => e.at.push((v, true)),
            },
            "build" => e.build.push(v),
            "build-rpack" => e.build_rpack.push(v),
            "build-packer" => e.build_packer.push(v),
            "build-absent" => e.build_absent.push(v),
            "build-exit-packer" => {
                e.build_exit_packer = value.parse().map_err(|_| value.to_string())?;
            }
            "difference" => e.differences.push(v),
            _ => return Err(format!("{}: unknown key {key:?}", path.display())),
        }
    }
    if e.exit.is_none() || e.packer_line.is_none() {
        return Err(format!(
            "{}: `exit:` and `packer:` are required",
            path.display()
        ));
    }
    if !e.packer_same && e.source.is_none() {
        return Err(format!(
            "{}: a case Packer 1.6.6 cannot check names its `source:`",
            path.display()
        ));
    }
    Ok(e)
}

/// Runs `bin args… .` in `dir`: exit code and stdout+stderr.
fn run(bin: &Path, dir: &Path, args: &[String]) -> (i32, String) {
    let out = Command::new(bin)
        .args(args)
        .arg(".")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CONFIG_DIR", dir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn copy_case(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "expect" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// HCL's position spellings in Packer's output: `f line N` and `f:N,c-c`.
fn packer_has_position(text: &str, file: &str, line: &str) -> bool {
    text.contains(&format!("{file} line {line}")) || text.contains(&format!("{file}:{line},"))
}

/// Checks one case; the problems found, each naming the case.
fn check_case(name: &str, dir: &Path, packer: Option<&Path>) -> Vec<String> {
    let mut bad = Vec::new();
    let e = match read_expect(&dir.join("expect")) {
        Ok(e) => e,
        Err(m) => return vec![m],
    };
    let rpack = PathBuf::from(env!("CARGO_BIN_EXE_rpack"));
    let work = tempfile::tempdir().unwrap();
    let mut fail = |m: String| bad.push(format!("{name}: {m}"));

    // validate
    let copy = work.path().join("r");
    copy_case(dir, &copy);
    let mut args = vec!["validate".to_string()];
    args.extend(e.args.iter().cloned());
    let (code, out) = run(&rpack, &copy, &args);
    if Some(code) != e.exit {
        fail(format!(
            "rpack validate exit {code}, expected {:?}:\n{out}",
            e.exit
        ));
    }
    for s in e.both.iter().chain(&e.rpack) {
        if !out.contains(s.as_str()) {
            fail(format!("rpack validate lacks {s:?}:\n{out}"));
        }
    }
    for s in &e.rpack_absent {
        if out.contains(s.as_str()) {
            fail(format!("rpack validate has {s:?}:\n{out}"));
        }
    }
    for (pos, _) in &e.at {
        if !out.contains(&format!("{pos}:")) {
            fail(format!("rpack validate lacks the position {pos}:\n{out}"));
        }
    }
    let theirs = match (e.packer_same, packer) {
        (true, Some(p)) => {
            let pcopy = work.path().join("p");
            copy_case(dir, &pcopy);
            let (pcode, pout) = run(p, &pcopy, &args);
            if pcode != code {
                fail(format!(
                    "exit codes differ: rpack {code}, packer {pcode}\nrpack:\n{out}\npacker:\n{pout}"
                ));
            }
            for s in e.both.iter().chain(&e.packer_only) {
                if !pout.contains(s.as_str()) {
                    fail(format!("packer validate lacks {s:?}:\n{pout}"));
                }
            }
            for (pos, with_packer) in &e.at {
                let (file, line) = pos.rsplit_once(':').unwrap_or((pos, ""));
                if *with_packer && !packer_has_position(&pout, file, line) {
                    fail(format!("packer validate lacks the position {pos}:\n{pout}"));
                }
            }
            Some(p)
        }
        _ => None,
    };

    // build
    let wants_build =
        !(e.build.is_empty() && e.build_rpack.is_empty() && e.build_packer.is_empty());
    if wants_build {
        let mut args = vec!["build".to_string(), "-color=false".to_string()];
        args.extend(e.args.iter().cloned());
        let copy = work.path().join("rb");
        copy_case(dir, &copy);
        let (code, out) = run(&rpack, &copy, &args);
        if code != 0 {
            fail(format!("rpack build exit {code}:\n{out}"));
        }
        for s in e.build.iter().chain(&e.build_rpack) {
            if !out.contains(s.as_str()) {
                fail(format!("rpack build lacks {s:?}:\n{out}"));
            }
        }
        for s in &e.build_absent {
            if out.contains(s.as_str()) {
                fail(format!("rpack build has {s:?}:\n{out}"));
            }
        }
        if let Some(p) = theirs {
            let pcopy = work.path().join("pb");
            copy_case(dir, &pcopy);
            let (pcode, pout) = run(p, &pcopy, &args);
            if pcode != e.build_exit_packer {
                fail(format!(
                    "packer build exit {pcode}, expected {}:\n{pout}",
                    e.build_exit_packer
                ));
            }
            for s in e.build.iter().chain(&e.build_packer) {
                if !pout.contains(s.as_str()) {
                    fail(format!("packer build lacks {s:?}:\n{pout}"));
                }
            }
            for s in &e.build_absent {
                if pout.contains(s.as_str()) {
                    fail(format!("packer build has {s:?}:\n{pout}"));
                }
            }
        }
    }
    bad
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

#[test]
fn corpus_cases_get_their_expected_verdicts_and_agree_with_packer() {
    let packer = crate::fidelity::packer();
    let cases = cases();
    let mut bad = Vec::new();
    let mut compared = Vec::new();
    let mut differences = Vec::new();
    for (name, dir) in &cases {
        bad.extend(check_case(name, dir, Some(&packer)));
        if let Ok(e) = read_expect(&dir.join("expect")) {
            if e.packer_same {
                compared.push(name.clone());
            }
            differences.extend(e.differences.iter().map(|d| format!("{name}: {d}")));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    eprintln!(
        "{} cases, {} compared with Packer 1.6.6; known differences:\n{}",
        cases.len(),
        compared.len(),
        differences.join("\n")
    );
    // A corpus of both kinds, most of it checked against Packer.
    let errors = cases.iter().filter(|(n, _)| n.starts_with("err_")).count();
    assert!(cases.len() >= 30 && errors >= 12, "{cases:?}");
    assert!(compared.len() >= 25, "{compared:?}");
}

/// The checker sees a wrong verdict: a case whose expected output is changed fails.
#[test]
fn corpus_checker_fails_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("var_types");
    copy_case(&corpus().join("var_types"), &case);
    let good = std::fs::read_to_string(corpus().join("var_types/expect")).unwrap();
    std::fs::write(case.join("expect"), &good).unwrap();
    assert!(check_case("var_types", &case, None).is_empty());
    std::fs::write(case.join("expect"), good.replace("web 3", "web 4")).unwrap();
    assert_eq!(check_case("var_types", &case, None).len(), 1);
    std::fs::write(case.join("expect"), good.replace("exit: 0", "exit: 1")).unwrap();
    assert_eq!(check_case("var_types", &case, None).len(), 1);
}
