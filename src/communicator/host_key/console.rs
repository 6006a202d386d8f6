//! Parsing the SSH host keys cloud-init prints to the EC2 console (`GetConsoleOutput`) between
//! `-----BEGIN SSH HOST KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----`, one
//! `<type> <base64> <comment>` line per key. Console text is noisy (kernel lines, syslog
//! prefixes, CRs, several boots, a log cut off mid-block), so the parser takes the last block,
//! keeps only lines whose base64 decodes to a key blob of the type named on the line, and says
//! whether the block was complete.

use base64::Engine as _;

use super::HostKey;

const BEGIN: &str = "-----BEGIN SSH HOST KEY KEYS-----";
const END: &str = "-----END SSH HOST KEY KEYS-----";
/// A key line longer than this is junk (an RSA 16384-bit key line is about 2.8 KB).
const MAX_LINE: usize = 8192;
/// More keys than this in one block is junk.
const MAX_KEYS: usize = 32;

/// What the console says about the host keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsoleKeys {
    /// No key block (yet): the console is empty, cloud-init has not printed it, or the image
    /// does not run cloud-init.
    NoBlock,
    /// A block that began but never ended (the output was cut): the keys read so far are real,
    /// but the list may be incomplete.
    Truncated(Vec<HostKey>),
    /// A whole block: these are all the host keys cloud-init saw.
    Complete(Vec<HostKey>),
}

impl ConsoleKeys {
    pub(crate) fn keys(&self) -> &[HostKey] {
        match self {
            ConsoleKeys::NoBlock => &[],
            ConsoleKeys::Truncated(k) | ConsoleKeys::Complete(k) => k,
        }
    }
}

