//! The AWS calls of `rpack platform`, each with an error naming what was being done and where:
//! Elastic Beanstalk (platform versions, events, storage location, saved configurations), S3
//! (bundle upload), IAM (the builder's instance profile), CloudWatch Logs (the builder's log)
//! and STS (account id). Endpoints follow
//! aws-config (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ELASTIC_BEANSTALK`, `_S3`, `_IAM`).

use std::path::Path;

use anyhow::{Context, Result};
use aws_sdk_elasticbeanstalk::operation::RequestId;
use aws_sdk_elasticbeanstalk::types::{
    ConfigurationOptionSetting, EventDescription, PlatformDescription, PlatformFilter,
    PlatformSummary, Tag,
};
use aws_smithy_types::DateTime;

use crate::aws::AwsError;

/// The builder's default instance profile (ebcli iam_attributes.DEFAULT_PLATFORM_BUILDER_ROLE).
pub const BUILDER_PROFILE: &str = "aws-elasticbeanstalk-custom-platform-ec2-role";
const BUILDER_POLICIES: [&str; 2] = [
    "AWSElasticBeanstalkWebTier",
    "AWSElasticBeanstalkCustomPlatformforEC2Role",
];

pub struct Api {
    pub region: String,
    eb: aws_sdk_elasticbeanstalk::Client,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

fn err<E, R>(
    what: String,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug,
{
    anyhow::Error::new(AwsError::from_sdk(what, e))
}

/// The service's error code of an anyhow error made by [`err`].
pub fn code(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<AwsError>().and_then(|a| a.code.clone())
}

impl Api {
    /// Clients for `region` (else the default chain's region).
    pub async fn load(region: Option<&str>) -> Result<Api> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_types::region::Region::new(r.to_string()));
        }
        let conf = loader.load().await;
        let region = conf
            .region()
            .map(|r| r.to_string())
            .context("no AWS region: pass --region or set AWS_REGION")?;
        // Path-style S3 addressing when S3 is pointed at a custom endpoint (moto, MinIO).
        let custom_s3 = std::env::var_os("AWS_ENDPOINT_URL_S3")
            .or_else(|| std::env::var_os("AWS_ENDPOINT_URL"))
            .is_some();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(custom_s3)
                .build(),
        );
        Ok(Api {
            region,
            eb: aws_sdk_elasticbeanstalk::Client::new(&conf),
            s3,
            iam: aws_sdk_iam::Client::new(&conf),
            sts: aws_sdk_sts::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
        })
    }

    pub async fn account_id(&self) -> Result<String> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| err(format!("getting the account id in {}", self.region), &e))?;
        out.account.context("GetCallerIdentity returned no account")
    }

    fn filter(t: &str, v: &str) -> PlatformFilter {
        PlatformFilter::builder()
            .r#type(t)
            .operator("=")
            .values(v)
            .build()
    }

    /// Own platform versions: all, or of `name`, optionally only `status`, optionally only the
    /// latest of each name (ListPlatformVersions, every page).
    pub async fn list(
        &self,
        name: Option<&str>,
        status: Option<&str>,
        latest: bool,
    ) -> Result<Vec<PlatformSummary>> {
        let mut filters = vec![Self::filter("PlatformOwner", "self")];
        if let Some(n) = name {
            filters.push(Self::filter("PlatformName", n));
        }
        if let Some(s) = status {
            filters.push(Self::filter("PlatformStatus", s));
        }
        if latest {
            filters.push(Self::filter("PlatformVersion", "latest"));
        }
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .eb
                .list_platform_versions()
                .set_filters(Some(filters.clone()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| err(format!("listing platform versions in {}", self.region), &e))?;
            out.extend(page.platform_summary_list.unwrap_or_default());
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    pub async fn describe(&self, arn: &str) -> Result<PlatformDescription> {
        let out = self
            .eb
            .describe_platform_version()
            .platform_arn(arn)
            .send()
            .await
            .map_err(|e| err(format!("describing platform version {arn}"), &e))?;
        out.platform_description
            .with_context(|| format!("describing platform version {arn}: empty answer"))
    }

    pub async fn storage_location(&self) -> Result<String> {
        let out = self
            .eb
            .create_storage_location()
            .send()
            .await
            .map_err(|e| {
                err(
                    format!(
                        "getting the Elastic Beanstalk storage bucket in {}",
                        self.region
                    ),
                    &e,
                )
            })?;
        out.s3_bucket
            .context("CreateStorageLocation returned no bucket")
    }

    /// Uploads `file` to s3://bucket/key unless an object with that key exists (ebp's rule).
    pub async fn upload(&self, bucket: &str, key: &str, file: &Path) -> Result<bool> {
        let listed = self
            .s3
            .list_objects()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .map_err(|e| err(format!("listing s3://{bucket}/{key}"), &e))?;
        if listed.contents().iter().any(|o| o.key() == Some(key)) {
            return Ok(false);
        }
        let body = aws_sdk_s3::primitives::ByteStream::from_path(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(|e| err(format!("uploading s3://{bucket}/{key}"), &e))?;
        Ok(true)
    }

    /// The builder instance profile with its role and the two managed policies; existing
    /// pieces are kept. Returns a warning instead of failing when IAM refuses access.
    pub async fn ensure_instance_profile(&self, name: &str) -> Result<Option<String>> {
        let principal = if self.region.starts_with("cn-") {
            "ec2.amazonaws.com.cn"
        } else {
            "ec2.amazonaws.com"
        };
        let trust = format!(
            r#"{{"Version":"2008-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let ok = |r: Result<(), anyhow::Error>| -> Result<Option<String>> {
            match r {
                Ok(()) => Ok(None),
                Err(e) if code(&e).as_deref() == Some("EntityAlreadyExists") => Ok(None),
                Err(e) if matches!(code(&e).as_deref(), Some("AccessDenied" | "NotAuthorized")) => {
                    Ok(Some(format!("{e:#}")))
                }
                Err(e) => Err(e),
            }
        };
        let r = self
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(format!("creating instance profile {name}"), &e));
        if let Some(w) = ok(r)? {
            return Ok(Some(w));
        }
        let r = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(&trust)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(format!("creating role {name}"), &e));
        if let Some(w) = ok(r)? {
            return Ok(Some(w));
        }
        let partition = if self.region.starts_with("cn-") {
            "aws-cn"
        } else {
            "aws"
        };
        for p in BUILDER_POLICIES {
            let arn = format!("arn:{partition}:iam::aws:policy/{p}");
            let r = self
                .iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| err(format!("attaching {arn} to role {name}"), &e));
            if let Some(w) = ok(r)? {
                return Ok(Some(w));
            }
        }
        let r = self
            .iam
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(format!("adding role {name} to instance profile {name}"), &e));
        ok(r.or_else(|e| {
            if code(&e).as_deref() == Some("LimitExceeded") {
                Ok(())
            } else {
                Err(e)
            }
        }))
    }

    /// CreatePlatformVersion; returns the new ARN and the request id its events carry.
    pub async fn create(
        &self,
        name: &str,
        version: &str,
        bucket: &str,
        key: &str,
        settings: Vec<ConfigurationOptionSetting>,
        tags: Vec<Tag>,
    ) -> Result<(String, Option<String>)> {
        let bundle = aws_sdk_elasticbeanstalk::types::S3Location::builder()
            .s3_bucket(bucket)
            .s3_key(key)
            .build();
        let out = self
            .eb
            .create_platform_version()
            .platform_name(name)
            .platform_version(version)
            .platform_definition_bundle(bundle)
            .set_option_settings(Some(settings))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                err(
                    format!(
                        "creating platform version {name}/{version} in {}",
                        self.region
                    ),
                    &e,
                )
            })?;
        let arn = out
            .platform_summary()
            .and_then(|s| s.platform_arn())
            .map(str::to_string)
            .context("CreatePlatformVersion returned no ARN")?;
        Ok((arn, out.request_id().map(str::to_string)))
    }

    /// Events of a platform version, oldest first.
    pub async fn events(
        &self,
        arn: &str,
        request_id: Option<&str>,
        start: Option<DateTime>,
    ) -> Result<Vec<EventDescription>> {
        let out = self
            .eb
            .describe_events()
            .platform_arn(arn)
            .set_request_id(request_id.map(str::to_string))
            .set_start_time(start)
            .send()
            .await
            .map_err(|e| err(format!("describing events of {arn}"), &e))?;
        let mut events = out.events.unwrap_or_default();
        events.reverse();
        Ok(events)
    }

    pub async fn delete(&self, arn: &str) -> Result<Option<String>> {
        let out = self
            .eb
            .delete_platform_version()
            .platform_arn(arn)
            .send()
            .await
            .map_err(|e| err(format!("deleting platform version {arn}"), &e))?;
        Ok(out.request_id().map(str::to_string))
    }

    /// Names of environments that run on `arn`.
    pub async fn environments_using(&self, arn: &str) -> Result<Vec<String>> {
        let out = self
            .eb
            .describe_environments()
            .send()
            .await
            .map_err(|e| err(format!("describing environments in {}", self.region), &e))?;
        Ok(out
            .environments()
            .iter()
            .filter(|e| e.platform_arn() == Some(arn))
            .filter_map(|e| e.environment_name().map(str::to_string))
            .collect())
    }

    pub async fn create_configuration_template(
        &self,
        app: &str,
        name: &str,
        platform_arn: Option<&str>,
        stack: Option<&str>,
        description: &str,
        settings: Vec<ConfigurationOptionSetting>,
    ) -> Result<()> {
        self.eb
            .create_configuration_template()
            .application_name(app)
            .template_name(name)
            .set_platform_arn(platform_arn.map(str::to_string))
            .set_solution_stack_name(stack.map(str::to_string))
            .description(description)
            .set_option_settings(Some(settings))
            .send()
            .await
            .map_err(|e| {
                err(
                    format!(
                        "creating saved configuration {name} of application {app} in {}",
                        self.region
                    ),
                    &e,
                )
            })?;
        Ok(())
    }

    pub async fn update_environment(&self, env: &str, template: &str) -> Result<()> {
        self.eb
            .update_environment()
            .environment_name(env)
            .template_name(template)
            .send()
            .await
            .map_err(|e| {
                err(
                    format!(
                        "updating environment {env} to saved configuration {template} in {}",
                        self.region
                    ),
                    &e,
                )
            })?;
        Ok(())
    }
}

impl Api {
    /// Log lines of `group`/`stream` after `token` (GetLogEvents forward from the start); returns
    /// the lines and the token to continue from. A missing group or stream is no lines yet.
    pub async fn log_lines(
        &self,
        group: &str,
        stream: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let mut lines = Vec::new();
        let mut token = token;
        loop {
            let out = match self
                .logs
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    let e = err(
                        format!("reading log stream {group} {stream} in {}", self.region),
                        &e,
                    );
                    if code(&e).as_deref() == Some("ResourceNotFoundException") {
                        return Ok((lines, token));
                    }
                    return Err(e);
                }
            };
            let events = out.events.unwrap_or_default();
            lines.extend(events.iter().filter_map(|e| e.message.clone()));
            let next = out.next_forward_token;
            if events.is_empty() || next.is_none() || next == token {
                return Ok((lines, next.or(token)));
            }
            token = next;
        }
    }
}

pub fn setting(ns: &str, name: &str, value: &str) -> ConfigurationOptionSetting {
    ConfigurationOptionSetting::builder()
        .namespace(ns)
        .option_name(name)
        .value(value)
        .build()
}
