//! StepSourceAMIInfo: resolves `source_ami` and/or `source_ami_filter` (owners, most_recent) to
//! one image and keeps its data for `{{ .SourceAMI* }}`. Creates nothing.

use anyhow::bail;
use aws_sdk_ec2::types::Filter;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::{BuildCtx, SourceDevice, SourceImage};
use crate::engine::{Step, StepEnv};

pub struct SourceAmi;

/// The image's EBS devices, the root device first.
fn ebs_devices(img: &aws_sdk_ec2::types::Image) -> Vec<SourceDevice> {
    let mut devices: Vec<SourceDevice> = img
        .block_device_mappings()
        .iter()
        .filter_map(|m| {
            let e = m.ebs()?;
            Some(SourceDevice {
                device_name: m.device_name()?.to_string(),
                snapshot_id: e.snapshot_id().map(str::to_string),
                volume_size: e.volume_size().map(i64::from),
                delete_on_termination: e.delete_on_termination().unwrap_or(false),
                encrypted: e.encrypted().unwrap_or(false),
            })
        })
        .collect();
    if let Some(root) = img.root_device_name() {
        devices.sort_by_key(|d| d.device_name != root);
    }
    devices
}

#[async_trait::async_trait]
impl Step<BuildCtx> for SourceAmi {
    fn name(&self) -> &'static str {
        "StepSourceAMIInfo"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let mut req = ctx.ec2().describe_images();
        if let Some(id) = &cfg.run.source_ami {
            req = req.image_ids(id);
        }
        let mut filter_text = Vec::new();
        if let Some(f) = &cfg.run.source_ami_filter {
            for (k, v) in &f.filters {
                req = req.filters(Filter::builder().name(k).values(v).build());
                filter_text.push(format!("{k}: {v}"));
            }
            for o in &f.owners {
                req = req.owners(o);
            }
            if f.include_deprecated {
                req = req.include_deprecated(true);
            }
        }
        let out = req
            .send()
            .await
            .aws_context(|| format!("describing the source AMI in {}", ctx.region))?;
        let mut images = out.images().to_vec();
        if images.is_empty() {
            if cfg.run.source_ami_filter.is_some() {
                bail!(
                    "No AMI was found matching filters: {{{}}}",
                    filter_text.join(", ")
                );
            }
            bail!(
                "No AMI was found matching filters: source_ami {}",
                cfg.run.source_ami.as_deref().unwrap_or("")
            );
        }
        let most_recent = cfg
            .run
            .source_ami_filter
            .as_ref()
            .is_some_and(|f| f.most_recent);
        if images.len() > 1 && !most_recent {
            bail!("Your query returned more than one result. Please try a more specific search, or set most_recent to true.");
        }
        // RFC 3339 dates sort as strings.
        images.sort_by(|a, b| {
            a.creation_date()
                .unwrap_or("")
                .cmp(b.creation_date().unwrap_or(""))
        });
        let img = images.pop().expect("non-empty");
        let source = SourceImage {
            id: img.image_id().unwrap_or("").to_string(),
            name: img.name().unwrap_or("").to_string(),
            creation_date: img.creation_date().unwrap_or("").to_string(),
            owner: img.owner_id().unwrap_or("").to_string(),
            owner_alias: img.image_owner_alias().unwrap_or("").to_string(),
            tags: img
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or("").to_string(),
                        t.value().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            virtualization_type: img
                .virtualization_type()
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            root_device_name: img.root_device_name().map(str::to_string),
            ena_support: img.ena_support().unwrap_or(false),
            ebs_devices: ebs_devices(&img),
        };
        env.ui.message(&format!("Found Image ID: {}", source.id));
        // Packer's check: `ami_virtualization_type` decides when set, else the source's type.
        if cfg.ami.ena_support == Some(true) || cfg.ami.sriov_support {
            match cfg.ami.ami_virtualization_type.as_deref() {
                Some("hvm") => {}
                Some(t) => bail!("Cannot enable enhanced networking, AMIVirtType '{t}' is not HVM"),
                None if source.virtualization_type != "hvm" => bail!(
                    "Cannot enable enhanced networking, source AMI '{}' is not HVM",
                    source.id
                ),
                None => {}
            }
        }
        ctx.source = Some(source);
        Ok(())
    }
}
