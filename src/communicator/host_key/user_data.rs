//! The user data that delivers an rpack-generated ed25519 host key through cloud-init's
//! `ssh_keys`, merged with the template's own `user_data`/`user_data_file` as a MIME multipart
//! part (cloud-init runs every part), within EC2's 16 KB limit. When the template's user data
//! cannot take a part (gzip, already sets `ssh_keys`, too large), it is left untouched and the
//! reason says why, so `auto` falls back to the console.

use crate::communicator::keys::PrivateKey;

use super::HostKey;

/// EC2's limit on user data, before base64.
pub(crate) const MAX_USER_DATA: usize = 16 * 1024;

/// A host key to inject: the private half goes to the instance, the public half is what rpack
/// accepts.
pub(crate) struct Injected {
    pub key: HostKey,
    /// The OpenSSH private key (a secret: registered for masking by the caller).
    pub private_openssh: String,
    pub public_line: String,
}

impl Injected {
    pub(crate) fn generate() -> anyhow::Result<Injected> {
        let k = PrivateKey::generate_ed25519()?.with_comment("rpack-host-key");
        let public_line = k.public_key_line();
        let key = HostKey::from_openssh_line(&public_line)
            .ok_or_else(|| anyhow::anyhow!("generated host key has no valid public line"))?;
        Ok(Injected {
            key,
            private_openssh: k.to_openssh()?,
            public_line,
        })
    }

    /// The `#cloud-config` document that installs this key as the sshd's ed25519 host key.
    pub(crate) fn cloud_config(&self) -> String {
        let mut s = String::from("#cloud-config\n# rpack: the build instance's SSH host key\nssh_keys:\n  ed25519_private: |\n");
        for line in self.private_openssh.lines() {
            s.push_str("    ");
            s.push_str(line);
            s.push('\n');
        }
        s.push_str(&format!("  ed25519_public: {}\n", self.public_line.trim()));
        s
    }
}

/// Why the host key could not be added to the user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Skip {
    Gzipped,
    /// EC2Launch/EC2Config user data (`<powershell>`, `<script>`, `version:` YAML): a Windows
    /// image, which would not run a MIME multipart document.
    Windows,
    SetsSshKeys,
    TooLarge {
        size: usize,
    },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Gzipped => f.write_str("the template's user data is gzip-compressed"),
            Skip::Windows => f.write_str(
                "the template's user data is for Windows (EC2Launch), which does not read cloud-init parts",
            ),
            Skip::SetsSshKeys => f.write_str("the template's user data sets ssh_keys itself"),
            Skip::TooLarge { size } => write!(
                f,
                "the user data with the host key would be {size} bytes, over EC2's limit of {MAX_USER_DATA}"
            ),
        }
    }
}

/// The user data to send: `cloud_config` alone, or merged with the template's `user`.
pub(crate) fn merge(user: Option<&[u8]>, cloud_config: &str) -> Result<Vec<u8>, Skip> {
    let out = match user.filter(|u| !u.is_empty()) {
        None => cloud_config.as_bytes().to_vec(),
        Some([0x1f, 0x8b, ..]) => return Err(Skip::Gzipped),
        Some(u) => {
            let text = String::from_utf8_lossy(u);
            if is_windows(&text) {
                return Err(Skip::Windows);
            }
            if text
                .lines()
                .any(|l| l.trim_start().starts_with("ssh_keys:"))
            {
                return Err(Skip::SetsSshKeys);
            }
            match existing_boundary(&text) {
                Some(b) => append_part(&text, &b, cloud_config),
                None => multipart(&text, cloud_config),
            }
        }
    };
    if out.len() > MAX_USER_DATA {
        return Err(Skip::TooLarge { size: out.len() });
    }
    Ok(out)
}

/// Whether user data is for EC2Launch/EC2Config (Windows).
fn is_windows(text: &str) -> bool {
    let t = text.trim_start().to_ascii_lowercase();
    t.starts_with("<powershell>")
        || t.starts_with("<script>")
        || t.starts_with("<persist>")
        || (t.starts_with("version:") && t.contains("tasks:"))
}

/// The content type cloud-init gives a part by its first line.
fn content_type(text: &str) -> &'static str {
    let first = text.lines().next().unwrap_or("").trim();
    match () {
        () if first.starts_with("#cloud-config") => "text/cloud-config",
        () if first.starts_with("#!") => "text/x-shellscript",
        () if first.starts_with("#include") => "text/x-include-url",
        () if first.starts_with("#cloud-boothook") => "text/cloud-boothook",
        () if first.starts_with("#part-handler") => "text/part-handler",
        () if first.starts_with("## template: jinja") => "text/jinja2",
        () => "text/plain",
    }
}

/// A boundary that occurs in neither part.
fn boundary(parts: &[&str]) -> String {
    let mut n = 0u32;
    loop {
        let b = format!("==RPACK-BOUNDARY-{n}==");
        if parts.iter().all(|p| !p.contains(&b)) {
            return b;
        }
        n += 1;
    }
}

fn part(out: &mut String, boundary: &str, text: &str) {
    out.push_str(&format!(
        "--{boundary}\nContent-Type: {}; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\n",
        content_type(text)
    ));
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
}

fn multipart(user: &str, ours: &str) -> Vec<u8> {
    let b = boundary(&[user, ours]);
    let mut out = format!("Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\n\n");
    part(&mut out, &b, user);
    part(&mut out, &b, ours);
    out.push_str(&format!("--{b}--\n"));
    out.into_bytes()
}

