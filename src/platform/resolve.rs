//! Which platform version a command means: ebp's version arguments (`x.y.z`, `NAME/x.y.z`, an
//! ARN), ebcli's lookups (`version_to_arn`, `describe_custom_platform_version`,
//! `get_latest_platform_version`) and the workspace's saved version.

use anyhow::{bail, Result};
use aws_sdk_elasticbeanstalk::types::PlatformDescription;

use super::api::Api;
use super::version;
use super::workspace::Workspace;

pub(crate) const NO_SUCH_VERSION: &str = "No such version exists for the current platform.";

/// A version as ebp's commands take it: `x.y.z` (of `name`), `name/x.y.z` or an ARN.
pub(crate) fn parse_version_arg(name: &str, arg: &str) -> Result<(String, String)> {
    if let Some(p) = version::parse_arn(arg) {
        return Ok(p);
    }
    let (n, v) = arg.rsplit_once('/').unwrap_or((name, arg));
    if version::valid_name(n) && version::parse(v).is_some() {
        return Ok((n.to_string(), v.to_string()));
    }
    bail!("{arg:?} is not a platform version: pass x.y.z, NAME/x.y.z or a platform ARN")
}

/// The ARN of a version argument, as ebcli's `version_to_arn`: an ARN as is; otherwise
/// ListPlatformVersions (owner self, name, version) and DescribePlatformVersion of what it
/// finds, whose answer comes back too.
pub(crate) async fn version_arn(
    api: &Api,
    name: &str,
    arg: &str,
) -> Result<(String, Option<PlatformDescription>)> {
    if version::parse_arn(arg).is_some() {
        return Ok((arg.to_string(), None));
    }
    let (n, v) = parse_version_arg(name, arg)?;
    lookup(api, &n, &v).await
}

/// `version` of `name` (`latest` for the newest): ListPlatformVersions, then
/// DescribePlatformVersion of the first answer (ebcli's `describe_custom_platform_version`).
pub(crate) async fn lookup(
    api: &Api,
    name: &str,
    version: &str,
) -> Result<(String, Option<PlatformDescription>)> {
    let found = api.list(Some(name), Some(version), None).await?;
    let Some(arn) = found.first().and_then(|p| p.platform_arn()) else {
        bail!("{NO_SUCH_VERSION} ({name}/{version} in {})", api.region);
    };
    let d = api.describe(arn).await?;
    Ok((arn.to_string(), Some(d)))
}

/// The newest version of `name` that is neither Failed nor Deleting (ebcli's
/// `get_latest_platform_version` with its default ignored states).
pub(crate) async fn latest_usable(api: &Api, name: &str) -> Result<Option<String>> {
    let latest = api.list(Some(name), Some("latest"), None).await?;
    Ok(latest
        .iter()
        .find(|p| {
            !matches!(
                p.platform_status()
                    .map(aws_sdk_elasticbeanstalk::types::PlatformStatus::as_str),
                Some("Failed" | "Deleting")
            )
        })
        .and_then(|p| p.platform_version())
        .map(str::to_string))
}

/// The version a command works on: its `version` argument, else the workspace's, else the
/// newest usable one (which `status` also saves, like ebp).
pub(crate) async fn version_arg_or_workspace(
    api: &Api,
    ws: &mut Workspace,
    name: &str,
    arg: Option<&str>,
    save: bool,
) -> Result<String> {
    if let Some(v) = arg {
        return Ok(v.to_string());
    }
    if let Some(v) = ws.config.global("platform_version") {
        return Ok(v);
    }
    let Some(v) = latest_usable(api, name).await? else {
        bail!(
            "{NO_SUCH_VERSION} ({name} has no usable version in {})",
            api.region
        )
    };
    if save {
        ws.config.set_global("platform_version", Some(&v));
        ws.save()?;
    }
    Ok(v)
}
