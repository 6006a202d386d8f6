//! `validate` without process start-up: parse, variables, build plan and every plugin decoder,
//! on a generated template with 1,000 variables and 200 provisioners and on the Elastic
//! Beanstalk sample template when `../shared` is present (or `RPACK_EB_TEMPLATE` points at it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use rpack::plan;
use rpack::template::{parse, variables};

/// 1,000 variables (each of the last 500 refers to an earlier one) and 200 provisioners.
pub fn generated_template() -> String {
    let mut vars = Vec::new();
    for i in 0..1000 {
        if i < 500 {
            vars.push(format!("    \"var_{i}\": \"value-{i}\""));
        } else {
            vars.push(format!(
                "    \"var_{i}\": \"{{{{user `var_{}`}}}}-{i}\"",
                i - 500
            ));
        }
    }
    let mut provs = Vec::new();
    for i in 0..200 {
        provs.push(format!(
            "    {{\"type\": \"shell\", \"inline\": [\"echo {{{{user `var_{}`}}}}\", \"echo step {i}\"], \"environment_vars\": [\"STEP={i}\"]}}",
            i * 5
        ));
    }
    format!(
        "{{\n  \"variables\": {{\n{}\n  }},\n  \"builders\": [{{\"type\": \"null\", \"communicator\": \"none\"}}],\n  \"provisioners\": [\n{}\n  ]\n}}\n",
        vars.join(",\n"),
        provs.join(",\n")
    )
}

fn eb_template() -> Option<String> {
    let path = std::env::var_os("RPACK_EB_TEMPLATE").map_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/conformance/corpus/aws-samples__eb-custom-platforms-samples/NodePlatform_AmazonLinux/custom_platform.json")
    }, PathBuf::from);
    std::fs::read_to_string(path).ok()
}

fn validate(src: &str) -> bool {
    let tpl = parse::parse_str(src).expect("template parses");
    let values: BTreeMap<String, String> = variables::merge(&tpl, &[], &[]);
    let base = plan::base_context(&tpl);
    let checked = plan::check(&tpl, &values, &base, &plan::Options::default());
    checked.has_errors()
}

fn bench(c: &mut Criterion) {
    let generated = generated_template();
    c.bench_function("parse generated (1000 vars, 200 provisioners)", |b| {
        b.iter(|| parse::parse_str(&generated).unwrap());
    });
    c.bench_function("validate generated (1000 vars, 200 provisioners)", |b| {
        b.iter(|| validate(&generated));
    });
    if let Some(eb) = eb_template() {
        c.bench_function("validate EB sample", |b| b.iter(|| validate(&eb)));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
