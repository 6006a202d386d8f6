//! What a template may say but rpack cannot do, refused when the template is checked (never
//! after an instance was launched): the WinRM communicator, SSH options rpack accepts but does
//! not honour, and Session Manager through a bastion. Each error names the key and carries a
//! hint; `plan` adds the key's position.

use crate::decoder::Decoder;
use crate::template::json::Value;

/// Whether `ssh_interface: session_manager` can be built (rpack's native Session Manager
/// transport, `communicator::ssm`).
pub(crate) const SESSION_MANAGER_SUPPORTED: bool = true;

/// The marker `plan` looks for to add the key's position to the message.
pub(crate) const NOT_IMPLEMENTED: &str = "is not implemented by rpack";

/// SSH keys Packer honours and rpack accepts but does not implement: `(key, "feature; hint")`.
const UNHONOURED_SSH: &[(&str, &str)] = &[
    ("ssh_bastion_interactive", "keyboard-interactive authentication to the bastion; use ssh_bastion_private_key_file or ssh_bastion_password"),
];

/// A value that asks for nothing: unset, `null`, `""`, `false`, `0`, an empty list or map.
fn is_off(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => {
            let s = s.trim();
            s.is_empty() || matches!(s, "false" | "0" | "f" | "F" | "FALSE" | "False")
        }
        Value::Number(n) => n.parse::<f64>().is_ok_and(|f| f == 0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.entries.is_empty(),
    }
}

/// Refuses the SSH options rpack does not honour (when the communicator is SSH).
pub(crate) fn unhonoured_ssh_options(d: &mut Decoder) {
    for (key, what) in UNHONOURED_SSH {
        let set = d.peek(key).is_some_and(|n| !is_off(&n.value));
        if set {
            let (feature, hint) = what.split_once("; ").unwrap_or((what, "remove the key"));
            d.error(
                key,
                format!("{key}: {feature} {NOT_IMPLEMENTED}. Hint: {hint}"),
            );
        }
    }
}

/// Refuses `communicator: winrm`.
pub(crate) fn winrm(d: &mut Decoder) {
    d.error(
        "communicator",
        format!("communicator: \"winrm\" {NOT_IMPLEMENTED}, which connects over SSH only. Hint: use a Linux source image with \"communicator\": \"ssh\", or build Windows images with Packer"),
    );
}

/// Refuses `ssh_interface: session_manager` while [`SESSION_MANAGER_SUPPORTED`] is off, and
/// together with `ssh_bastion_host` (`bastion`): the session reaches the instance itself, and
/// a jump host in front of it has nothing to connect to (Packer would dial `localhost` from
/// the bastion).
pub(crate) fn ssh_interface(d: &mut Decoder, interface: Option<&str>, bastion: bool) {
    if interface != Some("session_manager") {
        return;
    }
    if !SESSION_MANAGER_SUPPORTED {
        d.error(
            "ssh_interface",
            format!("ssh_interface: \"session_manager\" {NOT_IMPLEMENTED} yet. Hint: use public_ip, private_ip, public_dns or private_dns (with ssh_bastion_host for private subnets)"),
        );
    } else if bastion {
        d.error(
            "ssh_interface",
            format!("ssh_interface: \"session_manager\" {NOT_IMPLEMENTED} through ssh_bastion_host: the Session Manager session reaches the instance itself. Hint: remove the ssh_bastion_* keys, or use private_ip with the bastion"),
        );
    }
}

/// amazon-ebs: EC2 creates only RSA and ED25519 key pairs (as the current Amazon plugin checks).
pub(crate) fn ec2_key_pair_type(d: &mut Decoder, kind: &str) {
    if kind != "rsa" && kind != "ed25519" {
        d.error(
            "temporary_key_pair_type",
            format!("temporary_key_pair_type ('{kind}') is invalid, valid types: rsa, ed25519 (EC2 key pairs are RSA or ED25519; {kind} {NOT_IMPLEMENTED})"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_that_ask_for_something_are_refused() {
        assert!(is_off(&Value::Null));
        assert!(is_off(&Value::String(String::new())));
        assert!(is_off(&Value::Bool(false)));
        assert!(is_off(&Value::Array(vec![])));
        assert!(!is_off(&Value::String("id.cert".into())));
        assert!(!is_off(&Value::Bool(true)));
    }
}
