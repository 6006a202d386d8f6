use super::sftp::{absolute, parse_stat};

#[test]
fn paths_resolve_against_the_login_directory() {
    assert_eq!(absolute("/home/u", "."), "/home/u");
    assert_eq!(absolute("/home/u", ""), "/home/u");
    assert_eq!(absolute("/home/u", "a/../b/./c"), "/home/u/b/c");
    assert_eq!(absolute("", "/tmp//x/.."), "/tmp");
    assert_eq!(absolute("", "/.."), "/");
}

#[test]
fn stat_output_becomes_sftp_attributes() {
    let a = parse_stat("81a4 12 1000 1000 1700000000 1700000001\n").unwrap();
    assert_eq!(a.permissions, Some(0o100_644));
    assert_eq!(a.size, Some(12));
    assert_eq!((a.uid, a.gid), (Some(1000), Some(1000)));
    assert_eq!(a.mtime, Some(1_700_000_001));
    assert!(parse_stat("stat: cannot stat").is_none());
}
