//! The `null` builder's configuration: only a communicator, checked like Packer 1.6.6's
//! `builder/null` (host, username and exactly one authentication method unless
//! `communicator` is `none`).

use crate::communicator::config::{self as comm, CommType, SshConfig};
use crate::decoder::Decoder;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub comm: SshConfig,
}

/// Decodes a `null` builder; problems are recorded on `d`.
pub fn decode(d: &mut Decoder<'_>) -> Config {
    let c = comm::decode(d);
    if c.comm_type != CommType::None {
        if c.host.as_deref().unwrap_or("").is_empty() {
            d.error(
                "ssh_host",
                "a Host must be specified, please reference your communicator documentation",
            );
        }
        if c.username.is_empty() {
            d.error(
                "ssh_username",
                "a Username must be specified, please reference your communicator documentation",
            );
        }
        let has_password = c.password.as_deref().is_some_and(|p| !p.is_empty());
        let has_key = c.private_key_file.is_some();
        if !c.agent_auth && !has_password && !has_key {
            d.error("", "one authentication method must be specified, please reference your communicator documentation");
        }
        if (c.agent_auth && (has_password || has_key)) || (has_password && has_key) {
            d.error("", "only one of ssh_agent_auth, ssh_password, and ssh_private_key_file must be specified");
        }
    }
    Config { comm: c }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::interp::Context;
    use crate::template::json::parse;

    fn messages(src: &str) -> Vec<String> {
        let node = parse(src).unwrap();
        let ctx = Context::default();
        let mut d = Decoder::new(&[node.as_object().unwrap()], &ctx, "null", &[]);
        decode(&mut d);
        match d.finish() {
            Ok(()) => Vec::new(),
            Err(errs) => errs.into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn needs_host_user_and_one_auth_method() {
        assert_eq!(
            messages(r#"{"type":"null"}"#),
            [
                "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\".",
                "a Host must be specified, please reference your communicator documentation",
                "a Username must be specified, please reference your communicator documentation",
                "one authentication method must be specified, please reference your communicator documentation",
            ]
        );
        assert!(messages(r#"{"type":"null","communicator":"none"}"#).is_empty());
        assert!(messages(
            r#"{"type":"null","ssh_host":"h","ssh_username":"u","ssh_password":"p"}"#
        )
        .is_empty());
    }
}
