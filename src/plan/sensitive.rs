//! What a checked template holds that must never be printed, beyond its `sensitive-variables`:
//! the builders' SSH and bastion passwords (and so the null builder's `{{build `Password`}}`).
//! Packer masks none of these; rpack registers them process-wide, so every UI and the debug log
//! mask them.

use super::{BuilderConfig, Checked};
use crate::communicator::config::SshConfig;
use crate::ui::secrets;

/// Registers the sensitive variables' values (`sensitive`) and every password in `checked`'s
/// builders as process-wide secrets.
pub(crate) fn register_build_secrets(checked: &Checked, sensitive: &[String]) {
    for v in sensitive {
        secrets::register(v);
    }
    for b in &checked.builds {
        if let Some(comm) = comm_of(&b.builder) {
            for p in passwords(comm) {
                secrets::register(p);
            }
        }
    }
}

fn comm_of(b: &BuilderConfig) -> Option<&SshConfig> {
    match b {
        BuilderConfig::AmazonEbs(c) => Some(&c.comm),
        BuilderConfig::Null(c) => Some(&c.comm),
        BuilderConfig::File(_) => None,
    }
}

fn passwords(c: &SshConfig) -> impl Iterator<Item = &str> {
    c.password
        .as_deref()
        .into_iter()
        .chain(c.bastion.as_ref().and_then(|b| b.password.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_and_bastion_passwords_are_collected() {
        let c = crate::communicator::config::SshConfig {
            password: Some("pw-main".into()),
            bastion: Some(crate::communicator::config::Bastion {
                password: Some("pw-bastion".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(passwords(&c).collect::<Vec<_>>(), ["pw-main", "pw-bastion"]);
    }
}
