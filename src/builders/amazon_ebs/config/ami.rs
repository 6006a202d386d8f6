//! Packer's AMIConfig: what the AMI is called, who may use it, where it is copied, how it is
//! encrypted and tagged, and its checks (names, KMS keys, sharing of encrypted images).

use super::{nonempty, tags};
use crate::decoder::Decoder;

/// The AMI keys (`ami_*`, `tags`, `snapshot_*`, encryption, `deprecate_at`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmiConfig {
    pub ami_name: String,
    pub ami_description: Option<String>,
    pub ami_virtualization_type: Option<String>,
    pub ami_users: Vec<String>,
    pub ami_groups: Vec<String>,
    pub ami_org_arns: Vec<String>,
    pub ami_ou_arns: Vec<String>,
    pub ami_product_codes: Vec<String>,
    /// Deduplicated, without the build region.
    pub ami_regions: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub ena_support: Option<bool>,
    pub sriov_support: bool,
    pub force_deregister: bool,
    pub force_delete_snapshot: bool,
    pub encrypt_boot: Option<bool>,
    pub kms_key_id: Option<String>,
    pub region_kms_key_ids: Vec<(String, String)>,
    pub skip_save_build_region: bool,
    pub snapshot_tags: Vec<(String, String)>,
    pub snapshot_users: Vec<String>,
    pub snapshot_groups: Vec<String>,
    pub imds_support: Option<String>,
    /// RFC 3339 time the AMI is deprecated at.
    pub deprecate_at: Option<String>,
    pub skip_create_ami: bool,
}

impl AmiConfig {
    /// Every region the AMI ends up in: the build region first, then `ami_regions`.
    pub fn all_regions(&self, build_region: &str) -> Vec<String> {
        let mut v = vec![build_region.to_string()];
        v.extend(
            self.ami_regions
                .iter()
                .filter(|r| *r != build_region)
                .cloned(),
        );
        v
    }
    pub fn region_kms_key(&self, region: &str) -> Option<&str> {
        self.region_kms_key_ids
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, k)| k.as_str())
    }
}

