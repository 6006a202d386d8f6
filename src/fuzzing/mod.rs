//! Entry points for the cargo-fuzz targets in `fuzz/` and the benchmarks in `benches/`: the one
//! public door to rpack's input front ends, so the rest of the crate can stay `pub(crate)`.
//! Each function takes raw bytes, runs one front end the way the CLI does, and panics only when
//! the front end breaks a promise (an error outside the input, a secret left unmasked); errors
//! about the input itself are the expected outcome and are ignored.
//!
//! Nothing here is part of rpack's interface for anything else.

use std::collections::BTreeMap;

use crate::plan;
use crate::template::interp::{self, BuildData, Context, RenderError, Value};
use crate::template::{json, parse, variables};

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// The positioned JSON parser, strict (templates) and lenient (var files).
pub fn json(bytes: &[u8]) {
    let src = text(bytes);
    let strict = json::parse(&src);
    let lenient = json::parse_allowing_duplicates(&src);
    match (&strict, &lenient) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{src:?}: strict and lenient trees differ"),
        (Err(json::JsonError::DuplicateField { pos, .. }), Ok(_)) => {
            assert!(
                pos.offset < src.len(),
                "{src:?}: duplicate outside the input"
            );
        }
        (Err(json::JsonError::Syntax { offset, line, .. }), Err(_)) => {
            assert!(*offset <= src.len(), "{src:?}: error offset past the end");
            let lines = src.split('\n').count() as u32;
            assert!(
                *line >= 1 && *line <= lines,
                "{src:?}: line {line} of {lines}"
            );
        }
        _ => panic!("{src:?}: strict {strict:?} but lenient {lenient:?}"),
    }
}

fn contexts() -> Vec<Context> {
    let mut data = BTreeMap::new();
    data.insert("Str".to_string(), Value::String("hello".into()));
    data.insert("Int".to_string(), Value::Int(3));
    data.insert("Float".to_string(), Value::Float(1.5));
    data.insert("Nil".to_string(), Value::Nil);
    data.insert(
        "List".to_string(),
        Value::List(vec![Value::String("a".into()), Value::Int(1)]),
    );
    let inner = BTreeMap::from([("k".to_string(), Value::String("v".into()))]);
    data.insert("Map".to_string(), Value::Map(inner));
    let user_vars = BTreeMap::from([
        ("a".to_string(), "A".to_string()),
        ("n".to_string(), "{{user `a`}}-{{ build `ID` }}".to_string()),
    ]);
    let full = Context {
        user_vars,
        build_name: Some("web-1".into()),
        build_type: Some("amazon-ebs".into()),
        packer_version: Some("1.6.6".into()),
        template_path: Some("/tmp/t/template.json".into()),
        data: Some(Value::Map(data)),
        amazon_funcs: true,
        init_time: Some(1_340_244_776),
        ..Context::default()
    };
    let mut values = full.clone();
    values.build_data = BuildData::Values(BTreeMap::from([("ID".into(), "i-0abc".into())]));
    values.strict_user_vars = true;
    values.data_type = Some("*common.BuildInfoTemplate".into());
    let vars_pass = Context {
        variables_pass: true,
        build_data: BuildData::Unavailable,
        ..Context::default()
    };
    vec![Context::default(), full, values, vars_pass]
}

fn assert_located(input: &str, e: &RenderError) {
    assert!(e.line >= 1 && e.col >= 1, "{input:?}: {e:?}");
    assert!(e.message.starts_with("template: root"), "{input:?}: {e:?}");
    let lines = input.split('\n').count() as u32;
    assert!(
        e.line <= lines,
        "{input:?}: line {} of {lines}: {e:?}",
        e.line
    );
    let line = input.split('\n').nth(e.line as usize - 1).unwrap_or("");
    assert!(
        e.col as usize <= line.chars().count() + 1,
        "{input:?}: col out of line: {e:?}"
    );
}

/// The Go-template engine: `check` and `render` under four contexts. Whatever renders also
/// passes `check`, and every error points inside the input.
pub fn template_engine(bytes: &[u8]) {
    let input = text(bytes);
    for ctx in contexts() {
        let checked = interp::check(&input, &ctx);
        let rendered = interp::render(&input, &ctx);
        if rendered.is_ok() {
            assert!(
                checked.is_ok(),
                "{input:?} renders but check fails: {checked:?}"
            );
        }
        if let Err(e) = &checked {
            assert_located(&input, e);
        }
        if let Err(e) = &rendered {
            if !e.message.contains("rendering passes") {
                assert_located(&input, e);
            }
        }
    }
}

/// Variable resolution: the input is a template; its variables are merged and resolved.
/// Resolved values respect the size limit.
pub fn variables(bytes: &[u8]) {
    let Ok(tpl) = parse::parse_str(&text(bytes)) else {
        return;
    };
    let values = variables::merge(&tpl, &[], &[]);
    let base = plan::base_context(&tpl);
    if let Ok(done) = variables::resolve(&tpl, &values, &base) {
        let total: usize = done.values().map(String::len).sum();
        assert!(total <= crate::limits::max_value());
    }
}

