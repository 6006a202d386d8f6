//! The amazon plugin's data sources: `amazon-ami` (DescribeImages with `filters`, `owners`,
//! `most_recent`, `include_deprecated`), `amazon-parameterstore` (SSM GetParameter) and
//! `amazon-secretsmanager` (GetSecretValue; every value it returns is registered as a secret,
//! so it is masked in all output). Messages are the plugin's.

use aws_sdk_ec2::types::Filter;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use hcl::{Map, Value};

use super::{string_map, Job};
use crate::aws::access::{AccessConfig, Clients};
use crate::aws::error::AwsError;
use crate::builders::amazon_ebs::config::access;
use crate::decoder::Decoder;

async fn clients(access: &AccessConfig) -> Result<std::sync::Arc<Clients>, String> {
    Clients::load(access).await.map_err(|e| format!("{e:#}"))
}

pub(super) fn configure_ami(d: &mut Decoder<'_>) -> Job {
    let access = access::decode(d);
    let filters = d.string_map("filters").unwrap_or_default();
    let owners = d.string_list("owners").unwrap_or_default();
    let most_recent = d.bool("most_recent").unwrap_or(false);
    let include_deprecated = d.bool("include_deprecated").unwrap_or(false);
    if owners.is_empty() && filters.is_empty() {
        d.error_general("The `filters` must be specified");
    }
    if owners.is_empty() {
        d.error_general("For security reasons, you must declare an owner.");
    }
    Box::pin(async move {
        let c = clients(&access).await?;
        let mut req = c.ec2(&c.region).describe_images();
        let mut shown = Vec::new();
        for (k, v) in &filters {
            req = req.filters(Filter::builder().name(k).values(v).build());
            shown.push(format!("{k}: {v}"));
        }
        for o in &owners {
            req = req.owners(o);
        }
        req = req.include_deprecated(include_deprecated);
        let out = req.send().await.map_err(|e| {
            format!(
                "Error querying AMI: {}",
                AwsError::from_sdk(format!("describing images in {}", c.region), &e)
            )
        })?;
        let mut images = out.images().to_vec();
        if images.is_empty() {
            return Err(format!(
                "No AMI was found matching filters: {{{}}} owners: [{}]",
                shown.join(", "),
                owners.join(" ")
            ));
        }
        if images.len() > 1 && !most_recent {
            return Err("Your query returned more than one result. Please try a more specific search, or set most_recent to true.".into());
        }
        // RFC 3339 dates sort as strings; the newest is last.
        images.sort_by(|a, b| {
            a.creation_date()
                .unwrap_or("")
                .cmp(b.creation_date().unwrap_or(""))
        });
        let img = images.pop().expect("non-empty");
        let s = |v: Option<&str>| Value::String(v.unwrap_or("").to_string());
        let mut m = Map::new();
        m.insert("id".into(), s(img.image_id()));
        m.insert("name".into(), s(img.name()));
        m.insert("creation_date".into(), s(img.creation_date()));
        m.insert("owner".into(), s(img.owner_id()));
        m.insert("owner_name".into(), s(img.image_owner_alias()));
        m.insert(
            "tags".into(),
            string_map(img.tags().iter().map(|t| {
                (
                    t.key().unwrap_or("").to_string(),
                    t.value().unwrap_or("").to_string(),
                )
            })),
        );
        Ok(m)
    })
}

pub(super) fn configure_parameter(d: &mut Decoder<'_>) -> Job {
    let access = access::decode(d);
    let name = d.string("name").unwrap_or_default();
    let with_decryption = d.bool("with_decryption").unwrap_or(false);
    if name.is_empty() {
        d.error_general("a 'name' must be provided");
    }
    Box::pin(async move {
        let c = clients(&access).await?;
        let ssm = crate::aws::ssm::client(&c.sdk, &c.region);
        let out = ssm
            .get_parameter()
            .name(&name)
            .with_decryption(with_decryption)
            .send()
            .await
            .map_err(|e| {
                let svc = e.as_service_error();
                if svc.is_some_and(GetParameterError::is_parameter_not_found) {
                    format!("The parameter name {name:?} not found")
                } else if svc.is_some_and(GetParameterError::is_parameter_version_not_found) {
                    format!("The parameter version {name:?} not found")
                } else {
                    format!(
                        "error to get parameter value: {}",
                        AwsError::from_sdk(format!("reading parameter {name:?}"), &e)
                    )
                }
            })?;
        let p = out.parameter();
        let mut m = Map::new();
        let value = p.and_then(|p| p.value()).unwrap_or("").to_string();
        if p.is_some_and(|p| p.r#type() == Some(&aws_sdk_ssm::types::ParameterType::SecureString)) {
            crate::ui::secrets::register(&value);
        }
        m.insert("value".into(), Value::String(value));
        m.insert(
            "version".into(),
            Value::String(
                p.map_or(0, aws_sdk_ssm::types::Parameter::version)
                    .to_string(),
            ),
        );
        m.insert(
            "arn".into(),
            Value::String(p.and_then(|p| p.arn()).unwrap_or("").to_string()),
        );
        Ok(m)
    })
}

