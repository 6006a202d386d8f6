//! `rpack cleanup [BUILD-ID] [--older-than D] [--yes]`: deletes what a crashed or killed build
//! left behind. Sources: the builds' ledgers (every id recorded the instant it was created), and,
//! for builds without a ledger on this machine, the `rpack:build-id` tags in each region. A dry
//! run (the default) only lists; `--yes` deletes, in dependency order, and records each deletion
//! in the ledger. The AMIs and snapshots of finished builds are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;

use crate::aws::access::ec2_client as ec2;
use crate::ledger::{self, Ledger, LedgerEntry, LedgerEvent};
use crate::ui::Ui;

use crate::ledger::{BUILD_ID_TAG, COMPLETE_TAG};

/// Deletion order: what depends on others goes first.
const ORDER: &[&str] = &[
    "ssm_session",
    "instance",
    "launch_template",
    "image",
    "snapshot",
    "volume",
    "security_group",
    "key_pair",
    "instance_profile",
    "role",
];

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub build_id: Option<String>,
    pub older_than: Option<Duration>,
    pub yes: bool,
    /// Regions to scan for tagged resources; default: every region the account has.
    pub regions: Vec<String>,
    /// EC2/IAM endpoint (else the ledger's, else the standard AWS configuration).
    pub endpoint_url: Option<String>,
}

/// One leftover resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leftover {
    pub build_id: String,
    pub kind: String,
    pub id: String,
    pub region: String,
}

struct LedgerFile {
    build_id: String,
    path: PathBuf,
    endpoint: Option<String>,
    open: Vec<LedgerEntry>,
}

fn ledger_dir() -> Option<PathBuf> {
    ledger::default_path("x").and_then(|p| p.parent().map(Path::to_path_buf))
}

fn read_ledgers(opts: &Options) -> Result<Vec<LedgerFile>> {
    let Some(dir) = ledger_dir() else {
        return Ok(Vec::new());
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let build_id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if opts.build_id.as_ref().is_some_and(|b| *b != build_id) {
            continue;
        }
        let entries = Ledger::read(&path)?;
        if let (Some(age), Some(first)) = (opts.older_than, entries.first()) {
            let started = chrono::DateTime::parse_from_rfc3339(&first.t)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(now);
            if (now - started).to_std().unwrap_or_default() < age {
                continue;
            }
        }
        let endpoint = entries
            .iter()
            .rev()
            .find(|e| e.event == LedgerEvent::Meta && e.kind == "endpoint_ec2")
            .map(|e| e.id.clone());
        out.push(LedgerFile {
            build_id,
            path,
            endpoint,
            open: ledger::outstanding(&entries),
        });
    }
    out.sort_by(|a, b| a.build_id.cmp(&b.build_id));
    Ok(out)
}

async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

fn iam(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_iam::Client {
    let mut b = aws_sdk_iam::config::Builder::from(sdk);
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
    }
    aws_sdk_iam::Client::from_conf(b.build())
}

/// Already gone: not found, or (for an AMI being deregistered) no longer available.
fn is_not_found(code: Option<&str>) -> bool {
    code.is_some_and(|c| crate::aws::error::is_not_found_code(c) || c == "InvalidAMIID.Unavailable")
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
) -> String {
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("")
        ),
        // Not a service answer: one clear line where the kind is known (no credentials …).
        None => {
            let chain = aws_sdk_ec2::error::DisplayErrorContext(e).to_string();
            crate::aws::explain::transport(&chain).unwrap_or(chain)
        }
    }
}

