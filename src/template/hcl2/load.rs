//! Finding and reading an HCL2 template's inputs: a `.pkr.hcl` file or a directory of them
//! (not recursive), `*.auto.pkrvars.hcl|json` next to them, `-var-file`s, and parsing each file
//! with hcl-edit so every node keeps its byte span.

use std::path::{Path, PathBuf};

use hcl_edit::structure::{Body, Structure};

use super::diag::{Diag, SourceFile};

/// Files larger than this are refused before reading (a template is a few KB).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Whether `path` names an HCL2 template: a directory or a `.pkr.hcl`/`.pkr.json` file.
pub(crate) fn is_hcl2_path(path: &str) -> bool {
    path != "-"
        && (path.ends_with(".pkr.hcl")
            || path.ends_with(".pkr.json")
            || std::fs::metadata(path).is_ok_and(|m| m.is_dir()))
}

/// The template files and the automatically loaded variable files for `path`.
pub(crate) fn discover(path: &str) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Diag> {
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| {
        Diag::error(
            None,
            "Failed to read the template",
            format!("{path}: {}", crate::template::parse::io_error_text(&e)),
        )
    })?;
    if !meta.is_dir() {
        return Ok((vec![p.to_path_buf()], Vec::new()));
    }
    let mut templates = Vec::new();
    let mut auto = Vec::new();
    let entries = std::fs::read_dir(p).map_err(|e| {
        Diag::error(
            None,
            "Failed to read the template directory",
            format!("{path}: {}", crate::template::parse::io_error_text(&e)),
        )
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().map_or(true, |t| t.is_dir()) {
            continue;
        }
        if name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json") {
            templates.push(e.path());
        } else if name.ends_with(".auto.pkrvars.hcl") || name.ends_with(".auto.pkrvars.json") {
            auto.push(e.path());
        }
    }
    templates.sort();
    auto.sort();
    if templates.is_empty() {
        return Err(Diag::error(
            None,
            format!("Could not find any config file in {path}"),
            "A config file must be suffixed with `.pkr.hcl` or `.pkr.json`. A folder can be referenced.",
        ));
    }
    Ok((templates, auto))
}

/// Reads a file (bounded) as text.
pub(crate) fn read(path: &Path) -> Result<SourceFile, Diag> {
    let name = path.display().to_string();
    let fail = |detail: String| Diag::error(None, "Failed to read file", detail);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{name}: {}", io_text(&e))))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "{name} is {} bytes; HCL files larger than {MAX_FILE_BYTES} bytes are refused.",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("{name}: {}", io_text(&e))))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "{name} is not valid UTF-8 (at byte {}).",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(SourceFile::new(name, text))
}

fn io_text(e: &std::io::Error) -> String {
    crate::template::parse::io_error_text(e)
}

/// Parses a file in HCL's native syntax, or in HCL's JSON syntax when its name ends in `.json`
/// (`attrs_only`: a var file, whose keys are all attributes). A JSON file gets the offset map
/// of its rewrite, so positions name the JSON source.
pub(crate) fn parse(file: &mut SourceFile, attrs_only: bool) -> Result<Body, Diag> {
    if file.name.ends_with(".json") {
        let c = super::json_syntax::convert(file, attrs_only)?;
        file.map = c.map;
        return hcl_edit::parser::parse_body(&c.text).map_err(|e| {
            Diag::error(
                Some(file.loc(e.location().offset())),
                "Invalid expression",
                e.message().to_string(),
            )
        });
    }
    let top_lines = super::limits::check_native(file)?;
    parse_native(&file.text, &top_lines).map_err(|e| {
        let l = e.location();
        // hcl-edit's column counts from 1 in characters of the line.
        let mut loc = file.loc(l.offset());
        loc.line = l.line();
        loc.col = l.column();
        Diag::error(Some(loc), "Invalid HCL syntax", e.message().to_string())
    })
}

/// Native-syntax files at least this large are parsed as two halves at once.
const SPLIT_BYTES: usize = 32 << 10;

/// hcl-edit's parse of `text`. A large file is cut at the top-level line ([`top_lines`],
/// from [`super::limits::check_native`]) nearest its middle, and the halves are parsed on two
/// threads: the second half is parsed behind blanks standing for the first, so every span is
/// where it is in `text`. Top-level structures do not share anything, so the two bodies
/// together are the whole file's. When either half has an error or a top-level attribute
/// (attributes are checked for redefinition across the whole body), the file is parsed whole,
/// which gives hcl-edit's verdict and wording.
///
/// [`top_lines`]: super::limits::check_native
fn parse_native(text: &str, top_lines: &[usize]) -> Result<Body, hcl_edit::parser::Error> {
    let middle = text.len() / 2;
    let cut = top_lines
        .iter()
        .copied()
        .min_by_key(|&at| at.abs_diff(middle))
        .filter(|_| text.len() >= SPLIT_BYTES);
    if let Some(cut) = cut {
        if let Some(body) = parse_halves(text, cut) {
            return Ok(body);
        }
    }
    hcl_edit::parser::parse_body(text)
}

