//! The current plugin's `placement` block (`host_id`, `host_resource_group_arn`, `tenancy`) and
//! its checks. `placement.tenancy` replaces the deprecated top-level `tenancy`; the two are
//! merged into [`super::RunConfig::tenancy`], which the launch steps already send.

use super::nonempty;
use crate::decoder::Decoder;

/// Where the build instance is placed, besides the availability zone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// A Dedicated Host to launch on.
    pub host_id: Option<String>,
    /// A host resource group to launch into.
    pub host_resource_group_arn: Option<String>,
}

/// Decodes `placement` and folds its tenancy into `tenancy` (the deprecated top-level key, already
/// decoded and checked by the run config).
pub(super) fn decode(d: &mut Decoder<'_>, tenancy: &mut Option<String>) -> Placement {
    let (p, placement_tenancy) = d
        .object("placement", |d| {
            (
                Placement {
                    host_id: nonempty(d.string("host_id")),
                    host_resource_group_arn: nonempty(d.string("host_resource_group_arn")),
                },
                nonempty(d.string("tenancy")),
            )
        })
        .unwrap_or_default();
    if let Some(t) = placement_tenancy {
        if tenancy.is_some() {
            d.error(
                "placement",
                "Error: Please set only one of placement.tenancy and tenancy (deprecated)",
            );
        } else if !["default", "dedicated", "host"].contains(&t.as_str()) {
            d.error("placement", format!("Error: Unknown tenancy type {t}"));
        }
        *tenancy = Some(t);
    }
    if p.host_id.is_some() && p.host_resource_group_arn.is_some() {
        d.error(
            "placement",
            "The `host_id` and `host_resource_group_arn` settings cannot be specified at the same time.",
        );
    }
    // The plugin looks at placement.tenancy only; the deprecated key counts here too, so that
    // `tenancy: dedicated` with a host is refused before launch rather than by EC2.
    if (p.host_id.is_some() || p.host_resource_group_arn.is_some())
        && tenancy.as_deref().is_some_and(|t| t != "host")
    {
        d.error(
            "placement",
            "The tenancy should be `host` if either the `host_id` or `host_resource_group_arn` attributes are specified.",
        );
    }
    p
}