pub(super) fn configure_secret(d: &mut Decoder<'_>) -> Job {
    let name = d.string("name").unwrap_or_default();
    let key = d.string("key").unwrap_or_default();
    let version_id = d.string("version_id").unwrap_or_default();
    let mut version_stage = d.string("version_stage").unwrap_or_default();
    let access = access::decode(d);
    if name.is_empty() {
        d.error_general("a 'name' must be provided");
    }
    if version_stage.is_empty() {
        version_stage = "AWSCURRENT".into();
    }
    Box::pin(async move {
        let c = clients(&access).await?;
        let sm = secrets_client(&c);
        let mut req = sm.get_secret_value().secret_id(&name);
        let version = if version_id.is_empty() {
            req = req.version_stage(&version_stage);
            version_stage.clone()
        } else {
            req = req.version_id(&version_id);
            version_id.clone()
        };
        let out = req.send().await.map_err(|e| {
            let svc = e.as_service_error();
            let deleted = svc.is_some_and(|s| {
                s.is_invalid_request_exception()
                    && aws_smithy_types::error::metadata::ProvideErrorMetadata::message(s)
                        .is_some_and(|m| m.contains("because it was deleted"))
            });
            if svc.is_some_and(GetSecretValueError::is_resource_not_found_exception) || deleted {
                format!("Secrets Manager Secret {name:?} Version {version:?} not found")
            } else {
                format!(
                    "error reading Secrets Manager Secret Version: {}",
                    AwsError::from_sdk(format!("reading secret {name:?}"), &e)
                )
            }
        })?;
        let secret_string = out.secret_string().unwrap_or("").to_string();
        let secret_binary = out
            .secret_binary()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        let value = secret_value(&secret_string, &key)
            .map_err(|e| format!("error to get secret value: {e:?}"))?;
        for s in [&value, &secret_string, &secret_binary] {
            crate::ui::secrets::register(s);
        }
        let mut m = Map::new();
        m.insert("value".into(), Value::String(value));
        m.insert("secret_string".into(), Value::String(secret_string));
        m.insert("secret_binary".into(), Value::String(secret_binary));
        m.insert(
            "version_id".into(),
            Value::String(out.version_id().unwrap_or("").to_string()),
        );
        Ok(m)
    })
}

/// The Secrets Manager client, at `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL` when
/// set (with the HTTP client a plain-http emulator needs).
fn secrets_client(c: &Clients) -> aws_sdk_secretsmanager::Client {
    let mut b = aws_sdk_secretsmanager::config::Builder::from(&c.sdk)
        .region(aws_config::Region::new(c.region.clone()));
    if let Some(e) = crate::aws::ssm::env_endpoint("SECRETS_MANAGER") {
        b = b.endpoint_url(&e);
        if let Some(http) = crate::aws::sdk_config::http_client_for(&e) {
            b = b.http_client(http);
        }
    }
    aws_sdk_secretsmanager::Client::from_conf(b.build())
}

/// The plugin's `getSecretValue`: a secret that is not JSON is the value; a JSON object gives
/// `key`'s value (or, without `key`, its first value); numbers print without a fraction; a
/// missing key is empty.
pub(super) fn secret_value(secret: &str, key: &str) -> Result<String, String> {
    let Ok(parsed) = serde_json::from_str::<serde_json::Value>(secret) else {
        return Ok(secret.to_string());
    };
    if parsed.is_null() {
        return Ok(String::new());
    }
    let serde_json::Value::Object(o) = parsed else {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_json_kind(&parsed)
        ));
    };
    let v = if key.is_empty() {
        o.values().next()
    } else {
        o.get(key)
    };
    match v {
        None => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            Ok(format!("{f:.0}"))
        }
        Some(other) => Err(format!(
            "Unsupported secret value type: {}",
            match other {
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Array(_) => "[]interface {}",
                serde_json::Value::Object(_) => "map[string]interface {}",
                _ => "<nil>",
            }
        )),
    }
}

fn go_json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        _ => "null",
    }
}