/// [`parse_native`]'s two halves, cut at `cut`; `None` when they cannot stand for the whole.
fn parse_halves(text: &str, cut: usize) -> Option<Body> {
    let mut behind_blanks = String::with_capacity(text.len());
    behind_blanks.extend(std::iter::repeat_n(' ', cut));
    behind_blanks.push_str(&text[cut..]);
    let (head, tail) = std::thread::scope(|s| {
        let tail = std::thread::Builder::new()
            .name("rpack-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, || hcl_edit::parser::parse_body(&behind_blanks))
            .ok()?;
        let head = hcl_edit::parser::parse_body(&text[..cut]);
        Some((head, tail.join().ok()?))
    })?;
    let (mut head, tail) = (head.ok()?, tail.ok()?);
    let attribute = |b: &Body| b.iter().any(|s| matches!(s, Structure::Attribute(_)));
    if attribute(&head) || attribute(&tail) {
        return None;
    }
    for s in tail {
        head.push(s);
    }
    Some(head)
}

/// The stack of the thread parsing a file's second half: hcl-edit recurses once per nesting
/// level ([`super::limits::MAX_NESTING`] at most); only the pages touched are committed.
const PARSE_STACK: usize = 16 << 20;

/// Parsed files: each file's text (for positions) with its body.
pub(crate) struct Parsed {
    pub files: Vec<SourceFile>,
    pub bodies: Vec<Body>,
}

/// Reads and parses every file, collecting all the problems.
pub(crate) fn parse_all(paths: &[PathBuf], diags: &mut Vec<Diag>) -> Parsed {
    let mut out = Parsed {
        files: Vec::new(),
        bodies: Vec::new(),
    };
    for p in paths {
        let mut f = match read(p) {
            Ok(f) => f,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match parse(&mut f, false) {
            Ok(b) => {
                f.index = u32::try_from(out.files.len()).unwrap_or(u32::MAX);
                out.files.push(f);
                out.bodies.push(b);
            }
            Err(d) => diags.push(d),
        }
    }
    out
}

/// Where every structure, key and expression of `body` starts, in order.
fn starts(body: &Body) -> Vec<Option<usize>> {
    use hcl_edit::visit::{self, Visit};
    use hcl_edit::Span;
    struct V(Vec<Option<usize>>);
    impl Visit for V {
        fn visit_structure(&mut self, node: &Structure) {
            self.0.push(node.span().map(|r| r.start));
            visit::visit_structure(self, node);
        }
        fn visit_attr(&mut self, node: &hcl_edit::structure::Attribute) {
            self.0.push(node.key.span().map(|r| r.start));
            visit::visit_attr(self, node);
        }
        fn visit_expr(&mut self, node: &hcl_edit::expr::Expression) {
            self.0.push(node.span().map(|r| r.start));
            visit::visit_expr(self, node);
        }
    }
    let mut v = V(Vec::new());
    v.visit_body(body);
    v.0
}

/// Checks [`parse_native`]'s two halves against the whole file's parse at up to `most` of the
/// places native text `text` can be cut (spread over the file): where the whole parses, the
/// halves give its tree (values and where every node starts) or stand back; where it does not,
/// they stand back. The number of cuts that joined, or what differed. For the tests and the
/// fuzzer.
pub(crate) fn halves_agree(text: &str, most: usize) -> Result<usize, String> {
    let Ok(cuts) = super::limits::check_native(&SourceFile::new("t.pkr.hcl", text)) else {
        return Ok(0);
    };
    let step = (cuts.len() / most.max(1)).max(1);
    let whole = hcl_edit::parser::parse_body(text);
    let mut joined = 0;
    for &cut in cuts.iter().step_by(step) {
        let Some(halves) = parse_halves(text, cut) else {
            continue;
        };
        let Ok(whole) = &whole else {
            return Err(format!(
                "cut at {cut}: the halves parse, the whole does not"
            ));
        };
        if hcl::Body::from(halves.clone()) != hcl::Body::from(whole.clone()) {
            return Err(format!("cut at {cut}: the halves' tree differs"));
        }
        if starts(&halves) != starts(whole) {
            return Err(format!("cut at {cut}: the halves' positions differ"));
        }
        joined += 1;
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_templates() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut dirs = vec![
            root.join("templates"),
            root.join("tests/fixtures/hcl2"),
            root.join("fuzz/corpus/hcl2"),
        ];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.to_string_lossy().ends_with(".pkr.hcl") {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Cut at every top-level line of every template in the repository, the two halves give
    /// the whole file's syntax tree or stand back.
    #[test]
    fn halves_parse_as_the_whole() {
        let files = repo_templates();
        assert!(files.len() > 50, "found {} templates", files.len());
        let mut joined = 0;
        for p in files {
            let text = std::fs::read_to_string(&p).expect("reads");
            joined +=
                halves_agree(&text, usize::MAX).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        assert!(joined > 100, "{joined} cuts joined");
    }

    #[test]
    fn a_large_file_parses_in_halves_with_the_whole_files_errors() {
        let block = |i: usize| format!("variable \"v{i}\" {{\n  default = \"x-{i}\"\n}}\n");
        // Cut past 64 KiB (a format width could not pad that far).
        let good: String = (0..5000).map(block).collect();
        assert!(good.len() / 2 > 1 << 16);
        let f = SourceFile::new("big.pkr.hcl", good.clone());
        let top_lines = super::super::limits::check_native(&f).expect("checks");
        assert_eq!(
            top_lines.len(),
            4999,
            "every block but the first starts a top line"
        );
        let body = parse_native(&good, &top_lines).expect("parses");
        assert_eq!(body.iter().count(), 5000);
        assert_eq!(
            starts(&body),
            starts(&hcl_edit::parser::parse_body(&good).unwrap())
        );
        // Parsed whole when a half cannot stand for it: the whole file's error.
        let whole_error = |text: &str| {
            let f = SourceFile::new("bad.pkr.hcl", text.to_string());
            let cuts = super::super::limits::check_native(&f).expect("checks");
            let want = hcl_edit::parser::parse_body(text).unwrap_err();
            let got = parse_native(text, &cuts).unwrap_err();
            assert_eq!(got.to_string(), want.to_string());
        };
        // An error in the second half.
        whole_error(&format!("{good}variable \"broken\" {{\n  default = \n}}\n"));
        // A top-level attribute, redefined in the other half.
        whole_error(&format!("a = 1\n{good}a = 2\n"));
    }
}
