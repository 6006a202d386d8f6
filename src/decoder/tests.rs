//! The decoder's unit tests.

use super::*;
use crate::template::json::parse;

fn obj(src: &str) -> Object {
    parse(src).unwrap().as_object().unwrap().clone()
}

#[test]
fn weak_typing_converts_like_mapstructure() {
    let o = obj(
        r#"{"b1":"true","b2":"0","b3":1,"i1":"5","i2":7,"i3":"0x10","i4":2.9,"s1":5,"s2":1.5,"s3":true,
        "l1":"a,b","l2":["x",3],"l3":"","d1":"1h5m2s","d2":"300ms","f1":"2.5"}"#,
    );
    let ctx = Context::default();
    let mut d = Decoder::new(&[&o], &ctx, "test", &[]);
    assert_eq!(d.bool("b1"), Some(true));
    assert_eq!(d.bool("b2"), Some(false));
    assert_eq!(d.bool("b3"), Some(true));
    assert_eq!(d.int("i1"), Some(5));
    assert_eq!(d.int("i2"), Some(7));
    assert_eq!(d.int("i3"), Some(16));
    assert_eq!(d.int("i4"), Some(2));
    assert_eq!(d.string("s1").as_deref(), Some("5"));
    assert_eq!(d.string("s2").as_deref(), Some("1.5"));
    assert_eq!(d.string("s3").as_deref(), Some("1"));
    assert_eq!(
        d.string_list("l1"),
        Some(vec!["a".to_string(), "b".to_string()])
    );
    assert_eq!(
        d.string_list("l2"),
        Some(vec!["x".to_string(), "3".to_string()])
    );
    assert_eq!(d.string_list("l3"), Some(vec![]));
    assert_eq!(d.duration("d1"), Some(Duration::from_secs(3902)));
    assert_eq!(d.duration("d2"), Some(Duration::from_millis(300)));
    assert_eq!(d.float("f1"), Some(2.5));
    assert_eq!(d.string("missing"), None);
    assert_eq!(d.finish(), Ok(()));
}

#[test]
fn overrides_win_per_key() {
    let base = obj(r#"{"a":"1","b":"2"}"#);
    let over = obj(r#"{"b":"3"}"#);
    let ctx = Context::default();
    let mut d = Decoder::new(&[&base, &over], &ctx, "test", &[]);
    assert_eq!(d.string("a").as_deref(), Some("1"));
    assert_eq!(d.string("b").as_deref(), Some("3"));
    assert!(d.finish().is_ok());
}

#[test]
fn unknown_keys_come_first_sorted_with_nested_paths() {
    let o = obj(
        r#"{"zeta":1,"type":"x","packer_build_name":"n","alpha":2,"good":"g",
        "filter":{"owners":["self"],"bogus":1},"devs":[{"name":"a","extra":true}]}"#,
    );
    let ctx = Context::default();
    let mut d = Decoder::new(&[&o], &ctx, "test", &[]);
    d.string("good");
    d.object("filter", |d| d.string_list("owners"));
    d.object_list("devs", |d| d.string("name"));
    d.error("good", "good is bad");
    let errs = d.finish().unwrap_err();
    let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "unknown configuration key: '\"alpha\"'",
            "unknown configuration key: '\"devs[0].extra\"'",
            "unknown configuration key: '\"filter.bogus\"'",
            "unknown configuration key: '\"zeta\"'",
            "good is bad",
        ]
    );
    assert_eq!(errs[4].key.as_deref(), Some("good"));
    assert_eq!(errs[4].pos.map(|p| p.line), Some(1));
    assert_eq!(errs[1].pos.map(|p| p.line), Some(2));
}

#[test]
fn type_errors_name_the_key_and_value() {
    let o = obj(r#"{"s":["a"],"b":"maybe","i":"abc","d":"5 minutes","m":"x"}"#);
    let ctx = Context::default();
    let mut d = Decoder::new(&[&o], &ctx, "test", &[]);
    assert_eq!(d.string("s"), None);
    assert_eq!(d.bool("b"), None);
    assert_eq!(d.int("i"), None);
    assert_eq!(d.duration("d"), None);
    assert_eq!(d.string_map("m"), None);
    let msgs: Vec<String> = d
        .finish()
        .unwrap_err()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        msgs,
        [
            "'s' expected type 'string', got unconvertible type '[]interface {}', value: '[a]'",
            "cannot parse 'b' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax",
            "cannot parse 'i' as int: strconv.ParseInt: parsing \"abc\": invalid syntax",
            "error decoding 'd': time: unknown unit \" minutes\" in duration \"5 minutes\"",
            "'m' expected a map, got 'string'",
        ]
    );
}

#[test]
fn deprecated_keys_get_packers_fix_message() {
    let o = obj(r#"{"clean_ami_name":true}"#);
    let ctx = Context::default();
    let mut d = Decoder::new(&[&o], &ctx, "amazon-ebs", &[]);
    d.deprecated(&["clean_ami_name"]);
    let errs = d.finish().unwrap_err();
    assert!(errs[0]
        .message
        .starts_with("Deprecated configuration key: 'clean_ami_name'. Please call `packer fix`"));
}
