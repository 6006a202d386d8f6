//! Equivalence of hand-written HCL2 twins and their JSON templates: the shipped templates
//! (`templates/*.pkr.hcl`, `templates/nodejs-*/custom_platform.pkr.hcl`) and the twins of JSON
//! fixtures in `tests/fixtures/hcl2/twins/` each check into the same plan as the JSON
//! (`plan::describe` of every build, as `hcl2_upgrade` compares them: every key of every
//! builder, provisioner and post-processor after decoding, with its defaults). `inspect` is no
//! measure here: as in Packer, it prints an HCL2 template in its own HCL2 layout.

use std::path::PathBuf;

use crate::hcl2_upgrade::plan_of;
use crate::support::paths::{fresh_dir, repo_root};

/// A twin, the JSON template it copies, and the var file both take.
pub(crate) struct Pair {
    pub hcl: PathBuf,
    pub json: PathBuf,
    pub var_file: Option<PathBuf>,
}

/// Twins of fixtures: `tests/fixtures/hcl2/twins/<stem>.pkr.hcl` copies `<dir>/<stem>.json`.
const FIXTURE_TWINS: &[(&str, &str)] = &[
    ("fixable", "tests/fixtures/templates"),
    ("file-content", "tests/fixtures/fidelity"),
    ("netfilter-list", "tests/fixtures/fidelity"),
    ("ssh-algorithms", "tests/fixtures/fidelity"),
    ("ssh-proxy", "tests/fixtures/fidelity"),
    ("ssh-tunnels-remote", "tests/fixtures/fidelity"),
    ("unlimited-credits-t3", "tests/fixtures/fidelity"),
    ("weak-int-string", "tests/fixtures/fidelity"),
    ("weak-map-slice-of-maps", "tests/fixtures/fidelity"),
    ("weak-slice-single", "tests/fixtures/fidelity"),
    ("weak-bool-number", "tests/fixtures/fidelity"),
    ("amazon", "tests/fixtures/upgrade"),
];

/// The shipped templates: HCL2 next to its JSON.
pub(crate) fn shipped_pairs() -> Vec<Pair> {
    let t = repo_root().join("templates");
    let mut out = vec![Pair {
        hcl: t.join("tara-ebcustom-platform.pkr.hcl"),
        json: t.join("tara-ebcustom-platform.json"),
        var_file: Some(t.join("tara-local.vars.json")),
    }];
    for os in ["al2023", "rhel9", "ubuntu2204", "ubuntu2404"] {
        let d = t.join(format!("nodejs-{os}"));
        out.push(Pair {
            hcl: d.join("custom_platform.pkr.hcl"),
            json: d.join("custom_platform.json"),
            var_file: None,
        });
    }
    out
}

/// The fixture twins, each copied with its JSON into a fresh directory (a twin's
/// `{{template_dir}}` is its JSON's directory), and the existing `null_twin`.
fn fixture_pairs() -> Vec<Pair> {
    let dir = fresh_dir("hcl2-equiv");
    let mut out = Vec::new();
    for (stem, json_dir) in FIXTURE_TWINS {
        let json = dir.join(format!("{stem}.json"));
        let hcl = dir.join(format!("{stem}.pkr.hcl"));
        std::fs::copy(
            repo_root().join(json_dir).join(format!("{stem}.json")),
            &json,
        )
        .unwrap();
        std::fs::copy(
            repo_root().join(format!("tests/fixtures/hcl2/twins/{stem}.pkr.hcl")),
            &hcl,
        )
        .unwrap();
        out.push(Pair {
            hcl,
            json,
            var_file: None,
        });
    }
    let h = repo_root().join("tests/fixtures/hcl2");
    out.push(Pair {
        hcl: h.join("null_twin.pkr.hcl"),
        json: h.join("null_twin.json"),
        var_file: None,
    });
    out
}

/// What differs between a pair, if anything.
fn compare(pair: &Pair) -> Result<(), String> {
    let vf: Vec<String> = pair
        .var_file
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let name = pair.hcl.display();
    let want = plan_of(&pair.json, &vf).map_err(|e| format!("{name}: the JSON fails: {e}"))?;
    let got = plan_of(&pair.hcl, &vf).map_err(|e| format!("{name}: the twin fails: {e}"))?;
    if want.len() != got.len() {
        return Err(format!(
            "{name}: {} builds, the JSON has {}",
            got.len(),
            want.len()
        ));
    }
    for ((wn, w), (gn, g)) in want.iter().zip(&got) {
        if w != g {
            let diff: Vec<String> = w
                .lines()
                .zip(g.lines())
                .filter(|(a, b)| a != b)
                .take(6)
                .map(|(a, b)| format!("  json: {a}\n  hcl2: {b}"))
                .collect();
            return Err(format!(
                "{name}: build {gn} differs from {wn}:\n{}",
                diff.join("\n")
            ));
        }
    }
    Ok(())
}

#[test]
fn hand_written_twins_check_into_the_json_plan() {
    let pairs: Vec<Pair> = fixture_pairs().into_iter().chain(shipped_pairs()).collect();
    let failures: Vec<String> = pairs.iter().filter_map(|p| compare(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(pairs.len() >= 18, "{}", pairs.len());
}

/// The comparison sees a difference: a twin with one value changed, a twin with a provisioner
/// dropped.
#[test]
fn twin_comparison_sees_a_changed_value() {
    let dir = fresh_dir("hcl2-equiv-neg");
    let json = dir.join("amazon.json");
    std::fs::copy(
        repo_root().join("tests/fixtures/upgrade/amazon.json"),
        &json,
    )
    .unwrap();
    let twin =
        std::fs::read_to_string(repo_root().join("tests/fixtures/hcl2/twins/amazon.pkr.hcl"))
            .unwrap();
    let hcl = dir.join("amazon.pkr.hcl");
    for changed in [
        twin.replace("volume_size           = 20", "volume_size           = 21"),
        twin.replace("{{ .Vars }} {{ .Path }}", "{{ .Path }}"),
    ] {
        assert_ne!(changed, twin);
        std::fs::write(&hcl, &changed).unwrap();
        let pair = Pair {
            hcl: hcl.clone(),
            json: json.clone(),
            var_file: None,
        };
        assert!(compare(&pair).is_err());
    }
    std::fs::write(&hcl, &twin).unwrap();
    let pair = Pair {
        hcl,
        json,
        var_file: None,
    };
    assert_eq!(compare(&pair), Ok(()));
}
