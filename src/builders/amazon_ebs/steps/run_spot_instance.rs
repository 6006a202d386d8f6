//! StepRunSpotInstance (with `spot_price`): Packer's way — a launch template
//! `packer-fleet-launch-template-<7>` describing the instance (spot market options, key,
//! groups, user data, block devices, IMDSv2 required by default, tags on instance, volumes and
//! spot request), then CreateFleet of type `instant` for one spot instance with one override
//! per `spot_instance_types` entry (or just `instance_type`), so EC2 launches whichever of the
//! types has capacity. Both ids go into the ledger the moment their create call returns.
//! A fleet that launched nothing is deleted at once; CreateFleet is retried (Packer's
//! StepRunSpotInstance retries the same errors) while EC2 does not know the instance profile
//! this build just created (as RunInstances is) and while no pool has capacity.
//! With `encrypt_boot` on the launch path, a fleet instance EC2 stops over the volumes' key is
//! removed with its template and the launch is made again unencrypted (the copy path), as the
//! on-demand step does.
//! Owns the launch template and the instance: cleanup terminates the instance, waits, and then
//! deletes the template. The instant fleet of the instance holds nothing once its instance is
//! gone and is not deleted (as in Packer).

use anyhow::{bail, Context as _};
use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest, FleetType,
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMarketOptionsRequest, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateInstanceMetadataTagsState,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, LaunchTemplatePlacementRequest,
    LaunchTemplateSpotMarketOptionsRequest, LaunchTemplateTagSpecificationRequest, MarketType,
    RequestLaunchTemplateData, ResourceType, SpotInstanceType, TargetCapacitySpecificationRequest,
    Tenancy, VolumeType,
};
use rand::distributions::Alphanumeric;
use rand::Rng;

use aws_sdk_ec2::operation::create_fleet::CreateFleetOutput;
use aws_sdk_ec2::types::CreateFleetError;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::wait;
use crate::builders::amazon_ebs::config::{timeouts, BlockDevice, RunConfig};
use crate::builders::amazon_ebs::context::{ec2_tags, BuildCtx};
use crate::builders::amazon_ebs::steps::encrypt_boot;
use crate::builders::amazon_ebs::steps::run_instance::{
    launch_user_data, new_profile_window, record_and_wait_running, terminate, PROFILE_NOT_YET,
};
use crate::engine::{Outcome, Step, StepEnv};

pub struct RunSpotInstance;

/// A template block device in launch-template form.
fn lt_mapping(b: &BlockDevice) -> LaunchTemplateBlockDeviceMappingRequest {
    let m = LaunchTemplateBlockDeviceMappingRequest::builder().device_name(&b.device_name);
    if b.no_device {
        return m.no_device("").build();
    }
    if let Some(v) = b
        .virtual_name
        .as_deref()
        .filter(|v| v.starts_with("ephemeral"))
    {
        return m.virtual_name(v).build();
    }
    let e = LaunchTemplateEbsBlockDeviceRequest::builder()
        .delete_on_termination(b.delete_on_termination)
        .set_volume_type(b.volume_type.as_deref().map(VolumeType::from))
        .set_volume_size(b.volume_size.map(|s| s as i32))
        .set_iops(b.iops.map(|i| i as i32))
        .set_throughput(b.throughput.map(|t| t as i32))
        .set_snapshot_id(b.snapshot_id.clone())
        .set_encrypted(b.encrypted)
        .set_kms_key_id(b.kms_key_id.clone());
    m.ebs(e.build()).build()
}

