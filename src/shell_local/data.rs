//! The data a build hands its provisioners and post-processors. A builder fills one typed
//! [`GeneratedData`]; the pipeline adds the run's `PackerRunUUID` (its one writer) and turns it
//! into the string map templates read (`{{ build `ID` }}`) only where a [`RunData`] is made.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::communicator::SshConfig;
use crate::template::interp::{self, Context, Value};

/// Packer's generated data (`{{ build `X` }}`), typed. A key is present in the map when its
/// builder sets it: `None` fields are absent, as in Packer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneratedData {
    /// `ID`: the instance id (amazon-ebs), Packer's null id (`null`).
    pub id: Option<String>,
    /// `Host`, `Port`, `User`, `Password`: how the communicator reaches the machine.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `ConnType`: `ssh` or `none`.
    pub conn_type: Option<String>,
    /// `PackerRunUUID`: the run's id, the same for every build, provisioner and post-processor
    /// of one `rpack build`; only the pipeline sets it.
    pub packer_run_uuid: Option<String>,
    /// `BuildRegion` (amazon-ebs).
    pub build_region: Option<String>,
    /// `SourceAMI`, `SourceAMIName`, `SourceAMICreationDate`, `SourceAMIOwner`,
    /// `SourceAMIOwnerName` (amazon-ebs).
    pub source_ami: Option<SourceAmi>,
    /// The SSH facts of the connection (for the `ansible` provisioner's direct connection).
    pub ssh: Option<SshFacts>,
}

/// The source AMI an amazon-ebs build started from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceAmi {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub owner: String,
    pub owner_name: String,
}

/// Packer's `SSHPrivateKeyFile`/`SSHPrivateKey`/`SSHAgentAuth`, and rpack's `SSHHostKey` (the
/// host key the build's connection pinned, as `<type> <base64>` for a known_hosts line) and
/// `SSHBastion*` (with `SSHBastionHostKey`, the bastion's pinned key, in the same form),
/// `SSHProxy` and `SSHCertificateFile`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshFacts {
    pub private_key_file: String,
    /// `SSHPrivateKey`: the temporary key's text (empty when the build uses a key file, an
    /// agent or a password), a registered secret.
    pub private_key: String,
    pub agent_auth: bool,
    pub host_key: Option<String>,
    pub bastion: Option<Bastion>,
    /// rpack's `SSHProxy`: the SOCKS5 proxy (`host:port`) the build's connections go through.
    pub proxy: Option<String>,
    /// rpack's `SSHCertificateFile`: the certificate the build's connection offers.
    pub certificate_file: Option<String>,
}

/// The jump host of an SSH connection; `host_key` (`SSHBastionHostKey`) is the key its
/// connections pinned, as `<type> <base64>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub private_key_file: Option<String>,
    pub host_key: Option<String>,
}