/// Finds resources tagged with a build id that has no ledger here (or the one asked for).
async fn scan_tags(
    opts: &Options,
    known: &BTreeSet<String>,
    default_region: &str,
) -> Result<Vec<Leftover>> {
    let endpoint = opts.endpoint_url.as_deref();
    let sdk = sdk_config(default_region).await;
    let regions = if opts.regions.is_empty() {
        let out = ec2(&sdk, default_region, endpoint)
            .describe_regions()
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("listing regions in {default_region}: {}", describe(&e))
            })?;
        out.regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect()
    } else {
        opts.regions.clone()
    };
    let filter = match &opts.build_id {
        Some(id) => Filter::builder()
            .name(format!("tag:{BUILD_ID_TAG}"))
            .values(id)
            .build(),
        None => Filter::builder()
            .name("tag-key")
            .values(BUILD_ID_TAG)
            .build(),
    };
    let now = chrono::Utc::now();
    let old_enough = |created: Option<&aws_sdk_ec2::primitives::DateTime>| -> bool {
        match (opts.older_than, created) {
            (Some(age), Some(t)) => now.timestamp() - t.secs() >= age.as_secs() as i64,
            _ => true,
        }
    };
    let mut found = Vec::new();
    for region in regions {
        let c = ec2(&sdk, &region, endpoint);
        let tag_of = |tags: &[aws_sdk_ec2::types::Tag], key: &str| {
            tags.iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
                .map(str::to_string)
        };
        let mut push = |tags: &[aws_sdk_ec2::types::Tag], kind: &str, id: &str| {
            if let Some(b) = tag_of(tags, BUILD_ID_TAG) {
                if !known.contains(&b) && tag_of(tags, COMPLETE_TAG).is_none() {
                    found.push(Leftover {
                        build_id: b,
                        kind: kind.into(),
                        id: id.into(),
                        region: region.clone(),
                    });
                }
            }
        };
        let out = c
            .describe_instances()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing instances in {region}: {}", describe(&e)))?;
        for r in out.reservations() {
            for i in r.instances() {
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                if state != "terminated" && old_enough(i.launch_time()) {
                    push(i.tags(), "instance", i.instance_id().unwrap_or_default());
                }
            }
        }
        let out = c
            .describe_images()
            .owners("self")
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing AMIs in {region}: {}", describe(&e)))?;
        for i in out.images() {
            push(i.tags(), "image", i.image_id().unwrap_or_default());
        }
        let out = c
            .describe_snapshots()
            .owner_ids("self")
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing snapshots in {region}: {}", describe(&e)))?;
        for s in out.snapshots() {
            if old_enough(s.start_time()) {
                push(s.tags(), "snapshot", s.snapshot_id().unwrap_or_default());
            }
        }
        let out = c
            .describe_volumes()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing volumes in {region}: {}", describe(&e)))?;
        for v in out.volumes() {
            if old_enough(v.create_time()) {
                push(v.tags(), "volume", v.volume_id().unwrap_or_default());
            }
        }
        let out = c
            .describe_security_groups()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("listing security groups in {region}: {}", describe(&e))
            })?;
        for g in out.security_groups() {
            push(g.tags(), "security_group", g.group_id().unwrap_or_default());
        }
        let out = c
            .describe_key_pairs()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing key pairs in {region}: {}", describe(&e)))?;
        for k in out.key_pairs() {
            if old_enough(k.create_time()) {
                push(k.tags(), "key_pair", k.key_name().unwrap_or_default());
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

async fn delete_one(
    item: &Leftover,
    sdk: &aws_config::SdkConfig,
    endpoint: Option<&str>,
) -> Result<()> {
    let c = ec2(sdk, &item.region, endpoint);
    let (id, region) = (item.id.as_str(), item.region.as_str());
    macro_rules! gone_ok {
        ($res:expr, $what:expr) => {
            match $res {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(e.as_service_error().and_then(|s| s.code())) => Ok(()),
                Err(e) => Err(anyhow::anyhow!(
                    "{} {id} in {region}: {}",
                    $what,
                    describe(&e)
                )),
            }
        };
    }
    match item.kind.as_str() {
        // A killed build's Session Manager session: end it (an ended one is already gone).
        "ssm_session" => {
            let s = crate::aws::ssm::client(sdk, region);
            match s.terminate_session().session_id(id).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error().and_then(|s| s.code())
                        == Some("DoesNotExistException") =>
                {
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!(
                    "terminating Session Manager session {id} in {region}: {}",
                    describe(&e)
                )),
            }
        }
        "instance" => {
            gone_ok!(
                c.terminate_instances().instance_ids(id).send().await,
                "terminating instance"
            )?;
            // Security groups can only go once the instance is gone.
            let deadline = std::time::Instant::now() + Duration::from_secs(600);
            let mut delay = Duration::from_millis(250);
            loop {
                let out = c.describe_instances().instance_ids(id).send().await;
                let state = match out {
                    Ok(o) => o
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .find_map(|i| {
                            i.state()
                                .and_then(|s| s.name())
                                .map(|n| n.as_str().to_string())
                        }),
                    Err(e) if is_not_found(e.as_service_error().and_then(|s| s.code())) => None,
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "waiting for instance {id} in {region} to terminate: {}",
                            describe(&e)
                        ))
                    }
                };
                if state.as_deref().is_none_or(|s| s == "terminated") {
                    return Ok(());
                }
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "instance {id} in {region} did not terminate within 10 minutes"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
        "launch_template" => gone_ok!(
            c.delete_launch_template()
                .launch_template_id(id)
                .send()
                .await,
            "deleting launch template"
        ),
        "image" => {
            // The AMI's snapshots may not be in the ledger yet (a build killed while waiting for
            // the AMI): read them from the image before deregistering it, then delete them.
            let snapshots: Vec<String> = match c.describe_images().image_ids(id).send().await {
                Ok(o) => o
                    .images()
                    .iter()
                    .flat_map(|i| i.block_device_mappings())
                    .filter_map(|b| b.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
                    .collect(),
                Err(_) => Vec::new(),
            };
            gone_ok!(
                c.deregister_image().image_id(id).send().await,
                "deregistering AMI"
            )?;
            for snap in snapshots {
                gone_ok!(
                    c.delete_snapshot().snapshot_id(&snap).send().await,
                    "deleting snapshot of the AMI"
                )?;
            }
            Ok(())
        }
        "snapshot" => gone_ok!(
            c.delete_snapshot().snapshot_id(id).send().await,
            "deleting snapshot"
        ),
        "volume" => gone_ok!(
            c.delete_volume().volume_id(id).send().await,
            "deleting volume"
        ),
        "key_pair" => gone_ok!(
            c.delete_key_pair().key_name(id).send().await,
            "deleting key pair"
        ),
        "security_group" => {
            // DependencyViolation while a terminated instance's interface lingers.
            let mut tries = 0;
            loop {
                match c.delete_security_group().group_id(id).send().await {
                    Ok(_) => return Ok(()),
                    Err(e) if is_not_found(e.as_service_error().and_then(|s| s.code())) => {
                        return Ok(())
                    }
                    Err(e)
                        if e.as_service_error().and_then(|s| s.code())
                            == Some("DependencyViolation")
                            && tries < 24 =>
                    {
                        tries += 1;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "deleting security group {id} in {region}: {}",
                            describe(&e)
                        ))
                    }
                }
            }
        }
        "instance_profile" => {
            let i = iam(sdk, endpoint);
            if let Ok(p) = i
                .get_instance_profile()
                .instance_profile_name(id)
                .send()
                .await
            {
                for r in p.instance_profile().map(|p| p.roles()).unwrap_or_default() {
                    let _ = i
                        .remove_role_from_instance_profile()
                        .instance_profile_name(id)
                        .role_name(r.role_name())
                        .send()
                        .await;
                }
            }
            match i
                .delete_instance_profile()
                .instance_profile_name(id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(e.as_service_error().and_then(|s| s.code())) => Ok(()),
                Err(e) => Err(anyhow::anyhow!(
                    "deleting instance profile {id}: {}",
                    aws_sdk_iam::error::DisplayErrorContext(&e)
                )),
            }
        }
        "role" => {
            let i = iam(sdk, endpoint);
            if let Ok(p) = i.list_role_policies().role_name(id).send().await {
                for name in p.policy_names() {
                    let _ = i
                        .delete_role_policy()
                        .role_name(id)
                        .policy_name(name)
                        .send()
                        .await;
                }
            }
            match i.delete_role().role_name(id).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(e.as_service_error().and_then(|s| s.code())) => Ok(()),
                Err(e) => Err(anyhow::anyhow!(
                    "deleting role {id}: {}",
                    aws_sdk_iam::error::DisplayErrorContext(&e)
                )),
            }
        }
        other => Err(anyhow::anyhow!(
            "don't know how to delete a {other} ({id} in {region})"
        )),
    }
}

