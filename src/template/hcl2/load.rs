//! Finding and reading an HCL2 template's inputs: a `.pkr.hcl` file or a directory of them
//! (not recursive), `*.auto.pkrvars.hcl|json` next to them, `-var-file`s, and parsing each file
//! with hcl-edit so every node keeps its byte span.

use std::path::{Path, PathBuf};

use hcl_edit::structure::Body;

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
    super::limits::check_native(file)?;
    hcl_edit::parser::parse_body(&file.text).map_err(|e| {
        let l = e.location();
        // hcl-edit's column counts from 1 in characters of the line.
        let mut loc = file.loc(l.offset());
        loc.line = l.line();
        loc.col = l.column();
        Diag::error(Some(loc), "Invalid HCL syntax", e.message().to_string())
    })
}

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
