//! `enable_unlimited_credits` (newer than Packer 1.6.6's `enable_t2_unlimited`, which keeps its
//! 1.6.6 checks): allowed for every burstable family, refused only for spot instances of the
//! T2 family, as the current Amazon plugin does.

use crate::decoder::Decoder;

/// The burstable (CPU credit) instance families.
const FAMILIES: &[&str] = &["t2", "t3", "t3a", "t4g"];

/// Whether `instance_type` (`t3a.micro`) is of a burstable family.
pub(crate) fn is_burstable(instance_type: &str) -> bool {
    instance_type
        .split_once('.')
        .is_some_and(|(family, size)| FAMILIES.contains(&family) && !size.is_empty())
}

pub(crate) fn check_unlimited_credits(d: &mut Decoder, instance_type: Option<&str>, spot: bool) {
    let it = instance_type.unwrap_or_default();
    if !is_burstable(it) {
        d.error(
            "enable_unlimited_credits",
            format!("Error: Instance Type: {it} is not within the supported types for Unlimited credits. Supported instance types are T2, T3, T3a and T4g"),
        );
    }
    if spot && it.starts_with("t2.") {
        d.error(
            "enable_unlimited_credits",
            "Error: Unlimited credits cannot be used in conjuction with Spot Instances on the T2 family",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_burstable_family_is_recognised() {
        for t in ["t2.micro", "t3.large", "t3a.nano", "t4g.small"] {
            assert!(is_burstable(t), "{t}");
        }
        for t in ["m5.large", "t2", "t3x.micro", "", "c6g.medium"] {
            assert!(!is_burstable(t), "{t}");
        }
    }
}