/// Decodes and checks the AMI keys; `build_region` is never a copy target.
pub(super) fn decode(d: &mut Decoder<'_>, build_region: Option<&str>) -> AmiConfig {
    // Struct fields are evaluated in the order written: the keys are read in Packer's order,
    // which is the order of their type errors. `ami_regions` holds the raw list until the checks.
    let mut c = AmiConfig {
        ami_name: d.string("ami_name").unwrap_or_default(),
        ami_description: nonempty(d.string("ami_description")),
        ami_virtualization_type: nonempty(d.string("ami_virtualization_type")),
        ami_users: d.string_list("ami_users").unwrap_or_default(),
        ami_groups: d.string_list("ami_groups").unwrap_or_default(),
        ami_org_arns: d.string_list("ami_org_arns").unwrap_or_default(),
        ami_ou_arns: d.string_list("ami_ou_arns").unwrap_or_default(),
        ami_product_codes: d.string_list("ami_product_codes").unwrap_or_default(),
        ami_regions: d.string_list("ami_regions").unwrap_or_default(),
        tags: tags(d, "tags", "tag"),
        ena_support: d.bool("ena_support"),
        sriov_support: d.bool("sriov_support").unwrap_or(false),
        force_deregister: d.bool("force_deregister").unwrap_or(false),
        force_delete_snapshot: d.bool("force_delete_snapshot").unwrap_or(false),
        encrypt_boot: d.bool("encrypt_boot"),
        kms_key_id: nonempty(d.string("kms_key_id")),
        region_kms_key_ids: d.string_map("region_kms_key_ids").unwrap_or_default(),
        skip_save_build_region: d.bool("skip_save_build_region").unwrap_or(false),
        snapshot_tags: tags(d, "snapshot_tags", "snapshot_tag"),
        snapshot_users: d.string_list("snapshot_users").unwrap_or_default(),
        snapshot_groups: d.string_list("snapshot_groups").unwrap_or_default(),
        imds_support: nonempty(d.string("imds_support")),
        deprecate_at: nonempty(d.string("deprecate_at")),
        skip_create_ami: d.bool("skip_create_ami").unwrap_or(false),
    };
    let raw_regions = std::mem::take(&mut c.ami_regions);

    if c.ami_name.is_empty() {
        d.error("ami_name", "ami_name must be specified");
    }
    for (r, _) in &c.region_kms_key_ids {
        if !raw_regions.contains(r) {
            d.error(
                "region_kms_key_ids",
                format!("Region {r} is in region_kms_key_ids but not in ami_regions"),
            );
        }
    }
    let mut seen = Vec::new();
    for r in &raw_regions {
        if seen.contains(r) {
            continue;
        }
        seen.push(r.clone());
        if !c.region_kms_key_ids.is_empty() && c.region_kms_key(r).is_none() {
            d.error(
                "ami_regions",
                format!("Region {r} is in ami_regions but not in region_kms_key_ids"),
            );
        }
        if build_region == Some(r.as_str()) {
            continue; // never copy into the build region
        }
        c.ami_regions.push(r.clone());
    }
    let encrypt = c.encrypt_boot == Some(true);
    if !c.ami_users.is_empty() {
        if c.kms_key_id.is_none() && encrypt {
            d.error(
                "ami_users",
                "Cannot share AMI encrypted with default KMS key",
            );
        }
        for (_, k) in &c.region_kms_key_ids {
            if k.is_empty() {
                d.error(
                    "ami_users",
                    "Cannot share AMI encrypted with default KMS key for other regions",
                );
            }
        }
    }
    let mut kms_keys: Vec<String> = c.kms_key_id.iter().cloned().collect();
    kms_keys.extend(
        c.region_kms_key_ids
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(_, k)| k.clone()),
    );
    if !kms_keys.is_empty() && !encrypt {
        d.error("encrypt_boot", "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.");
    }
    for k in &kms_keys {
        if !valid_kms_key(k) {
            d.error("kms_key_id", format!("{k:?} is not a valid KMS Key Id."));
        }
    }
    if !c.snapshot_users.is_empty() {
        if c.kms_key_id.is_none() && c.region_kms_key_ids.is_empty() && encrypt {
            d.error(
                "snapshot_users",
                "Cannot share snapshot encrypted with default KMS key",
            );
        }
        for (_, k) in &c.region_kms_key_ids {
            if k.is_empty() {
                d.error(
                    "snapshot_users",
                    "Cannot share snapshot encrypted with default KMS key for other regions",
                );
            }
        }
    }
    {
        let n = c.ami_name.chars().count();
        if !(3..=128).contains(&n) {
            d.error(
                "ami_name",
                "ami_name must be between 3 and 128 characters long",
            );
        }
        if !c.ami_name.chars().all(valid_ami_name_char) {
            d.error(
                "ami_name",
                "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
            );
        }
    }
    if let Some(v) = &c.imds_support {
        if v != "v2.0" {
            d.error(
                "imds_support",
                format!("imds_support must be set to 'v2.0' or left empty, got {v:?}"),
            );
        }
    }
    if let Some(t) = &c.deprecate_at {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            d.error(
                "deprecate_at",
                format!("deprecate_at: {t:?} is not an RFC 3339 time (e.g. 2030-01-02T15:04:05Z)"),
            );
        }
    }
    c
}

/// Packer's `templateCleanAMIName` alphabet.
fn valid_ami_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "()[] ./-'@_".contains(ch)
}

/// Packer's `validateKmsKey`: a key id, `alias/…`, or a key/alias ARN.
pub fn valid_kms_key(k: &str) -> bool {
    let key_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
    };
    let alias = |s: &str| {
        s.strip_prefix("alias/").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
        })
    };
    if key_id(k) || alias(k) {
        return true;
    }
    // arn:aws[-us-gov]:kms:[region]:<12 digits>:(key/<id>|alias/<name>)
    let Some(rest) = k
        .strip_prefix("arn:aws:kms:")
        .or_else(|| k.strip_prefix("arn:aws-us-gov:kms:"))
    else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(_region), Some(account), Some(res)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    res.strip_prefix("key/").is_some_and(key_id) || alias(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_key_forms() {
        assert!(valid_kms_key("12345678-1234-1234-1234-123456789abc"));
        assert!(valid_kms_key("alias/my-key"));
        assert!(valid_kms_key(
            "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789abc"
        ));
        assert!(valid_kms_key(
            "arn:aws:kms:us-east-1:123456789012:alias/foo_bar"
        ));
        assert!(!valid_kms_key("not a key"));
        assert!(!valid_kms_key("arn:aws:kms:us-east-1:1234:key/abc"));
    }

    #[test]
    fn ami_name_alphabet() {
        assert!("web-1 (x) [y] a.b/c'd@e_f".chars().all(valid_ami_name_char));
        assert!(!"web*1".chars().all(valid_ami_name_char));
    }
}