/// Parses console output (already base64-decoded from the API's `Output`).
pub(crate) fn parse(text: &str) -> ConsoleKeys {
    let mut state = ConsoleKeys::NoBlock;
    let mut current: Option<Vec<HostKey>> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.contains(BEGIN) {
            current = Some(Vec::new());
            continue;
        }
        let Some(keys) = current.as_mut() else {
            continue;
        };
        if line.contains(END) {
            state = ConsoleKeys::Complete(current.take().unwrap_or_default());
            continue;
        }
        if keys.len() < MAX_KEYS {
            if let Some(k) = parse_key_line(line) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    // A later block that never ended wins over an earlier complete one only if it has keys
    // (it is the newer boot), and even then is only partial evidence.
    match current {
        Some(keys) if !keys.is_empty() => ConsoleKeys::Truncated(keys),
        _ => state,
    }
}

/// `[prefix] <type> <base64> [comment]` → the key, when the base64 is a blob of that type.
pub(crate) fn parse_key_line(line: &str) -> Option<HostKey> {
    if line.len() > MAX_LINE {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        if !looks_like_key_type(w[0]) {
            return None;
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(w[1])
            .ok()?;
        let key = HostKey::from_blob(blob)?;
        (key.algorithm() == w[0]).then_some(key)
    })
}

/// Whether cloud-init's final stage has run (`Cloud-init v. 23.1 finished at …`): a key block
/// that is not on the console by then will not come.
pub(crate) fn cloud_init_finished(text: &str) -> bool {
    text.split('\n').any(|l| {
        l.find("Cloud-init v. ")
            .is_some_and(|i| l[i..].contains(" finished"))
    })
}

fn looks_like_key_type(w: &str) -> bool {
    w.starts_with("ssh-")
        || w.starts_with("ecdsa-sha2-")
        || w.starts_with("sk-")
        || w.starts_with("rsa-sha2-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfskAYa1EvJlA+a3yVbn3Y";
    /// An ecdsa-sha2-nistp256 blob (type string, curve name, 65-byte point).
    fn ecdsa_b64() -> String {
        let mut b = Vec::new();
        for part in [&b"ecdsa-sha2-nistp256"[..], b"nistp256", &[4u8; 65][..]] {
            b.extend_from_slice(&(part.len() as u32).to_be_bytes());
            b.extend_from_slice(part);
        }
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn block(lines: &[&str]) -> String {
        let mut s = String::from("[    0.000000] Linux version 6.1\r\ncloud-init: running\r\n");
        s.push_str(&format!("{BEGIN}\r\n"));
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str(&format!("{END}\r\nCloud-init v. 23.1 finished\r\n"));
        s
    }

    #[test]
    fn cloud_init_block_with_crs_and_noise() {
        let ec = ecdsa_b64();
        let text = block(&[
            &format!("ecdsa-sha2-nistp256 {ec} root@ip-10-0-0-10"),
            &format!("ssh-ed25519 {ED} root@ip-10-0-0-10"),
            "random kernel message in the middle",
        ]);
        let ConsoleKeys::Complete(keys) = parse(&text) else {
            panic!("{:?}", parse(&text))
        };
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].algorithm(), "ecdsa-sha2-nistp256");
        assert_eq!(keys[1].algorithm(), "ssh-ed25519");
        assert_eq!(
            keys[1].fingerprint(),
            "ED25519 SHA256:".to_string() + &keys[1].sha256()
        );
    }

    #[test]
    fn prefixed_lines_and_the_last_block_win() {
        let text = format!(
            "{}\n<14>Dec  4 ec2: {BEGIN}\n<14>Dec  4 ec2: ssh-ed25519 {ED2} x\n<14>Dec  4 ec2: {END}\n",
            block(&[&format!("ssh-ed25519 {ED} first-boot")])
        );
        let keys = parse(&text);
        assert!(matches!(keys, ConsoleKeys::Complete(_)), "{keys:?}");
        assert_eq!(keys.keys().len(), 1);
        assert_eq!(
            keys.keys()[0],
            parse_key_line(&format!("ssh-ed25519 {ED2}")).unwrap()
        );
    }

    #[test]
    fn malformed_input_is_skipped_not_trusted() {
        for bad in [
            "ssh-ed25519 not-base64!!! x".to_string(),
            // Valid base64 of an ed25519 blob, labelled as another type.
            format!("ssh-rsa {ED} x"),
            // Truncated blob.
            format!("ssh-ed25519 {} x", &ED[..40]),
            "ssh-ed25519".to_string(),
            format!("ssh-ed25519 {}", "A".repeat(MAX_LINE)),
            "\u{0}\u{1}garbage ��".to_string(),
        ] {
            assert_eq!(
                parse(&block(&[&bad])),
                ConsoleKeys::Complete(vec![]),
                "{bad}"
            );
        }
        assert_eq!(parse(""), ConsoleKeys::NoBlock);
        assert_eq!(parse("no block here\n"), ConsoleKeys::NoBlock);
        assert_eq!(parse(END), ConsoleKeys::NoBlock);
    }

    #[test]
    fn a_cut_off_block_is_partial() {
        let text = format!("boot\n{BEGIN}\nssh-ed25519 {ED} x\nssh-ed25519 AAAAC3Nza");
        let keys = parse(&text);
        assert!(
            matches!(keys, ConsoleKeys::Truncated(ref k) if k.len() == 1),
            "{keys:?}"
        );
        assert_eq!(parse(&format!("boot\n{BEGIN}\n")), ConsoleKeys::NoBlock);
    }

    #[test]
    fn key_types_libssh2_cannot_check_are_listed_but_marked() {
        // An sk-ssh-ed25519@openssh.com blob: type, 32-byte key, application.
        let mut b = Vec::new();
        for part in [&b"sk-ssh-ed25519@openssh.com"[..], &[7u8; 32][..], b"ssh:"] {
            b.extend_from_slice(&(part.len() as u32).to_be_bytes());
            b.extend_from_slice(part);
        }
        let sk = base64::engine::general_purpose::STANDARD.encode(b);
        let keys = parse(&block(&[&format!("sk-ssh-ed25519@openssh.com {sk} x")]));
        assert_eq!(keys.keys().len(), 1);
        assert!(!keys.keys()[0].checkable());
        assert!(parse_key_line(&format!("ssh-ed25519 {ED}"))
            .unwrap()
            .checkable());
    }

    #[test]
    fn many_keys_are_capped() {
        let lines: Vec<String> = (0..100)
            .map(|i| {
                let mut b = Vec::new();
                for part in [&b"ssh-ed25519"[..], &[i as u8; 32][..]] {
                    b.extend_from_slice(&(part.len() as u32).to_be_bytes());
                    b.extend_from_slice(part);
                }
                format!(
                    "ssh-ed25519 {}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            })
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(parse(&block(&refs)).keys().len(), MAX_KEYS);
    }
}
