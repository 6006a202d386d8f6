use super::*;
use crate::template::json;

fn run(kind: &str, src: &str) -> Result<Option<Map<String, Value>>, Vec<DataError>> {
    let node = json::parse(src).unwrap();
    Provider.run(kind, node.as_object().unwrap(), false)
}

fn messages(r: Result<Option<Map<String, Value>>, Vec<DataError>>) -> Vec<String> {
    r.err().unwrap().into_iter().map(|(m, _)| m).collect()
}

#[test]
fn configure_checks_are_the_plugins() {
    assert_eq!(
        messages(run("amazon-ami", "{}")),
        [
            "The `filters` must be specified",
            "For security reasons, you must declare an owner."
        ]
    );
    assert_eq!(
        messages(run("amazon-ami", r#"{"filters": {"name": "x"}}"#)),
        ["For security reasons, you must declare an owner."]
    );
    assert!(run(
        "amazon-ami",
        r#"{"filters": {"name": "x"}, "owners": ["self"], "most_recent": true, "region": "us-east-1"}"#
    )
    .unwrap()
    .is_none());
    assert_eq!(
        messages(run("amazon-parameterstore", "{}")),
        ["a 'name' must be provided"]
    );
    assert_eq!(
        messages(run("amazon-secretsmanager", r#"{"key": "k"}"#)),
        ["a 'name' must be provided"]
    );
    assert_eq!(messages(run("http", "{}")), ["the `url` must be specified"]);
    let errs = run(
        "http",
        "{\n \"url\": \"http://x\",\n \"method\": \"FETCH\"}",
    )
    .err()
    .unwrap();
    assert_eq!(
        errs[0].0,
        "the `method` must be one of [HEAD GET POST PUT DELETE OPTIONS PATCH]"
    );
    assert_eq!(errs[0].1.map(|p| p.line), Some(3), "the key's position");
    // The access configuration is the builder's, checks included.
    assert_eq!(
        messages(run(
            "amazon-parameterstore",
            r#"{"name": "n", "access_key": "AKIA"}"#
        )),
        ["`access_key` and `secret_key` must both be either set or not set."]
    );
    // Weak typing as Packer's decoder.
    let e = messages(run(
        "amazon-parameterstore",
        r#"{"name": "n", "with_decryption": "maybe"}"#,
    ));
    assert!(e[0].contains("with_decryption"), "{e:?}");
}

#[test]
fn secret_values_as_the_plugin_reads_them() {
    use super::amazon::secret_value;
    assert_eq!(secret_value("plain text", "").unwrap(), "plain text");
    assert_eq!(secret_value("plain text", "k").unwrap(), "plain text");
    let j = r#"{"user": "bot", "port": 5432, "on": true}"#;
    assert_eq!(secret_value(j, "user").unwrap(), "bot");
    assert_eq!(secret_value(j, "port").unwrap(), "5432");
    assert_eq!(secret_value(j, "nope").unwrap(), "");
    assert_eq!(secret_value(j, "").unwrap(), "bot");
    assert_eq!(
        secret_value(j, "on").unwrap_err(),
        "Unsupported secret value type: bool"
    );
    assert!(secret_value("[1]", "")
        .unwrap_err()
        .contains("cannot unmarshal array"));
}

#[test]
fn header_names_are_go_canonical() {
    use super::http::canonical;
    assert_eq!(canonical("content-type"), "Content-Type");
    assert_eq!(canonical("x-amz-REQUEST-id"), "X-Amz-Request-Id");
    assert_eq!(canonical("etag"), "Etag");
}
