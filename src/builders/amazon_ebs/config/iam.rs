//! `temporary_iam_instance_profile_policy_document`: the policy rpack attaches to the instance
//! profile it creates for the build.

use crate::decoder::Decoder;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyStatement {
    pub effect: String,
    pub action: Vec<String>,
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyDocument {
    pub version: String,
    pub statement: Vec<PolicyStatement>,
}

impl PolicyDocument {
    pub fn to_json(&self) -> String {
        let st: Vec<serde_json::Value> = self
            .statement
            .iter()
            .map(|s| serde_json::json!({"Effect": s.effect, "Action": s.action, "Resource": s.resource}))
            .collect();
        serde_json::json!({"Version": self.version, "Statement": st}).to_string()
    }
}

/// Decodes `temporary_iam_instance_profile_policy_document` (Version defaults to 2012-10-17).
pub(super) fn decode_policy(d: &mut Decoder<'_>) -> Option<PolicyDocument> {
    d.object("temporary_iam_instance_profile_policy_document", |d| {
        PolicyDocument {
            version: d
                .string("Version")
                .unwrap_or_else(|| "2012-10-17".to_string()),
            statement: d
                .object_list("Statement", |d| PolicyStatement {
                    effect: d.string("Effect").unwrap_or_default(),
                    action: d.string_list("Action").unwrap_or_default(),
                    resource: d.string_list("Resource").unwrap_or_default(),
                })
                .unwrap_or_default(),
        }
    })
}