impl SshFacts {
    /// The facts of a connection made with `cfg`: `key_file` is the private key file the
    /// communicator uses, `cfg.private_key` the key it holds in memory, `host_key` the key blob
    /// its connection saw, `bastion_host_key` the one its bastion presented (pinned).
    pub fn new(
        cfg: &SshConfig,
        key_file: Option<&Path>,
        host_key: Option<Vec<u8>>,
        bastion_host_key: Option<Vec<u8>>,
    ) -> SshFacts {
        SshFacts {
            private_key_file: key_file
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            private_key: cfg
                .private_key
                .as_ref()
                .map(|k| k.as_str().to_string())
                .unwrap_or_default(),
            agent_auth: cfg.agent_auth,
            host_key: host_key.and_then(|b| known_hosts_key(&b)),
            bastion: cfg.bastion.as_ref().map(|b| Bastion {
                host: b.host.clone(),
                port: b.port,
                user: b.username.clone(),
                private_key_file: b.private_key_file.as_ref().map(|k| k.display().to_string()),
                host_key: bastion_host_key.as_deref().and_then(known_hosts_key),
            }),
            proxy: cfg.proxy.as_ref().map(|p| format!("{}:{}", p.host, p.port)),
            certificate_file: cfg
                .certificate_file
                .as_ref()
                .map(|c| c.display().to_string()),
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

impl GeneratedData {
    /// The map `{{ build `X` }}` reads, with Packer's key names.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("ID", self.id.clone());
        put("Host", self.host.clone());
        put("Port", self.port.map(|p| p.to_string()));
        put("User", self.user.clone());
        put("Password", self.password.clone());
        put("ConnType", self.conn_type.clone());
        put("PackerRunUUID", self.packer_run_uuid.clone());
        put("BuildRegion", self.build_region.clone());
        if let Some(s) = &self.source_ami {
            put("SourceAMI", Some(s.id.clone()));
            put("SourceAMIName", Some(s.name.clone()));
            put("SourceAMICreationDate", Some(s.creation_date.clone()));
            put("SourceAMIOwner", Some(s.owner.clone()));
            put("SourceAMIOwnerName", Some(s.owner_name.clone()));
        }
        if let Some(ssh) = &self.ssh {
            put("SSHPrivateKeyFile", Some(ssh.private_key_file.clone()));
            put("SSHPrivateKey", Some(ssh.private_key.clone()));
            put("SSHAgentAuth", Some(ssh.agent_auth.to_string()));
            put("SSHHostKey", ssh.host_key.clone());
            if let Some(b) = &ssh.bastion {
                put("SSHBastionHost", Some(b.host.clone()));
                put("SSHBastionPort", Some(b.port.to_string()));
                put("SSHBastionUser", Some(b.user.clone()));
                put("SSHBastionPrivateKeyFile", b.private_key_file.clone());
                put("SSHBastionHostKey", b.host_key.clone());
            }
            put("SSHProxy", ssh.proxy.clone());
            put("SSHCertificateFile", ssh.certificate_file.clone());
        }
        m
    }
}

/// What a provisioner or post-processor knows about the build it runs in (Packer passes the
/// same through `PACKER_BUILD_NAME`, `PACKER_BUILDER_TYPE` and the generated data).
#[derive(Clone, Default)]
pub struct RunData {
    /// `PACKER_BUILD_NAME`.
    pub build_name: String,
    /// `PACKER_BUILDER_TYPE`.
    pub builder_type: String,
    /// The generated data as `{{ build `X` }}` reads it ([`GeneratedData::to_map`]: `ID`,
    /// `Host`, `Port`, `User`, `PackerRunUUID`, …). `PackerHTTPAddr` feeds `PACKER_HTTP_ADDR`.
    pub values: BTreeMap<String, String>,
    /// The template's render context (user variables, template path, …).
    pub ctx: Context,
    /// The build's private local directory (`$TMPDIR/rpack-<build-id>`), for files a tool needs
    /// that hold secrets (the `ansible` provisioner's copy of the temporary key): a build killed
    /// while they exist leaves them where `rpack cleanup` removes them. Builds with a ledger
    /// (amazon-ebs) only; made by its first user, mode 0700.
    pub work_dir: Option<std::path::PathBuf>,
}

impl RunData {
    /// A render context with this build's data and `dot` as `.`.
    pub fn render_ctx(&self, dot: Option<Value>) -> Context {
        let mut c = self.ctx.clone();
        c.build_name = Some(self.build_name.clone());
        c.build_type = Some(self.builder_type.clone());
        c.build_data = interp::BuildData::Values(self.values.clone());
        c.data = dot;
        c
    }

    /// Renders `s` at run time (build values available).
    pub fn render(&self, s: &str, dot: Option<Value>) -> anyhow::Result<String> {
        interp::render(s, &self.render_ctx(dot))
            .map_err(|e| anyhow::anyhow!("rendering {s:?}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_has_packers_keys_and_only_the_ones_set() {
        let g = GeneratedData {
            id: Some("i-1".into()),
            port: Some(22),
            user: Some("ec2-user".into()),
            conn_type: Some("ssh".into()),
            packer_run_uuid: Some("run-1".into()),
            build_region: Some("us-east-1".into()),
            source_ami: Some(SourceAmi {
                id: "ami-1".into(),
                ..Default::default()
            }),
            ssh: Some(SshFacts {
                private_key_file: "/k".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = g.to_map();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "BuildRegion",
                "ConnType",
                "ID",
                "PackerRunUUID",
                "Port",
                "SSHAgentAuth",
                "SSHPrivateKey",
                "SSHPrivateKeyFile",
                "SourceAMI",
                "SourceAMICreationDate",
                "SourceAMIName",
                "SourceAMIOwner",
                "SourceAMIOwnerName",
                "User"
            ]
        );
        assert_eq!(m["Port"], "22");
        assert_eq!(m["SSHAgentAuth"], "false");
        assert!(GeneratedData::default().to_map().is_empty());
    }

    #[test]
    fn the_bastions_pinned_key_becomes_ssh_bastion_host_key() {
        let cfg = SshConfig {
            bastion: Some(crate::communicator::config::Bastion {
                host: "jump".into(),
                port: 2200,
                username: "u".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 1, 7]);
        let m = |b: Option<Vec<u8>>| {
            GeneratedData {
                ssh: Some(SshFacts::new(&cfg, None, None, b)),
                ..Default::default()
            }
            .to_map()
        };
        let with = m(Some(blob.clone()));
        assert_eq!(with["SSHBastionHost"], "jump");
        assert_eq!(
            with["SSHBastionHostKey"],
            known_hosts_key(&blob).unwrap(),
            "{with:?}"
        );
        assert!(!m(None).contains_key("SSHBastionHostKey"));
    }

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
