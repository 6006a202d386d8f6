//! Which nested blocks of a plugin body repeat (→ a JSON list of objects) and which appear once
//! (→ a JSON object), following the plugins' generated HCL specs (amazon-ebs's
//! builder.hcl2spec.go). A nested block not listed is an "Unsupported block type".

/// How a nested block maps onto the JSON-shaped configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nested {
    Repeated,
    Single,
}

/// amazon-ebs's nested blocks (and those nested inside them).
const AMAZON_EBS: &[(&str, Nested)] = &[
    ("tag", Nested::Repeated),
    ("run_tag", Nested::Repeated),
    ("run_volume_tag", Nested::Repeated),
    ("snapshot_tag", Nested::Repeated),
    ("spot_tag", Nested::Repeated),
    ("fleet_tag", Nested::Repeated),
    ("launch_block_device_mappings", Nested::Repeated),
    ("ami_block_device_mappings", Nested::Repeated),
    ("source_ami_filter", Nested::Single),
    ("vpc_filter", Nested::Single),
    ("subnet_filter", Nested::Single),
    ("security_group_filter", Nested::Single),
    ("metadata_options", Nested::Single),
    ("assume_role", Nested::Single),
    ("polling", Nested::Single),
    ("aws_polling", Nested::Single),
    ("placement", Nested::Single),
    ("license_specifications", Nested::Repeated),
    ("license_configuration_request", Nested::Single),
    ("deregistration_protection", Nested::Single),
    ("fast_launch", Nested::Single),
    ("region_launch_templates", Nested::Repeated),
    ("filter", Nested::Repeated),
];

/// amazon-ebsvolume's own nested blocks; the others it shares with amazon-ebs, except the
/// AMI's (see [`AMI_ONLY`]).
const AMAZON_EBSVOLUME: &[(&str, Nested)] = &[("ebs_volumes", Nested::Repeated)];

/// amazon-ebssurrogate's own nested block; the others it shares with amazon-ebs, except
/// `fast_launch`'s.
const AMAZON_EBSSURROGATE: &[(&str, Nested)] = &[("ami_root_device", Nested::Single)];

/// amazon-ebs blocks about the AMI, which amazon-ebsvolume does not have.
const AMI_ONLY: &[&str] = &[
    "launch_block_device_mappings",
    "ami_block_device_mappings",
    "deregistration_protection",
    "fast_launch",
    "region_launch_templates",
];

/// The nested block `name` in a body of plugin `kind` (`source`, `provisioner` or
/// `post-processor` type names share one namespace here: none of rpack's provisioners or
/// post-processors has nested blocks).
pub(crate) fn nested(kind: &str, name: &str) -> Option<Nested> {
    match kind {
        "amazon-ebs" => AMAZON_EBS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k),
        "amazon-ebsvolume" if AMI_ONLY.contains(&name) => None,
        "amazon-ebsvolume" => AMAZON_EBSVOLUME
            .iter()
            .chain(AMAZON_EBS)
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k),
        "amazon-ebssurrogate" if matches!(name, "fast_launch" | "region_launch_templates") => None,
        "amazon-ebssurrogate" => AMAZON_EBSSURROGATE
            .iter()
            .chain(AMAZON_EBS)
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k),
        // The amazon data sources: the access configuration's blocks.
        "amazon-ami" | "amazon-parameterstore" | "amazon-secretsmanager" => {
            super::data::ACCESS_BLOCKS
                .contains(&name)
                .then_some(Nested::Single)
        }
        _ => None,
    }
}