fn lt_tags(rt: ResourceType, tags: &[(String, String)]) -> LaunchTemplateTagSpecificationRequest {
    LaunchTemplateTagSpecificationRequest::builder()
        .resource_type(rt)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// The instance types the fleet may choose from, in the template's order.
pub fn instance_types(run: &RunConfig) -> Vec<String> {
    if run.spot_instance_types.is_empty() {
        run.instance_type.iter().cloned().collect()
    } else {
        run.spot_instance_types.clone()
    }
}

impl RunSpotInstance {
    fn template_data(
        ctx: &BuildCtx,
        user_data: Option<String>,
        devices: &[BlockDevice],
    ) -> anyhow::Result<RequestLaunchTemplateData> {
        let cfg = &ctx.cfg;
        let source = ctx.source.as_ref().context("no source AMI resolved")?;
        let md = &cfg.run.metadata_options;
        let metadata = LaunchTemplateInstanceMetadataOptionsRequest::builder()
            // IMDSv2 only, unless the template says otherwise.
            .http_tokens(LaunchTemplateHttpTokensState::from(
                md.http_tokens.as_deref().unwrap_or("required"),
            ))
            .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                md.http_endpoint.as_deref().unwrap_or("enabled"),
            ))
            .set_http_put_response_hop_limit(md.http_put_response_hop_limit.map(|h| h as i32))
            .set_instance_metadata_tags(
                md.instance_metadata_tags
                    .as_deref()
                    .map(LaunchTemplateInstanceMetadataTagsState::from),
            )
            .build();
        let mut spot = LaunchTemplateSpotMarketOptionsRequest::builder()
            .spot_instance_type(SpotInstanceType::OneTime);
        // "auto": no maximum, i.e. capped at the on-demand price.
        if let Some(p) = cfg.run.spot_price.as_deref().filter(|p| *p != "auto") {
            spot = spot.max_price(p);
        }
        if cfg.run.block_duration_minutes > 0 {
            spot = spot.block_duration_minutes(cfg.run.block_duration_minutes as i32);
        }
        let run_tags = ctx.render_tags("run_tags", &cfg.run.run_tags, Some("Packer Builder"))?;
        let volume_tags =
            ctx.render_tags("run_volume_tags", &cfg.block_devices.run_volume_tags, None)?;
        let spot_tags = ctx.render_tags("spot_tags", &cfg.run.spot_tags, None)?;
        let mut data = RequestLaunchTemplateData::builder()
            .image_id(&source.id)
            .metadata_options(metadata)
            .instance_market_options(
                LaunchTemplateInstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(spot.build())
                    .build(),
            )
            .tag_specifications(lt_tags(ResourceType::Instance, &run_tags))
            .tag_specifications(lt_tags(ResourceType::NetworkInterface, &run_tags))
            .tag_specifications(lt_tags(ResourceType::Volume, &volume_tags))
            .tag_specifications(lt_tags(ResourceType::SpotInstancesRequest, &spot_tags))
            .set_user_data(user_data)
            .set_key_name(ctx.key_pair.as_ref().map(|k| k.name.clone()));
        if cfg.run.ebs_optimized {
            data = data.ebs_optimized(true);
        }
        for b in devices {
            data = data.block_device_mappings(lt_mapping(b));
        }
        for dev in super::run_instance::suppressed_ephemeral_devices(&cfg.block_devices) {
            data = data.block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(dev)
                    .no_device("")
                    .build(),
            );
        }
        if ctx.availability_zone.is_some() || cfg.run.tenancy.is_some() {
            data = data.placement(
                LaunchTemplatePlacementRequest::builder()
                    .set_availability_zone(ctx.availability_zone.clone())
                    .set_tenancy(cfg.run.tenancy.as_deref().map(Tenancy::from))
                    .build(),
            );
        }
        if let Some(p) = &ctx.instance_profile {
            data = data.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(p)
                    .build(),
            );
        }
        if let Some(public) = cfg.run.associate_public_ip_address {
            // The subnet comes with the fleet's overrides.
            data = data.network_interfaces(
                LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .device_index(0)
                    .associate_public_ip_address(public)
                    .delete_on_termination(true)
                    .set_groups(Some(ctx.security_group_ids.clone()))
                    .build(),
            );
        } else {
            data = data.set_security_group_ids(Some(ctx.security_group_ids.clone()));
        }
        Ok(data.build())
    }
}

/// The fleet error code for "no spot capacity in any of the pools".
const INSUFFICIENT_CAPACITY: &str = "InsufficientInstanceCapacity";

/// Why a CreateFleet attempt gave no instance.
#[derive(Debug)]
enum FleetError {
    /// The call itself failed.
    Api(AwsError),
    /// The fleet launched nothing; `code` is what decides a retry (see [`retry_code`]). The
    /// fleet has been deleted (or `why` says it could not be).
    Nothing {
        fleet: String,
        code: Option<String>,
        why: String,
    },
}

impl From<AwsError> for FleetError {
    fn from(e: AwsError) -> Self {
        FleetError::Api(e)
    }
}

impl wait::Coded for FleetError {
    fn error_code(&self) -> Option<&str> {
        match self {
            FleetError::Api(e) => e.code(),
            FleetError::Nothing { code, .. } => code.as_deref(),
        }
    }
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::Api(e) => write!(f, "{e}"),
            FleetError::Nothing { fleet, why, .. } => write!(
                f,
                "Error waiting for fleet request ({fleet}) to become ready: {why}"
            ),
        }
    }
}

