//! The amazon-ebsvolume artifact: the kept volumes (and the snapshots made of them) per region,
//! identified as Packer does (`us-east-1:vol-1,us-east-1:vol-2`, sorted, snapshots among them
//! as in the current plugin) and printed as `EBS Volumes were created:` with one pair a line.
//! Destroying it deletes the volumes and the snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aws::access::Clients;

pub struct Artifact {
    /// region → volume ids.
    pub volumes: BTreeMap<String, Vec<String>>,
    /// region → snapshot ids (`snapshot_volume`).
    pub snapshots: BTreeMap<String, Vec<String>>,
    pub aws: Option<Arc<Clients>>,
}

impl Artifact {
    pub fn builder_id(&self) -> &'static str {
        super::BUILDER_ID
    }

    fn id_list(&self) -> Vec<String> {
        let mut parts: Vec<String> = self
            .volumes
            .iter()
            .chain(&self.snapshots)
            .flat_map(|(r, ids)| ids.iter().map(move |id| format!("{r}:{id}")))
            .collect();
        parts.sort();
        parts
    }

    pub fn id(&self) -> String {
        self.id_list().join(",")
    }

    pub fn string(&self) -> String {
        format!("EBS Volumes were created:\n\n{}", self.id_list().join("\n"))
    }

    /// Deletes every volume and snapshot; all are tried, the errors are reported together.
    pub async fn destroy(&self) -> anyhow::Result<()> {
        let aws = self
            .aws
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("artifact has no AWS clients"))?;
        let mut errors = Vec::new();
        for (region, ids) in &self.volumes {
            let ec2 = aws.ec2(region);
            for id in ids {
                if let Err(e) = crate::aws::delete::delete_volume(&ec2, region, id).await {
                    errors.push(e.to_string());
                }
            }
        }
        for (region, ids) in &self.snapshots {
            let ec2 = aws.ec2(region);
            for id in ids {
                if let Err(e) = crate::aws::delete::delete_snapshot(&ec2, region, id).await {
                    errors.push(e.to_string());
                }
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("Error destroying EBS volumes: {}", errors.join("; "));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_string_are_sorted_region_id_pairs() {
        let map = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            pairs
                .iter()
                .map(|(r, ids)| (r.to_string(), ids.iter().map(ToString::to_string).collect()))
                .collect()
        };
        let a = Artifact {
            volumes: map(&[("us-east-1", &["vol-2", "vol-1"])]),
            snapshots: map(&[("us-east-1", &["snap-1"])]),
            aws: None,
        };
        assert_eq!(a.id(), "us-east-1:snap-1,us-east-1:vol-1,us-east-1:vol-2");
        assert_eq!(
            a.string(),
            "EBS Volumes were created:\n\nus-east-1:snap-1\nus-east-1:vol-1\nus-east-1:vol-2"
        );
        assert_eq!(a.builder_id(), "mitchellh.amazon.ebsvolume");
    }
}
