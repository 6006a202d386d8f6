//! What a checked template holds that must never be printed, beyond its `sensitive-variables`:
//! the builders' SSH and bastion passwords (and so the null builder's `{{build `Password`}}`).
//! Packer masks none of these; rpack registers them process-wide, so every UI and the debug log
//! mask them. A builder whose configuration does not decode has no decoded password, and its
//! error may quote the password (used in another key through a variable): the password-like
//! keys of every builder's raw configuration are registered too, rendered with the template's
//! variables ([`register_raw_passwords`]), before any error is printed.

use std::collections::BTreeMap;

use super::{BuilderConfig, Checked};
use crate::communicator::config::SshConfig;
use crate::template::interp::{self, Context};
use crate::template::json::Value;
use crate::template::parse::Template;
use crate::ui::secrets;

/// Builder configuration keys that hold a password or a credential.
pub(crate) const PASSWORD_KEYS: [&str; 7] = [
    "ssh_password",
    "ssh_bastion_password",
    "ssh_proxy_password",
    "winrm_password",
    "password",
    "secret_key",
    "token",
];

/// Registers the values of [`PASSWORD_KEYS`] in every builder of `tpl`, as written (when the
/// text has no template action) and rendered with `user_vars` over `base` (when it renders).
/// Secrets Manager lookups are not repeated here: the values they return are registered when
/// they are read.
pub(crate) fn register_raw_passwords(
    tpl: &Template,
    user_vars: &BTreeMap<String, String>,
    base: &Context,
) {
    let mut ctx = base.clone();
    ctx.secrets = None;
    ctx.user_vars = user_vars.clone();
    ctx.strict_user_vars = false;
    for b in &tpl.builders {
        for key in PASSWORD_KEYS {
            let raw = match b.config.get(key).map(|n| &n.value) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.clone(),
                _ => continue,
            };
            if !raw.contains("{{") {
                secrets::register(&raw);
            } else if let Ok(v) = interp::render(&raw, &ctx) {
                secrets::register(&v);
            }
        }
    }
}

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
        BuilderConfig::AmazonEbsVolume(c) => Some(&c.base.comm),
        BuilderConfig::AmazonEbsSurrogate(c) => Some(&c.base.comm),
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

    #[test]
    fn raw_password_keys_are_registered_rendered_and_literal() {
        let tpl = crate::template::parse::parse_str(
            r#"{"builders": [
                {"type": "null", "ssh_password": "{{user `pw`}}-rawpw-4c1e", "ssh_timeout": "x"},
                {"type": "amazon-ebs", "secret_key": 987654321123, "ssh_bastion_password": "lit-bp-4c1e"},
                {"type": "null", "name": "n2", "ssh_username": "visible-user-4c1e", "ssh_password": "{{nope}}"}
            ]}"#,
        )
        .unwrap();
        let vars: BTreeMap<String, String> = [("pw".to_string(), "v-4c1e".to_string())].into();
        register_raw_passwords(&tpl, &vars, &Context::default());
        assert_eq!(
            secrets::mask_global(
                "v-4c1e-rawpw-4c1e 987654321123 lit-bp-4c1e visible-user-4c1e {{nope}}"
            ),
            "<sensitive> <sensitive> <sensitive> visible-user-4c1e {{nope}}"
        );
    }
}
