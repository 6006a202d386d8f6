//! Feeds arbitrary strings to the template engine (`render`, `check`) and to the positioned
//! JSON parser. Besides "no panic, no hang" it checks the engine's own promises: whatever
//! renders also passes `check`, and every error carries a 1-based line/column inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../src/gocompat/mod.rs"]
mod gocompat;

#[allow(dead_code, unused_imports)]
#[path = "../../src/template/interp/mod.rs"]
mod interp;

#[allow(dead_code)]
#[path = "../../src/template/json.rs"]
mod json;

use std::collections::BTreeMap;

use interp::{check, render, BuildData, Context, RenderError, Value};

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
    let mut inner = BTreeMap::new();
    inner.insert("k".to_string(), Value::String("v".into()));
    data.insert("Map".to_string(), Value::Map(inner));

    let mut user_vars = BTreeMap::new();
    user_vars.insert("a".to_string(), "A".to_string());
    user_vars.insert("n".to_string(), "{{user `a`}}-{{ build `ID` }}".to_string());
    let mut build = BTreeMap::new();
    build.insert("ID".to_string(), "i-0abc".to_string());

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
    values.build_data = BuildData::Values(build);
    values.strict_user_vars = true;
    values.data_type = Some("*common.BuildInfoTemplate".into());
    let mut vars_pass = Context::default();
    vars_pass.variables_pass = true;
    vars_pass.build_data = BuildData::Unavailable;
    vec![Context::default(), full, values, vars_pass]
}

fn assert_located(input: &str, e: &RenderError) {
    assert!(e.line >= 1 && e.col >= 1, "{input:?}: {e:?}");
    assert!(e.message.starts_with("template: root:"), "{input:?}: {e:?}");
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

fuzz_target!(|bytes: &[u8]| {
    let Ok(input) = std::str::from_utf8(bytes) else {
        return;
    };
    let _ = json::parse(input);
    for ctx in contexts() {
        let checked = check(input, &ctx);
        let rendered = render(input, &ctx);
        if rendered.is_ok() {
            assert!(
                checked.is_ok(),
                "{input:?} renders but check fails: {checked:?}"
            );
        }
        if let Err(e) = &checked {
            assert_located(input, e);
        }
        if let Err(e) = &rendered {
            if !e.message.contains("rendering passes") {
                assert_located(input, e);
            }
        }
    }
});
