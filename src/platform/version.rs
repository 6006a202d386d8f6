//! Platform versions as `ebp` handles them: `x.y.z` parsing, the next version from the latest
//! existing one and -M/-m/-p, version labels, and platform ARNs.

use chrono::{DateTime, Utc};

pub(crate) type Version = (u64, u64, u64);

/// `^\d+\.\d+\.\d+$` (ebcli's VALID_PLATFORM_VERSION_FORMAT).
pub(crate) fn parse(s: &str) -> Option<Version> {
    let mut it = s.split('.');
    let mut num = || {
        it.next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
    };
    let v = (num()?, num()?, num()?);
    it.next().is_none().then_some(v)
}

pub(crate) fn show(v: Version) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// Which parts to bump (`-M`, `-m`, `-p`); they stack like ebp's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bump {
    pub major: bool,
    pub minor: bool,
    pub patch: bool,
}

/// The version to create: 1.0.0 when none exists; else major+1 (-M), minor+1 (-m) and patch+1
/// (-p, or when neither -M nor -m was given), applied in that order.
pub(crate) fn next(latest: Option<Version>, bump: Bump) -> Version {
    let Some((mut major, mut minor, mut patch)) = latest else {
        return (1, 0, 0);
    };
    if bump.major {
        major += 1;
        minor = 0;
        patch = 0;
    }
    if bump.minor {
        minor += 1;
        patch = 0;
    }
    if bump.patch || (!bump.major && !bump.minor) {
        patch += 1;
    }
    (major, minor, patch)
}

/// `app-<git describe>-<yymmdd_HHMMSSffffff>` (or without the describe part), dots as `_`.
pub(crate) fn label(describe: Option<&str>, now: DateTime<Utc>) -> String {
    let stamp = now.format("%y%m%d_%H%M%S%6f").to_string();
    let l = match describe {
        Some(d) => format!("app-{d}-{stamp}"),
        None => format!("app-{stamp}"),
    };
    l.replace('.', "_")
}

pub(crate) fn arn(region: &str, account: &str, name: &str, version: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:elasticbeanstalk:{region}:{account}:platform/{name}/{version}")
}

/// (name, version) of a platform ARN.
pub(crate) fn parse_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "elasticbeanstalk" {
        return None;
    }
    let (name, version) = parts[4].strip_prefix("platform/")?.rsplit_once('/')?;
    parse(version)?;
    Some((name.to_string(), version.to_string()))
}

/// A valid platform name (ebcli: `^([^:/]+)$`).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([':', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse("1.2.30"), Some((1, 2, 30)));
        for bad in ["1.2", "1.2.3.4", "v1.2.3", "1..3", "1.2.x", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bumping_follows_ebp() {
        let b = |major, minor, patch| Bump {
            major,
            minor,
            patch,
        };
        let cases = [
            (None, b(true, false, false), (1, 0, 0)),
            (Some((1, 2, 3)), b(false, false, false), (1, 2, 4)),
            (Some((1, 2, 3)), b(false, false, true), (1, 2, 4)),
            (Some((1, 2, 3)), b(false, true, false), (1, 3, 0)),
            (Some((1, 2, 3)), b(true, false, false), (2, 0, 0)),
            (Some((1, 2, 3)), b(true, true, false), (2, 1, 0)),
            (Some((1, 2, 3)), b(true, false, true), (2, 0, 1)),
            (Some((1, 2, 3)), b(false, true, true), (1, 3, 1)),
        ];
        for (latest, bump, want) in cases {
            assert_eq!(next(latest, bump), want, "{latest:?} {bump:?}");
        }
    }

    #[test]
    fn labels_and_arns() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T21:05:09.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            label(Some("v1.2-3-gab12"), t),
            "app-v1_2-3-gab12-261128_210509123456"
        );
        assert_eq!(label(None, t), "app-261128_210509123456");
        let a = arn("us-east-1", "123456789012", "p", "1.0.0");
        assert_eq!(
            a,
            "arn:aws:elasticbeanstalk:us-east-1:123456789012:platform/p/1.0.0"
        );
        assert_eq!(parse_arn(&a), Some(("p".into(), "1.0.0".into())));
        assert_eq!(parse_arn("arn:aws:ec2:us-east-1:1:image/ami-1"), None);
        assert!(valid_name("my-platform_1") && !valid_name("a/b") && !valid_name("a:b"));
    }
}
