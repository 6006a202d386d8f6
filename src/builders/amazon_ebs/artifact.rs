//! The amazon-ebs artifact: AMIs per region, printed and identified as Packer does
//! (`us-east-1:ami-1,us-west-2:ami-2`, `AMIs were created:\n<region>: <ami>\n`); destroying it
//! deregisters every AMI and deletes its snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aws::access::Clients;

pub struct Artifact {
    /// region → AMI id (sorted by region).
    pub amis: BTreeMap<String, String>,
    /// region → snapshot ids.
    pub snapshots: BTreeMap<String, Vec<String>>,
    pub aws: Option<Arc<Clients>>,
    /// `deregistration_protection` is on for every AMI: `destroy` turns it off first.
    pub protected: bool,
    /// Packer's builder id: amazon-ebs's, or amazon-ebssurrogate's for the AMIs it registers.
    pub builder_id: &'static str,
}

impl Artifact {
    pub fn builder_id(&self) -> &'static str {
        self.builder_id
    }

    /// `region:ami` pairs sorted and joined with commas.
    pub fn id(&self) -> String {
        self.amis
            .iter()
            .map(|(r, a)| format!("{r}:{a}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn string(&self) -> String {
        let mut s = String::from("AMIs were created:\n");
        for (r, a) in &self.amis {
            s.push_str(&format!("{r}: {a}\n"));
        }
        s
    }

    /// `State("atlas.artifact.metadata")`: `region.<r>` → AMI.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.amis
            .iter()
            .map(|(r, a)| (format!("region.{r}"), a.clone()))
            .collect()
    }

    /// Deregisters every AMI and deletes its snapshots, in every region (turning deregistration
    /// protection off first where the build turned it on).
    pub async fn destroy(&self) -> anyhow::Result<()> {
        let aws = self
            .aws
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("artifact has no AWS clients"))?;
        let mut errors = Vec::new();
        for (region, ami) in &self.amis {
            let snapshots = self.snapshots.get(region).cloned().unwrap_or_default();
            let ec2 = aws.ec2(region);
            if let Err(e) = crate::aws::delete::delete_image(
                &ec2,
                region,
                ami,
                &snapshots,
                self.protected,
                |_, _| {},
            )
            .await
            {
                errors.push(e.to_string());
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("Error destroying AMIs: {}", errors.join("; "));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_string_are_sorted_like_packer() {
        let a = Artifact {
            amis: [
                ("us-west-2", "ami-2"),
                ("eu-west-1", "ami-3"),
                ("us-east-1", "ami-1"),
            ]
            .into_iter()
            .map(|(r, a)| (r.to_string(), a.to_string()))
            .collect(),
            snapshots: BTreeMap::new(),
            aws: None,
            protected: false,
            builder_id: super::super::BUILDER_ID,
        };
        assert_eq!(a.id(), "eu-west-1:ami-3,us-east-1:ami-1,us-west-2:ami-2");
        assert_eq!(
            a.string(),
            "AMIs were created:\neu-west-1: ami-3\nus-east-1: ami-1\nus-west-2: ami-2\n"
        );
        assert_eq!(a.builder_id(), "mitchellh.amazonebs");
    }
}
