//! The SSH facts a builder adds to the build data for the `ansible` provisioner's direct
//! connection: Packer's `SSHPrivateKeyFile`/`SSHAgentAuth`, and rpack's `SSHHostKey` (the host
//! key the build's connection pinned, as `<type> <base64>` for a known_hosts line) and
//! `SSHBastion*` (the jump host).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::communicator::SshConfig;

/// Inserts the SSH connection facts into `data`. `key_file` is the private key the
/// communicator uses; `host_key` the key blob its connection saw.
pub fn insert(
    data: &mut BTreeMap<String, String>,
    cfg: &SshConfig,
    key_file: Option<&Path>,
    host_key: Option<Vec<u8>>,
) {
    data.insert(
        "SSHPrivateKeyFile".into(),
        key_file
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    data.insert("SSHAgentAuth".into(), cfg.agent_auth.to_string());
    if let Some(line) = host_key.and_then(|b| known_hosts_key(&b)) {
        data.insert("SSHHostKey".into(), line);
    }
    if let Some(b) = &cfg.bastion {
        data.insert("SSHBastionHost".into(), b.host.clone());
        data.insert("SSHBastionPort".into(), b.port.to_string());
        data.insert("SSHBastionUser".into(), b.username.clone());
        if let Some(k) = &b.private_key_file {
            data.insert("SSHBastionPrivateKeyFile".into(), k.display().to_string());
        }
    }
}

/// `<type> <base64>` of an SSH wire-format public key blob (its type is its first string).
pub fn known_hosts_key(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let kind = std::str::from_utf8(blob.get(4..4 + len)?).ok()?;
    Some(format!(
        "{kind} {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_type_comes_from_the_blob() {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 1, 7]);
        let line = known_hosts_key(&blob).unwrap();
        assert!(
            line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
            "{line}"
        );
        assert_eq!(known_hosts_key(&[0, 0, 0, 9, b'x']), None);
    }
}
