//! Packer's AccessConfig keys (credentials, region, endpoints, `assume_role`, `aws_polling`),
//! decoded and checked in Packer's order. The clients built from them are in
//! [`crate::aws::access`].

use std::collections::BTreeMap;

use crate::aws::access::{AccessConfig, AssumeRole, PollingConfig};
use crate::decoder::Decoder;

/// Decodes the access keys of an amazon builder/post-processor (`skip_region_validation` is an
/// AMI-config key in Packer, read here too because it decides an API call).
pub fn decode(d: &mut Decoder<'_>) -> AccessConfig {
    let mut c = AccessConfig {
        access_key: d.string("access_key").filter(|s| !s.is_empty()),
        secret_key: d.string("secret_key").filter(|s| !s.is_empty()),
        token: d.string("token").filter(|s| !s.is_empty()),
        region: d.string("region").filter(|s| !s.is_empty()),
        profile: d.string("profile").filter(|s| !s.is_empty()),
        shared_credentials_file: d
            .string("shared_credentials_file")
            .filter(|s| !s.is_empty()),
        custom_endpoint_ec2: d.string("custom_endpoint_ec2").filter(|s| !s.is_empty()),
        insecure_skip_tls_verify: d.bool("insecure_skip_tls_verify").unwrap_or(false),
        max_retries: d.int("max_retries"),
        mfa_code: d.string("mfa_code").filter(|s| !s.is_empty()),
        skip_metadata_api_check: d.bool("skip_metadata_api_check").unwrap_or(false),
        skip_credential_validation: d.bool("skip_credential_validation").unwrap_or(false),
        skip_region_validation: d.bool("skip_region_validation").unwrap_or(false),
        decode_authorization_messages: d.bool("decode_authorization_messages").unwrap_or(false),
        assume_role: None,
        vault_aws_engine: None,
        polling: PollingConfig::default(),
    };
    c.assume_role = d
        .object("assume_role", |d| AssumeRole {
            role_arn: d.string("role_arn").unwrap_or_default(),
            duration_seconds: d.int("duration_seconds"),
            external_id: d.string("external_id").filter(|s| !s.is_empty()),
            policy: d.string("policy").filter(|s| !s.is_empty()),
            policy_arns: d.string_list("policy_arns").unwrap_or_default(),
            session_name: d.string("session_name").filter(|s| !s.is_empty()),
            tags: d.string_map("tags").unwrap_or_default(),
            transitive_tag_keys: d.string_list("transitive_tag_keys").unwrap_or_default(),
        })
        .filter(|a| !a.role_arn.is_empty());
    c.vault_aws_engine = d
        .object("vault_aws_engine", |d| {
            let mut m = BTreeMap::new();
            for k in ["name", "engine_name", "role_arn", "ttl"] {
                if let Some(v) = d.string(k) {
                    m.insert(k.to_string(), v);
                }
            }
            m
        })
        .filter(|m| !m.is_empty());
    c.polling = d
        .object("aws_polling", |d| PollingConfig {
            delay_seconds: d.int("delay_seconds"),
            max_attempts: d.int("max_attempts"),
        })
        .unwrap_or_default();

    // Packer's AccessConfig.Prepare checks, in its order.
    if c.vault_aws_engine.is_some() && c.access_key.is_some() {
        d.error(
            "vault_aws_engine",
            "If you have set vault_aws_engine, you must not set the access_key or secret_key.",
        );
    }
    refuse_unimplemented(d, &c);
    if c.access_key.is_some() != c.secret_key.is_some() {
        d.error(
            "access_key",
            "`access_key` and `secret_key` must both be either set or not set.",
        );
    }
    if c.skip_metadata_api_check {
        tracing::warn!("(WARN) skip_metadata_api_check ignored.");
    }
    c
}

/// Credential sources Packer reads and rpack does not: refused when the template is checked,
/// with the key's position (added by `plan`) and a way to get the same credentials, never after
/// `rpack build` has started.
fn refuse_unimplemented(d: &mut Decoder<'_>, c: &AccessConfig) {
    use crate::communicator::refuse::NOT_IMPLEMENTED;
    if c.vault_aws_engine.is_some() {
        d.error(
            "vault_aws_engine",
            format!("vault_aws_engine: reading AWS credentials from HashiCorp Vault {NOT_IMPLEMENTED}. Hint: read them before the build (`vault read aws/creds/<role>`) and export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or use assume_role"),
        );
    }
    if c.mfa_code.is_some() {
        d.error(
            "mfa_code",
            format!("mfa_code: an MFA code in the template {NOT_IMPLEMENTED}. Hint: get MFA session credentials before the build (`aws sts get-session-token --serial-number <device> --token-code <code>`) and export them, or use assume_role"),
        );
    }
}
