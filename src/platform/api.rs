//! The AWS calls of `rpack platform`, each with an error naming what was being done and where:
//! Elastic Beanstalk (platform versions, events, storage location, saved configurations), S3
//! (bundle upload, multipart above 7 MiB like ebcli), IAM (the builder's instance profile),
//! CloudWatch Logs (the builder's log), EC2 (the template's source AMI, key pairs) and STS
//! (account id). Endpoints follow aws-config (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_ELASTIC_BEANSTALK`, `_S3`, `_IAM`, `_EC2`, …).

use std::path::Path;

use anyhow::{bail, Context, Result};
use aws_sdk_elasticbeanstalk::operation::RequestId;
use aws_sdk_elasticbeanstalk::types::{
    ConfigurationOptionSetting, EventDescription, PlatformDescription, PlatformFilter,
    PlatformSummary, Tag,
};
use aws_smithy_types::DateTime;

use crate::aws::AwsError;

/// The builder's default instance profile (ebcli iam_attributes.DEFAULT_PLATFORM_BUILDER_ROLE).
pub(crate) const BUILDER_PROFILE: &str = "aws-elasticbeanstalk-custom-platform-ec2-role";
const BUILDER_POLICIES: [&str; 2] = [
    "AWSElasticBeanstalkWebTier",
    "AWSElasticBeanstalkCustomPlatformforEC2Role",
];

/// ebcli uploads archives of this size or more in parts (`s3.upload_workspace_version`).
pub(crate) const MULTIPART_THRESHOLD: u64 = 7_340_032;
/// The part size ebcli uses (`s3.CHUNK_SIZE`; S3's minimum part is 5 MiB).
pub(crate) const PART_SIZE: usize = 5_252_880;
/// Parts in flight at once (ebcli runs 8 threads; this is plenty for one archive).
const PARTS_IN_FLIGHT: usize = 4;

/// Platform statuses after which nothing more happens to a version.
pub(crate) const FINAL_STATUSES: [&str; 3] = ["Ready", "Failed", "Deleted"];

