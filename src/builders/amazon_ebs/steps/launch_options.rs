//! The current plugin's launch keys on the launch requests: placement on a host or host
//! resource group, capacity reservations, Nitro Enclaves and license configurations on
//! RunInstances; the allocation strategy and `fleet_tags` on a spot build's CreateFleet.

use aws_sdk_ec2::operation::create_fleet::builders::CreateFleetFluentBuilder;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::{
    CapacityReservationPreference, CapacityReservationSpecification, CapacityReservationTarget,
    EnclaveOptionsRequest, LicenseConfigurationRequest, Placement, ResourceType,
    SpotAllocationStrategy, SpotOptionsRequest, Tenancy,
};

use crate::builders::amazon_ebs::context::BuildCtx;

/// The instance's placement (zone, tenancy, host), if any part of it is set.
pub(crate) fn placement(ctx: &BuildCtx) -> Option<Placement> {
    let cfg = &ctx.cfg;
    let p = &cfg.launch.placement;
    if ctx.availability_zone.is_none()
        && cfg.run.tenancy.is_none()
        && p.host_id.is_none()
        && p.host_resource_group_arn.is_none()
    {
        return None;
    }
    Some(
        Placement::builder()
            .set_availability_zone(ctx.availability_zone.clone())
            .set_tenancy(cfg.run.tenancy.as_deref().map(Tenancy::from))
            .set_host_id(p.host_id.clone())
            .set_host_resource_group_arn(p.host_resource_group_arn.clone())
            .build(),
    )
}

/// Adds placement, capacity reservation, enclave and license options to RunInstances.
pub(crate) fn run_instances(
    ctx: &BuildCtx,
    mut req: RunInstancesFluentBuilder,
) -> RunInstancesFluentBuilder {
    let l = &ctx.cfg.launch;
    req = req.set_placement(placement(ctx));
    let target = (l.capacity_reservation_id.is_some()
        || l.capacity_reservation_group_arn.is_some())
    .then(|| {
        CapacityReservationTarget::builder()
            .set_capacity_reservation_id(l.capacity_reservation_id.clone())
            .set_capacity_reservation_resource_group_arn(l.capacity_reservation_group_arn.clone())
            .build()
    });
    req = req.capacity_reservation_specification(
        CapacityReservationSpecification::builder()
            .set_capacity_reservation_preference(
                l.capacity_reservation_preference
                    .as_deref()
                    .map(CapacityReservationPreference::from),
            )
            .set_capacity_reservation_target(target)
            .build(),
    );
    if l.enable_nitro_enclave {
        req = req.enclave_options(EnclaveOptionsRequest::builder().enabled(true).build());
    }
    for arn in &l.license_configuration_arns {
        req = req.license_specifications(
            LicenseConfigurationRequest::builder()
                .license_configuration_arn(arn)
                .build(),
        );
    }
    req
}

/// Adds the allocation strategy and the fleet's tags (`fleet_tags` plus the build id) to
/// CreateFleet.
pub(crate) fn create_fleet(
    ctx: &BuildCtx,
    mut req: CreateFleetFluentBuilder,
) -> anyhow::Result<CreateFleetFluentBuilder> {
    let cfg = &ctx.cfg;
    if let Some(s) = &cfg.launch.spot_allocation_strategy {
        req = req.spot_options(
            SpotOptionsRequest::builder()
                .allocation_strategy(SpotAllocationStrategy::from(s.as_str()))
                .build(),
        );
    }
    let tags = ctx.render_tags("fleet_tags", &cfg.launch.fleet_tags, None)?;
    Ok(req.tag_specifications(BuildCtx::tag_spec(ResourceType::Fleet, &tags)))
}