/// The boundary of user data that already is a MIME multipart document.
fn existing_boundary(text: &str) -> Option<String> {
    let header_end = text.find("\n\n").unwrap_or(text.len());
    let headers = &text[..header_end];
    let ct = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))?;
    if !ct.to_ascii_lowercase().contains("multipart/") {
        return None;
    }
    let i = ct.to_ascii_lowercase().find("boundary=")?;
    let b = ct[i + 9..].trim().trim_matches('"');
    let b = b.split([';', '"']).next()?.trim();
    (!b.is_empty()).then(|| b.to_string())
}

/// Inserts our part before the closing boundary of an existing multipart document.
fn append_part(text: &str, b: &str, ours: &str) -> Vec<u8> {
    let close = format!("--{b}--");
    let mut out = match text.rfind(&close) {
        Some(i) => text[..i].to_string(),
        None => format!("{}\n", text.trim_end()),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    part(&mut out, b, ours);
    out.push_str(&close);
    out.push('\n');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_config_installs_the_generated_key() {
        let inj = Injected::generate().unwrap();
        let cc = inj.cloud_config();
        assert!(cc.starts_with("#cloud-config\n"));
        assert!(cc.contains("  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(cc.contains(&format!("  ed25519_public: {}", inj.public_line)));
        assert_eq!(inj.key.algorithm(), "ssh-ed25519");
        assert_eq!(merge(None, &cc).unwrap(), cc.as_bytes());
        assert_eq!(merge(Some(b""), &cc).unwrap(), cc.as_bytes());
    }

    #[test]
    fn a_shell_script_becomes_a_multipart_with_both_parts() {
        let user = "#!/bin/bash\necho hi\n";
        let out = String::from_utf8(merge(Some(user.as_bytes()), "#cloud-config\nx: 1\n").unwrap())
            .unwrap();
        assert!(
            out.starts_with("Content-Type: multipart/mixed; boundary=\"==RPACK-BOUNDARY-0==\""),
            "{out}"
        );
        assert!(out.contains("Content-Type: text/x-shellscript; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\n#!/bin/bash\necho hi\n--==RPACK-BOUNDARY-0==\n"), "{out}");
        assert!(out.contains("Content-Type: text/cloud-config;"), "{out}");
        assert!(out.ends_with("--==RPACK-BOUNDARY-0==--\n"), "{out}");
    }

    #[test]
    fn the_boundary_never_occurs_in_the_parts() {
        let user = "#cloud-config\n# ==RPACK-BOUNDARY-0== ==RPACK-BOUNDARY-1==\n";
        let out =
            String::from_utf8(merge(Some(user.as_bytes()), "#cloud-config\n").unwrap()).unwrap();
        assert!(out.contains("boundary=\"==RPACK-BOUNDARY-2==\""), "{out}");
    }

    #[test]
    fn an_existing_multipart_gets_one_more_part() {
        let user = "Content-Type: multipart/mixed; boundary=\"XYZ\"\nMIME-Version: 1.0\n\n--XYZ\nContent-Type: text/x-shellscript\n\n#!/bin/sh\ntrue\n--XYZ--\n";
        let out = String::from_utf8(merge(Some(user.as_bytes()), "#cloud-config\na: b\n").unwrap())
            .unwrap();
        assert_eq!(out.matches("--XYZ--").count(), 1, "{out}");
        assert!(
            out.contains("#!/bin/sh\ntrue\n--XYZ\nContent-Type: text/cloud-config"),
            "{out}"
        );
        assert!(out.ends_with("a: b\n--XYZ--\n"), "{out}");
    }

    #[test]
    fn unmergeable_user_data_is_left_alone_with_the_reason() {
        assert_eq!(
            merge(Some(&[0x1f, 0x8b, 8, 0]), "#cloud-config\n"),
            Err(Skip::Gzipped)
        );
        assert_eq!(
            merge(
                Some(b"#cloud-config\nssh_keys:\n  rsa_private: x\n"),
                "#cloud-config\n"
            ),
            Err(Skip::SetsSshKeys)
        );
        assert_eq!(
            merge(
                Some(b"<powershell>\nGet-Date\n</powershell>\n"),
                "#cloud-config\n"
            ),
            Err(Skip::Windows)
        );
        assert_eq!(
            merge(
                Some(b"version: 1.0\ntasks:\n- task: executeScript\n"),
                "#cloud-config\n"
            ),
            Err(Skip::Windows)
        );
    }

    #[test]
    fn the_16_kb_limit_is_checked_on_the_merged_document() {
        let cc = Injected::generate().unwrap().cloud_config();
        let overhead = merge(Some(b"#!/bin/sh\n"), &cc).unwrap().len() - b"#!/bin/sh\n".len();
        // Just fits.
        let fill = MAX_USER_DATA - overhead - b"#!/bin/sh\n".len();
        let user = format!("#!/bin/sh\n{}\n", "#".repeat(fill - 1));
        let out = merge(Some(user.as_bytes()), &cc).unwrap();
        assert_eq!(out.len(), MAX_USER_DATA);
        // One byte more does not.
        let user = format!("#!/bin/sh\n{}\n", "#".repeat(fill));
        let e = merge(Some(user.as_bytes()), &cc).unwrap_err();
        assert!(
            matches!(e, Skip::TooLarge { size } if size > MAX_USER_DATA),
            "{e:?}"
        );
        assert!(e.to_string().contains("16384"), "{e}");
    }
}