/// The code a fleet's per-instance errors are retried by: no capacity, else the new instance
/// profile not known yet (Packer matches the message "Invalid IAM Instance Profile name"; EC2's
/// code for it is `InvalidParameterValue`), else the first error's own code.
fn retry_code(errors: &[CreateFleetError]) -> Option<String> {
    if errors
        .iter()
        .any(|e| e.error_code() == Some(INSUFFICIENT_CAPACITY))
    {
        return Some(INSUFFICIENT_CAPACITY.to_string());
    }
    if errors.iter().any(|e| {
        e.error_code() == Some(PROFILE_NOT_YET)
            || e.error_message()
                .is_some_and(|m| m.contains("Invalid IAM Instance Profile"))
    }) {
        return Some(PROFILE_NOT_YET.to_string());
    }
    errors
        .first()
        .and_then(CreateFleetError::error_code)
        .map(str::to_string)
}

/// The instance (and its type) a CreateFleet answer launched. When it launched none, its
/// fleet is deleted (EC2 keeps an instant fleet's record and errors) and its errors returned.
async fn launched_or_delete(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    out: &CreateFleetOutput,
    ui: &dyn crate::ui::Ui,
) -> Result<(String, Option<String>), FleetError> {
    let launched = out.instances().iter().find_map(|i| {
        let id = i.instance_ids().first()?;
        Some((
            id.clone(),
            i.instance_type().map(|t| t.as_str().to_string()),
        ))
    });
    if let Some(l) = launched {
        return Ok(l);
    }
    let why: Vec<String> = out
        .errors()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.error_code().unwrap_or("error"),
                e.error_message().unwrap_or("")
            )
        })
        .collect();
    let mut why = if why.is_empty() {
        "no instance was launched".to_string()
    } else {
        why.join("; ")
    };
    let fleet = out.fleet_id().unwrap_or("?").to_string();
    if let Some(id) = out.fleet_id() {
        match delete::delete_fleet(ec2, region, id).await {
            Ok(()) => ui.message(&format!(
                "Spot request launched nothing ({why}); deleted fleet {id}"
            )),
            Err(e) => why.push_str(&format!(" (and the fleet was not deleted: {e})")),
        }
    }
    Err(FleetError::Nothing {
        fleet,
        code: retry_code(out.errors()),
        why,
    })
}

#[async_trait::async_trait]
impl Step<BuildCtx> for RunSpotInstance {
    fn name(&self) -> &'static str {
        "StepRunSpotInstance"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let user_data = launch_user_data(ctx, env.ui.as_ref())?;
        // encrypt_boot: the launch template's volumes are encrypted the same way.
        let devices = encrypt_boot::prepare(ctx, env.ui.as_ref())?;
        let first = launch(ctx, env, user_data.clone(), &devices, "").await;
        let Err(error) = first else { return Ok(()) };
        if !encrypt_boot::falls_back(ctx, &env.cancel, &error) {
            return Err(error);
        }
        // The fleet's instance was stopped at launch over the volumes' key (or the fleet could
        // not launch it): remove the instance and the encrypted launch template, then launch as
        // Packer does and encrypt with the copy.
        self.cleanup(ctx, env, Outcome::Failed).await?;
        ctx.instance = None;
        let devices = encrypt_boot::fall_back(ctx, env.ui.as_ref(), &error);
        launch(ctx, env, user_data, &devices, "-copy").await
    }

    fn cleanup_timeout(&self) -> std::time::Duration {
        timeouts::INSTANCE_TERMINATED + timeouts::TERMINATE_CALLS
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        terminate(ctx, env).await?;
        let Some(lt) = ctx.launch_template.clone() else {
            return Ok(());
        };
        env.ui.say("Deleting the spot launch template...");
        delete::delete_launch_template(&ctx.ec2(), &ctx.region, &lt).await?;
        env.ledger
            .deleted(ResourceKind::LaunchTemplate, &lt, &ctx.region);
        ctx.launch_template = None;
        Ok(())
    }
}