/// Template model and every plugin's configuration decoder (weak typing, durations, numbers):
/// what `rpack validate` runs after reading the file.
pub fn decode(bytes: &[u8]) {
    let Ok(tpl) = parse::parse_str(&text(bytes)) else {
        return;
    };
    let values = variables::merge(&tpl, &[], &[]);
    let base = plan::base_context(&tpl);
    let _ = plan::check(&tpl, &values, &base, &plan::Options::default());
}

/// `platform.yaml` and the workspace's `.elasticbeanstalk/config.yml`.
pub fn platform_yaml(bytes: &[u8]) {
    let src = text(bytes);
    let _ = crate::platform::yaml::parse_definition(&src);
    if let Ok(ws) = crate::platform::yaml::WorkspaceConfig::parse(&src) {
        let _ = ws.to_yaml();
    }
}

/// OpenSSH private key parsing (`ssh_private_key_file` contents).
pub fn ssh_key(bytes: &[u8]) {
    let _ = crate::communicator::keys::PrivateKey::from_openssh(&text(bytes));
}

/// Secret masking, machine-readable escaping and terminal escaping. The first line lists secrets
/// separated by `\t`; the rest is the text. A secret made only of characters that `<sensitive>`
/// does not contain never survives masking (one shorter than `MIN_SUBSTRING` characters never
/// survives standing alone: inside a longer word it stays, see `ui::secrets`), machine-readable
/// escaping never lets a raw `,` or newline through, and terminal escaping leaves no control
/// character but newline, tab and CR.
pub fn masking(bytes: &[u8]) {
    use crate::ui::secrets::{is_short, is_word};
    let src = text(bytes);
    let (head, body) = src.split_once('\n').unwrap_or((&src, ""));
    let secrets: Vec<String> = head.split('\t').map(str::to_string).collect();
    let masked = crate::ui::Secrets::new(secrets.clone()).mask(body);
    let field = crate::ui::escape_field(&masked);
    assert!(!field.contains(['\n', '\r']), "{field:?}");
    assert!(
        !field.replace("%!(PACKER_COMMA)", "").contains(','),
        "{field:?}"
    );
    let shown = crate::ui::terminal::safe(&masked);
    assert!(
        !shown.contains(|c: char| (c.is_control() && !"\n\t\r".contains(c))
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)),
        "{shown:?} would reach a terminal raw"
    );
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        if s.chars().any(|c| "<sensitive>".contains(c)) {
            continue;
        }
        if is_short(s) {
            // A short secret is masked where it stands alone; inside a longer word it stays.
            for (i, _) in masked.match_indices(s.as_str()) {
                let end = i + s.len();
                let glued = masked[..i].chars().next_back().is_some_and(is_word)
                    || masked[end..].chars().next().is_some_and(is_word);
                assert!(glued, "short secret {s:?} stands alone in {masked:?}");
            }
        } else {
            assert!(
                !masked.contains(s.as_str()),
                "secret {s:?} survives in {masked:?}"
            );
        }
    }
}

/// The EC2 console-output parser of the host-key check (`GetConsoleOutput` text, already
/// base64-decoded): every key it returns is of the type its line named, a block never yields more
/// than the parser's cap, and the parse is the same whether lines end in CRLF or LF.
pub fn console_output(bytes: &[u8]) {
    use crate::communicator::host_key::console;
    let src = text(bytes);
    let parsed = console::parse(&src);
    assert!(parsed.keys().len() <= 32, "{} keys", parsed.keys().len());
    for k in parsed.keys() {
        assert!(
            src.contains(k.algorithm()),
            "key type {} not in the input",
            k.algorithm()
        );
    }
    if !src.contains('\r') {
        assert_eq!(console::parse(&src.replace('\n', "\r\n")), parsed);
    }
    let _ = console::cloud_init_finished(&src);
}

#[cfg(test)]
mod tests;

/// The HCL2 front end (native syntax, or HCL's JSON syntax when the first byte is odd) on one
/// template file: every input ends in a plan or in diagnostics, never a panic or overflow; and
/// native text parsed in two halves gives the whole file's tree.
pub fn hcl2(bytes: &[u8]) {
    let json = bytes.first().is_some_and(|b| b % 2 == 1);
    let src = text(bytes.get(1..).unwrap_or_default());
    let dir = std::env::temp_dir().join(format!("rpack-fuzz-hcl2-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if json { "t.pkr.json" } else { "t.pkr.hcl" });
    if std::fs::write(&path, src.as_bytes()).is_err() {
        return;
    }
    let _ = crate::template::hcl2::load_template(&path.to_string_lossy(), &[], &[]);
    let _ = std::fs::remove_file(&path);
    // A large file is parsed as two halves at once; cut at a few places, they must give the
    // whole file's tree (or stand back).
    if !json {
        if let Err(e) = crate::template::hcl2::halves_agree(&src, 4) {
            panic!("parsing in halves: {e}");
        }
    }
}