pub(crate) struct Api {
    pub region: String,
    sdk: aws_config::SdkConfig,
    eb: aws_sdk_elasticbeanstalk::Client,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    ec2: aws_sdk_ec2::Client,
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
    R: std::fmt::Debug + 'static,
{
    anyhow::Error::new(AwsError::from_sdk(what, e))
}

/// The service's error code of an anyhow error made by [`err`].
pub(crate) fn code(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<AwsError>().and_then(|a| a.code.clone())
}

impl Api {
    /// Clients for `region` (else the default chain's region), with `global`'s profile and
    /// Elastic Beanstalk endpoint.
    pub(crate) async fn load(region: Option<&str>, global: &super::Global) -> Result<Api> {
        // A plain-http endpoint is a local emulator: a fresh connection per call (see
        // aws::sdk_config::http_client_for), else every call waits for a delayed ACK.
        let endpoints = [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_ELASTIC_BEANSTALK",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_IAM",
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_EC2",
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        ];
        let conf = crate::aws::sdk_config()
            .region(region)
            .profile(global.profile.as_deref())
            .http_for_endpoints(
                global
                    .endpoint_url
                    .iter()
                    .cloned()
                    .chain(endpoints.iter().filter_map(|k| std::env::var(k).ok())),
            )
            .load()
            .await;
        let region = conf
            .region()
            .map(std::string::ToString::to_string)
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
            eb: match &global.endpoint_url {
                Some(url) => aws_sdk_elasticbeanstalk::Client::from_conf(
                    aws_sdk_elasticbeanstalk::config::Builder::from(&conf)
                        .endpoint_url(url)
                        .build(),
                ),
                None => aws_sdk_elasticbeanstalk::Client::new(&conf),
            },
            s3,
            iam: aws_sdk_iam::Client::new(&conf),
            sts: aws_sdk_sts::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
            sdk: conf,
        })
    }

    pub(crate) async fn account_id(&self) -> Result<String> {
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

    /// Own platform versions (ListPlatformVersions, every page), filtered like ebcli's
    /// `list_platform_versions`: owner self, then the name, the version (`latest` for the
    /// newest of each name) and the status when given, in that order.
    pub(crate) async fn list(
        &self,
        name: Option<&str>,
        version: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<PlatformSummary>> {
        let mut filters = vec![Self::filter("PlatformOwner", "self")];
        if let Some(n) = name {
            filters.push(Self::filter("PlatformName", n));
        }
        if let Some(v) = version {
            filters.push(Self::filter("PlatformVersion", v));
        }
        if let Some(s) = status {
            filters.push(Self::filter("PlatformStatus", s));
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
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) async fn describe(&self, arn: &str) -> Result<PlatformDescription> {
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

    pub(crate) async fn storage_location(&self) -> Result<String> {
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

    /// Uploads `file` to s3://bucket/key unless an object with that key exists (ebp's rule):
    /// one PutObject below [`MULTIPART_THRESHOLD`], else a multipart upload of [`PART_SIZE`]
    /// parts (aborted when a part fails). Returns whether it uploaded.
    pub(crate) async fn upload(&self, bucket: &str, key: &str, file: &Path) -> Result<bool> {
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
        let size = std::fs::metadata(file)
            .with_context(|| format!("reading {}", file.display()))?
            .len();
        if size < MULTIPART_THRESHOLD {
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
            return Ok(true);
        }
        // CRC32 for every part, declared up front: S3 then wants each part's checksum again
        // when the upload is completed, and checks them.
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| {
                err(
                    format!("starting the multipart upload of s3://{bucket}/{key}"),
                    &e,
                )
            })?;
        let upload_id = created
            .upload_id()
            .context("CreateMultipartUpload returned no upload id")?
            .to_string();
        match self.upload_parts(bucket, key, &upload_id, file).await {
            Ok(parts) => {
                let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build();
                self.s3
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(done)
                    .send()
                    .await
                    .map_err(|e| {
                        err(
                            format!("completing the multipart upload of s3://{bucket}/{key}"),
                            &e,
                        )
                    })?;
                Ok(true)
            }
            Err(e) => {
                // Best effort: the upload failed already; an unaborted one only costs storage.
                let _ = self
                    .s3
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    /// The parts of `file`, [`PARTS_IN_FLIGHT`] at a time; returns them in part order.
    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        file: &Path,
    ) -> Result<Vec<aws_sdk_s3::types::CompletedPart>> {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let mut running = tokio::task::JoinSet::new();
        let mut parts = Vec::new();
        let mut number = 0;
        loop {
            let mut buf = Vec::with_capacity(PART_SIZE);
            (&mut f)
                .take(PART_SIZE as u64)
                .read_to_end(&mut buf)
                .await
                .with_context(|| format!("reading {}", file.display()))?;
            if buf.is_empty() {
                break;
            }
            number += 1;
            let req = self
                .s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
                .body(buf.into());
            let what = format!("uploading part {number} of s3://{bucket}/{key}");
            running.spawn(async move {
                let out = req.send().await.map_err(|e| err(what, &e))?;
                Ok::<_, anyhow::Error>(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .set_checksum_crc32(out.checksum_crc32)
                        .build(),
                )
            });
            if running.len() >= PARTS_IN_FLIGHT {
                parts.push(running.join_next().await.expect("a running part")??);
            }
        }
        while let Some(done) = running.join_next().await {
            parts.push(done??);
        }
        parts.sort_by_key(aws_sdk_s3::types::CompletedPart::part_number);
        if parts.len() != number as usize {
            bail!(
                "uploaded {} of {number} parts of s3://{bucket}/{key}",
                parts.len()
            );
        }
        Ok(parts)
    }

    /// The builder instance profile with its role and the two managed policies; existing
    /// pieces are kept. Returns a warning instead of failing when IAM refuses access.
    pub(crate) async fn ensure_instance_profile(&self, name: &str) -> Result<Option<String>> {
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
    pub(crate) async fn create(
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

    /// Events of a platform version (of one request, after `start`), oldest first; every page.
    pub(crate) async fn events(
        &self,
        arn: &str,
        request_id: Option<&str>,
        start: Option<DateTime>,
    ) -> Result<Vec<EventDescription>> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .eb
                .describe_events()
                .platform_arn(arn)
                .set_request_id(request_id.map(str::to_string))
                .set_start_time(start)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| err(format!("describing events of {arn}"), &e))?;
            events.extend(out.events.unwrap_or_default());
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        // EB answers newest first.
        events.reverse();
        Ok(events)
    }

    /// DeletePlatformVersion; returns the request id its events carry. ebcli also sends
    /// `DeleteResources=true`, a parameter only its private copy of the service model has; the
    /// public API (and so rpack) does not know it.
    pub(crate) async fn delete(&self, arn: &str) -> Result<Option<String>> {
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
    pub(crate) async fn environments_using(&self, arn: &str) -> Result<Vec<String>> {
        let out = self
            .eb
            .describe_environments()
            .include_deleted(false)
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

    pub(crate) async fn create_configuration_template(
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

    pub(crate) async fn update_environment(&self, env: &str, template: &str) -> Result<()> {
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

/// What the template's builder starts from: an AMI id and/or a filter, looked up in `region`
/// (at `endpoint` when the template sets `custom_endpoint_ec2`).
#[derive(Debug, Clone)]
pub(crate) struct SourceLookup {
    pub region: String,
    pub endpoint: Option<String>,
    pub ami: Option<String>,
    pub filters: Vec<(String, String)>,
    pub owners: Vec<String>,
}

impl Api {
    /// The images `lookup` finds (DescribeImages); an unknown AMI id is no image.
    pub(crate) async fn source_images(&self, lookup: &SourceLookup) -> Result<Vec<String>> {
        let ec2 = match (&lookup.endpoint, lookup.region == self.region) {
            (None, true) => self.ec2.clone(),
            (e, _) => crate::aws::sdk_config::ec2_client(&self.sdk, &lookup.region, e.as_deref()),
        };
        let mut req = ec2
            .describe_images()
            .set_image_ids(lookup.ami.clone().map(|a| vec![a]));
        for (k, v) in &lookup.filters {
            req = req.filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(k)
                    .values(v)
                    .build(),
            );
        }
        if !lookup.owners.is_empty() {
            req = req.set_owners(Some(lookup.owners.clone()));
        }
        match req.send().await {
            Ok(out) => Ok(out
                .images()
                .iter()
                .filter_map(|i| i.image_id().map(str::to_string))
                .collect()),
            Err(e) => {
                let e = err(format!("describing images in {}", lookup.region), &e);
                if code(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) {
                    return Ok(Vec::new());
                }
                Err(e)
            }
        }
    }

    /// Key pair names in this region (DescribeKeyPairs).
    pub(crate) async fn key_pairs(&self) -> Result<Vec<String>> {
        let out = self
            .ec2
            .describe_key_pairs()
            .send()
            .await
            .map_err(|e| err(format!("listing key pairs in {}", self.region), &e))?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| k.key_name().map(str::to_string))
            .collect())
    }

    pub(crate) async fn import_key_pair(&self, name: &str, public_openssh: &str) -> Result<()> {
        let material = aws_smithy_types::Blob::new(public_openssh.as_bytes());
        self.ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(material)
            .send()
            .await
            .map_err(|e| err(format!("importing key pair {name} in {}", self.region), &e))?;
        Ok(())
    }
}

impl Api {
    /// Log lines of `group`/`stream` after `token` (GetLogEvents forward from the start); returns
    /// the lines and the token to continue from. A missing group or stream is no lines yet.
    pub(crate) async fn log_lines(
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

pub(crate) fn setting(ns: &str, name: &str, value: &str) -> ConfigurationOptionSetting {
    ConfigurationOptionSetting::builder()
        .namespace(ns)
        .option_name(name)
        .value(value)
        .build()
}