/// One spot launch: the launch template with `devices`, the instant fleet (retried as Packer
/// does), the wait until the instance runs. `attempt` keeps the client tokens of a second
/// launch (encrypt_boot's fallback) apart from the first's.
async fn launch(
    ctx: &mut BuildCtx,
    env: &StepEnv,
    user_data: Option<String>,
    devices: &[BlockDevice],
    attempt: &str,
) -> anyhow::Result<()> {
    let types = instance_types(&ctx.cfg.run);
    if types.is_empty() {
        bail!("no instance type to request a spot instance for");
    }
    let data = RunSpotInstance::template_data(ctx, user_data, devices)?;
    let region = ctx.region.clone();
    let ec2 = ctx.ec2();

    env.ui.say("Launching a spot AWS instance...");
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(7)
        .map(char::from)
        .collect();
    let name = format!("packer-fleet-launch-template-{}", suffix.to_lowercase());
    let out = ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(data)
        // Idempotent against SDK retries after a lost answer.
        .client_token(format!("rpack-lt-{}{attempt}", ctx.build_id))
        .tag_specifications(BuildCtx::tag_spec(
            ResourceType::LaunchTemplate,
            &ctx.id_tags(&name),
        ))
        .send()
        .await
        .aws_context(|| format!("creating launch template {name} in {region}"))?;
    let lt_id = out
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .context("CreateLaunchTemplate returned no id")?
        .to_string();
    env.ledger
        .created(ResourceKind::LaunchTemplate, &lt_id, &region);
    ctx.launch_template = Some(lt_id.clone());

    let overrides: Vec<FleetLaunchTemplateOverridesRequest> = types
        .iter()
        .map(|t| {
            FleetLaunchTemplateOverridesRequest::builder()
                .instance_type(InstanceType::from(t.as_str()))
                .set_subnet_id(ctx.subnet_id.clone())
                .build()
        })
        .collect();
    let fleet = ec2
        .create_fleet()
        .r#type(FleetType::Instant)
        .replace_unhealthy_instances(false)
        .launch_template_configs(
            FleetLaunchTemplateConfigRequest::builder()
                .launch_template_specification(
                    FleetLaunchTemplateSpecificationRequest::builder()
                        .launch_template_id(&lt_id)
                        .version("1")
                        .build(),
                )
                .set_overrides(Some(overrides))
                .build(),
        )
        .target_capacity_specification(
            TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(1)
                .default_target_capacity_type(DefaultTargetCapacityType::Spot)
                .build(),
        );
    let fleet = super::launch_options::create_fleet(ctx, fleet)?;
    // EC2 answers a fleet whose instance profile it does not know yet (this build just
    // created it) with a fleet that launched nothing and a per-instance error; such
    // attempts are retried like RunInstances, and while no pool has capacity as Packer
    // does. Each attempt has its own client token (a repeated token would return the
    // failed fleet again) and a failed attempt's fleet is deleted at once.
    let windows = [
        (PROFILE_NOT_YET, new_profile_window(ctx)),
        (INSUFFICIENT_CAPACITY, timeouts::SPOT_CAPACITY_RETRY),
    ];
    let mut tries = 0u32;
    let (build_id, ui) = (ctx.build_id.clone(), env.ui.clone());
    let launched = wait::retry_codes_within(&windows, || {
        tries += 1;
        let req = fleet
            .clone()
            .client_token(format!("rpack-fleet-{build_id}{attempt}-{tries}"));
        let (ec2, region, lt_id, types, ui) = (&ec2, &region, &lt_id, &types, ui.clone());
        async move {
            let out = req.send().await.aws_context(|| {
                format!(
                    "requesting a spot instance ({}) with launch template {lt_id} in {region}",
                    types.join(", ")
                )
            })?;
            launched_or_delete(ec2, region, &out, ui.as_ref()).await
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (id, itype) = launched;
    if let Some(t) = itype {
        env.ui.message(&format!("Spot instance type: {t}"));
    }
    record_and_wait_running(ctx, env, &id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> CreateFleetError {
        CreateFleetError::builder()
            .error_code(code)
            .error_message(message)
            .build()
    }

    #[test]
    fn fleet_errors_are_retried_by_capacity_then_profile_then_their_own_code() {
        let profile = err(
            "InvalidParameterValue",
            "Value (packer-x) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        );
        let capacity = err(INSUFFICIENT_CAPACITY, "There is no Spot capacity");
        let other = err("InvalidFleetConfiguration", "not supported in this zone");
        assert_eq!(
            retry_code(&[other.clone(), profile.clone(), capacity]).as_deref(),
            Some(INSUFFICIENT_CAPACITY)
        );
        assert_eq!(
            retry_code(&[other.clone(), profile]).as_deref(),
            Some(PROFILE_NOT_YET)
        );
        // Packer's test is the message: another code with it is still the profile.
        let by_message = err("Unknown", "... Invalid IAM Instance Profile name");
        assert_eq!(retry_code(&[by_message]).as_deref(), Some(PROFILE_NOT_YET));
        assert_eq!(
            retry_code(std::slice::from_ref(&other)).as_deref(),
            Some("InvalidFleetConfiguration")
        );
        assert_eq!(retry_code(&[]), None);
    }
}