fn rank(kind: &str) -> usize {
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Runs the command; returns the exit code.
pub async fn run(opts: &Options, ui: &dyn Ui) -> Result<i32> {
    let ledgers = read_ledgers(opts)?;
    let default_region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let mut items: Vec<(Leftover, Option<String>, Option<PathBuf>)> = Vec::new();
    for l in &ledgers {
        for e in &l.open {
            let endpoint = opts.endpoint_url.clone().or_else(|| l.endpoint.clone());
            items.push((
                Leftover {
                    build_id: l.build_id.clone(),
                    kind: e.kind.clone(),
                    id: e.id.clone(),
                    region: e.region.clone(),
                },
                endpoint,
                Some(l.path.clone()),
            ));
        }
    }
    let known: BTreeSet<String> = ledgers.iter().map(|l| l.build_id.clone()).collect();
    // Without a ledger for the build (another machine, a wiped state dir) the tags still tell.
    let scan_needed = opts.build_id.as_ref().is_none_or(|b| !known.contains(b));
    if scan_needed {
        // Scan where the builds ran: the explicit endpoint, else the one the ledgers name.
        let mut scan_opts = opts.clone();
        if scan_opts.endpoint_url.is_none() {
            let endpoints: BTreeSet<&String> =
                ledgers.iter().filter_map(|l| l.endpoint.as_ref()).collect();
            if endpoints.len() == 1 {
                scan_opts.endpoint_url = endpoints.into_iter().next().cloned();
            }
        }
        match scan_tags(&scan_opts, &known, &default_region).await {
            Ok(found) => items.extend(
                found
                    .into_iter()
                    .map(|f| (f, opts.endpoint_url.clone(), None)),
            ),
            Err(e) => ui.error(&format!(
                "Could not scan tags for builds without a ledger: {e:#}"
            )),
        }
    }
    items.sort_by(|a, b| {
        (a.0.build_id.as_str(), rank(&a.0.kind), &a.0.region, &a.0.id).cmp(&(
            b.0.build_id.as_str(),
            rank(&b.0.kind),
            &b.0.region,
            &b.0.id,
        ))
    });
    if items.is_empty() {
        ui.say("Nothing to clean up: no resources of unfinished rpack builds were found.");
        return Ok(0);
    }
    let mut by_build: BTreeMap<&str, Vec<&Leftover>> = BTreeMap::new();
    for (l, _, _) in &items {
        by_build.entry(l.build_id.as_str()).or_default().push(l);
    }
    if !opts.yes {
        for (b, list) in &by_build {
            ui.say(&format!("Build {b}:"));
            for l in list {
                ui.say(&format!(
                    "  would delete {} {} in {}",
                    l.kind, l.id, l.region
                ));
            }
            if let Some(dir) = crate::ledger::work_dir::path(b).filter(|d| d.is_dir()) {
                ui.say(&format!("  would delete local directory {}", dir.display()));
            }
        }
        ui.say(&format!(
            "Dry run: nothing was deleted. Run again with --yes to delete these {} resources.",
            items.len()
        ));
        return Ok(0);
    }
    let mut failures = 0;
    let mut failed_builds: BTreeSet<&str> = BTreeSet::new();
    let mut configs: BTreeMap<String, (aws_config::SdkConfig, bool)> = BTreeMap::new();
    // (region, endpoint) → resources skipped for want of credentials.
    let mut no_credentials: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for (l, endpoint, path) in &items {
        let region = if l.region == "global" {
            default_region.clone()
        } else {
            l.region.clone()
        };
        if !configs.contains_key(&region) {
            let sdk = sdk_config(&region).await;
            let found = crate::aws::explain::has_credentials(&sdk).await;
            configs.insert(region.clone(), (sdk, found));
        }
        let (sdk, found) = &configs[&region];
        if !found {
            failures += 1;
            failed_builds.insert(l.build_id.as_str());
            *no_credentials
                .entry((region.clone(), endpoint.clone()))
                .or_default() += 1;
            continue;
        }
        match delete_one(l, sdk, endpoint.as_deref()).await {
            Ok(()) => {
                ui.say(&format!(
                    "Deleted {} {} in {} (build {})",
                    l.kind, l.id, l.region, l.build_id
                ));
                if let Some(p) = path {
                    if let Ok(ledger) = Ledger::open(&l.build_id, p) {
                        ledger.deleted(&l.kind, &l.id, &l.region);
                    }
                }
            }
            Err(e) => {
                failures += 1;
                failed_builds.insert(l.build_id.as_str());
                ui.error(&format!("Failed: {e:#}"));
            }
        }
    }
    for ((region, endpoint), count) in &no_credentials {
        ui.error(&crate::aws::explain::cleanup_needs_credentials(
            region,
            endpoint.as_deref(),
            *count,
        ));
    }
    // The killed builds' local key directories (only once their AWS resources are gone).
    for b in by_build.keys().filter(|b| !failed_builds.contains(**b)) {
        match crate::ledger::work_dir::remove(b) {
            Ok(Some(dir)) => ui.say(&format!(
                "Deleted local directory {} (build {b})",
                dir.display()
            )),
            Ok(None) => {}
            Err(e) => {
                failures += 1;
                ui.error(&format!(
                    "Failed: deleting the local directory of build {b}: {e}"
                ));
            }
        }
    }
    if failures > 0 {
        ui.error(&format!(
            "{failures} resource(s) could not be deleted; run `rpack cleanup --yes` again."
        ));
        return Ok(1);
    }
    ui.say(&format!("Cleaned up {} resource(s).", items.len()));
    Ok(0)
}

/// Parses `--older-than` (Go duration like `2h`, `30m`, or a plain number of hours with `h`).
pub fn parse_age(s: &str) -> Result<Duration> {
    crate::gocompat::time::parse_duration(s)
        .map_err(|e| anyhow::anyhow!("--older-than {s:?}: {e}"))
        .context("expected a duration such as 30m, 2h or 72h")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_order_puts_instances_first_and_roles_last() {
        let mut kinds = vec![
            "role",
            "key_pair",
            "image",
            "instance",
            "security_group",
            "snapshot",
        ];
        kinds.sort_by_key(|k| rank(k));
        assert_eq!(
            kinds,
            vec![
                "instance",
                "image",
                "snapshot",
                "security_group",
                "key_pair",
                "role"
            ]
        );
    }

    #[test]
    fn not_found_codes_count_as_gone() {
        assert!(is_not_found(Some("InvalidInstanceID.NotFound")));
        assert!(is_not_found(Some("NoSuchEntity")));
        assert!(!is_not_found(Some("DependencyViolation")));
        assert!(!is_not_found(None));
    }
}
