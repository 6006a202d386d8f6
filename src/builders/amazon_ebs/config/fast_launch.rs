//! `fast_launch`: Windows fast launch on the finished AMIs (pre-provisioned snapshots), with an
//! optional launch template per region. Checked with the plugin's messages; the EC2 calls are
//! made by the build step `steps::fast_launch`.

use super::nonempty;
use crate::decoder::Decoder;

/// A launch template for one region (the top-level `template_*` keys become one for the build
/// region).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionTemplate {
    pub region: String,
    /// `Some(false)`: fast launch explicitly off in this region.
    pub enable: Option<bool>,
    pub template_id: Option<String>,
    pub template_name: Option<String>,
    /// 0: the template's latest version.
    pub template_version: i64,
}

/// The checked `fast_launch` block; `enable` is false when the block is absent or empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FastLaunch {
    pub enable: bool,
    pub region_templates: Vec<RegionTemplate>,
    /// 0: EC2's default (6).
    pub max_parallel_launches: i64,
    /// 0: EC2's default (5).
    pub target_resource_count: i64,
}

fn template(d: &mut Decoder<'_>) -> RegionTemplate {
    RegionTemplate {
        region: d.string("region").unwrap_or_default(),
        enable: d.trilean("enable_fast_launch"),
        template_id: nonempty(d.string("template_id")),
        template_name: nonempty(d.string("template_name")),
        template_version: d.int("template_version").unwrap_or(0),
    }
}

/// Decodes `fast_launch`; `region` is the build region, `ami_regions` the copy regions.
pub(super) fn decode(
    d: &mut Decoder<'_>,
    region: Option<&str>,
    ami_regions: &[String],
) -> FastLaunch {
    let Some((enable, top, regions, max, count)) = d.object("fast_launch", |d| {
        (
            d.bool("enable_fast_launch").unwrap_or(false),
            template(d),
            d.object_list("region_launch_templates", template)
                .unwrap_or_default(),
            d.int("max_parallel_launches").unwrap_or(0),
            d.int("target_resource_count").unwrap_or(0),
        )
    }) else {
        return FastLaunch::default();
    };
    let top_set =
        top.template_id.is_some() || top.template_name.is_some() || top.template_version != 0;
    let mut c = FastLaunch {
        enable: enable || top_set || !regions.is_empty() || max != 0 || count != 0,
        region_templates: regions,
        max_parallel_launches: max,
        target_resource_count: count,
    };
    if !c.enable {
        return c;
    }
    let key = "fast_launch";
    if max != 0 && max < 6 {
        d.error(
            key,
            format!("max_parallel_launches must be >= 6, provided value is {max}"),
        );
    }
    if count < 0 {
        d.error(
            key,
            format!("target_resource_count must be >= 1, provided value is {count}"),
        );
    }
    if top_set {
        c.region_templates.push(RegionTemplate {
            region: region.unwrap_or_default().to_string(),
            enable: None,
            ..top
        });
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut errs = Vec::new();
    for t in &c.region_templates {
        let r = t.region.as_str();
        if seen.contains(&r) {
            errs.push(format!(
                "fast launch: launch template specified twice for region {r:?}, only once is supported"
            ));
        }
        seen.push(r);
        if r.is_empty() {
            errs.push("region cannot be empty for a regional fast template config".to_string());
            continue;
        }
        if t.enable == Some(false) {
            continue;
        }
        if t.template_id.is_some() && t.template_name.is_some() {
            errs.push(format!("fast_launch_template_config region {r:?}: both template ID and name cannot be specified at the same time"));
        }
        if t.template_version < 0 {
            errs.push(format!("fast_launch_template_config region {r:?}: the launch template version must be >= 1, provided value is {}", t.template_version));
        }
        if t.template_version != 0 && t.template_id.is_none() && t.template_name.is_none() {
            errs.push(format!("fast_launch_template_config region {r:?}: launch template version specified without an ID or name"));
        }
        if Some(r) != region && !ami_regions.iter().any(|a| a == r) {
            errs.push(format!("Launch template specified for enabling fast-launch on region {r:?}, but the AMI won't be copied there."));
        }
    }
    for e in errs {
        d.error(key, e);
    }
    c
}
