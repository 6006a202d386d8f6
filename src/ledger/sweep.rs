//! `rpack cleanup [BUILD-ID] [--older-than D] [--yes]`: deletes what a crashed or killed build
//! left behind. Sources: the builds' ledgers (every id recorded the instant it was created), and
//! the `rpack:build-id` tags in each region, for builds without a ledger on this machine and for
//! what a killed build created just before it could write the ledger line. A dry
//! run (the default) only lists; `--yes` deletes, in dependency order, and records each deletion
//! in the ledger. The AMIs and snapshots of finished builds are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use tokio_util::sync::CancellationToken;

use crate::aws::delete::{self, Apis, ResourceKind};
use crate::aws::sdk_config::{ec2_client as ec2, iam_client};
use crate::aws::PollPolicy;
use crate::ledger::{self, Ledger, LedgerEntry, LedgerEvent};
use crate::ui::Ui;

use crate::ledger::{BUILD_ID_TAG, COMPLETE_TAG};

/// How long the sweep waits for a terminated instance to be gone before deleting what it used
/// (its security group): a stuck termination fails this resource, not the whole sweep forever.
const INSTANCE_GONE_WAIT: Duration = Duration::from_secs(10 * 60);

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
    pub kind: ResourceKind,
    pub id: String,
    pub region: String,
}

struct LedgerFile {
    build_id: String,
    path: PathBuf,
    endpoint: Option<String>,
    /// The AWS account the build's credentials belonged to, when the build learnt it.
    account: Option<String>,
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
                .map_or(now, |t| t.with_timezone(&chrono::Utc));
            if (now - started).to_std().unwrap_or_default() < age {
                continue;
            }
        }
        let endpoint = entries
            .iter()
            .rev()
            .find(|e| e.event == LedgerEvent::Meta && e.kind == "endpoint_ec2")
            .map(|e| e.id.clone());
        let account = entries
            .iter()
            .rev()
            .find(|e| e.event == LedgerEvent::Meta && e.kind == ledger::META_ACCOUNT)
            .map(|e| e.id.clone());
        out.push(LedgerFile {
            build_id,
            path,
            endpoint,
            account,
            open: ledger::outstanding(&entries),
        });
    }
    out.sort_by(|a, b| a.build_id.cmp(&b.build_id));
    Ok(out)
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
) -> String {
    if let Some(s) = e.as_service_error() {
        format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("")
        )
    } else {
        // Not a service answer: one clear line where the kind is known (no credentials …).
        let chain = crate::aws::error::plain_chain(e);
        crate::aws::explain::transport(&chain).unwrap_or(chain)
    }
}

/// Finds resources tagged with a build id that the ledgers here do not list: every resource of
/// a build without a ledger (another machine, a wiped state dir), and those of a build with one
/// that were created in the instant between the Create call and the ledger line (a build killed
/// right after CopyImage returned). `listed` holds the ledgers' `(region, id)` pairs.
async fn scan_tags(
    opts: &Options,
    listed: &BTreeSet<(String, String)>,
    default_region: &str,
) -> Result<Vec<Leftover>> {
    let endpoint = opts.endpoint_url.as_deref();
    let sdk = crate::aws::sdk_config()
        .region(Some(default_region))
        .load()
        .await;
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
        let mut push = |tags: &[aws_sdk_ec2::types::Tag], kind: ResourceKind, id: &str| {
            if let Some(b) = tag_of(tags, BUILD_ID_TAG) {
                let in_ledger = listed.contains(&(region.clone(), id.to_string()));
                if !in_ledger && tag_of(tags, COMPLETE_TAG).is_none() {
                    found.push(Leftover {
                        build_id: b,
                        kind,
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
                    push(
                        i.tags(),
                        ResourceKind::Instance,
                        i.instance_id().unwrap_or_default(),
                    );
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
            push(
                i.tags(),
                ResourceKind::Image,
                i.image_id().unwrap_or_default(),
            );
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
                push(
                    s.tags(),
                    ResourceKind::Snapshot,
                    s.snapshot_id().unwrap_or_default(),
                );
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
                push(
                    v.tags(),
                    ResourceKind::Volume,
                    v.volume_id().unwrap_or_default(),
                );
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
            push(
                g.tags(),
                ResourceKind::SecurityGroup,
                g.group_id().unwrap_or_default(),
            );
        }
        let out = c
            .describe_key_pairs()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing key pairs in {region}: {}", describe(&e)))?;
        for k in out.key_pairs() {
            if old_enough(k.create_time()) {
                push(
                    k.tags(),
                    ResourceKind::KeyPair,
                    k.key_name().unwrap_or_default(),
                );
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The clients for deleting in `region` at `endpoint` (EC2 and IAM; Session Manager at its own
/// `AWS_ENDPOINT_URL[_SSM]`).
fn apis(sdk: &aws_config::SdkConfig, region: &str, endpoint: Option<&str>) -> Apis {
    Apis {
        region: region.to_string(),
        ec2: ec2(sdk, region, endpoint),
        iam: iam_client(sdk, endpoint),
        ssm: crate::aws::ssm::client(sdk, region),
    }
}

/// Runs the command; returns the exit code.
pub async fn run(opts: &Options, ui: &dyn Ui) -> Result<i32> {
    let ledgers = read_ledgers(opts)?;
    let default_region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let mut items: Vec<(Leftover, Option<String>, Option<PathBuf>)> = Vec::new();
    // Ledger lines of a kind this rpack cannot delete (a ledger from a newer version).
    let mut unknown: Vec<(&str, &LedgerEntry)> = Vec::new();
    for l in &ledgers {
        for e in &l.open {
            let Some(kind) = ResourceKind::parse(&e.kind) else {
                unknown.push((l.build_id.as_str(), e));
                continue;
            };
            let endpoint = opts.endpoint_url.clone().or_else(|| l.endpoint.clone());
            items.push((
                Leftover {
                    build_id: l.build_id.clone(),
                    kind,
                    id: e.id.clone(),
                    region: e.region.clone(),
                },
                endpoint,
                Some(l.path.clone()),
            ));
        }
    }
    let listed: BTreeSet<(String, String)> = items
        .iter()
        .map(|(l, _, _)| (l.region.clone(), l.id.clone()))
        .collect();
    // The tags tell what the ledgers miss: builds without a ledger here, and a resource created
    // in the instant before its ledger line. Scan where the builds ran: the explicit endpoint,
    // else the one the ledgers name.
    let mut scan_opts = opts.clone();
    if scan_opts.endpoint_url.is_none() {
        let endpoints: BTreeSet<&String> =
            ledgers.iter().filter_map(|l| l.endpoint.as_ref()).collect();
        if endpoints.len() == 1 {
            scan_opts.endpoint_url = endpoints.into_iter().next().cloned();
        }
    }
    match scan_tags(&scan_opts, &listed, &default_region).await {
        Ok(found) => items.extend(
            found
                .into_iter()
                .map(|f| (f, scan_opts.endpoint_url.clone(), None)),
        ),
        Err(e) => ui.error(&format!("Could not scan the rpack:build-id tags: {e:#}")),
    }
    // Per build, in deletion order (the kinds' order).
    items.sort_by(|a, b| {
        (a.0.build_id.as_str(), a.0.kind, &a.0.region, &a.0.id).cmp(&(
            b.0.build_id.as_str(),
            b.0.kind,
            &b.0.region,
            &b.0.id,
        ))
    });
    for (build, e) in &unknown {
        ui.error(&format!(
            "Build {build}: don't know how to delete a {} ({} in {}); delete it by hand",
            e.kind, e.id, e.region
        ));
    }
    if items.is_empty() && unknown.is_empty() {
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
    let mut failures = unknown.len();
    let mut failed_builds: BTreeSet<&str> = unknown.iter().map(|(b, _)| *b).collect();
    let instance_wait = PollPolicy::new(INSTANCE_GONE_WAIT);
    let never = CancellationToken::new();
    let mut configs: BTreeMap<String, (aws_config::SdkConfig, bool)> = BTreeMap::new();
    // (account, region, endpoint) → resources skipped for want of credentials.
    let accounts: BTreeMap<&str, &str> = ledgers
        .iter()
        .filter_map(|l| Some((l.build_id.as_str(), l.account.as_deref()?)))
        .collect();
    let mut no_credentials: BTreeMap<(Option<&str>, String, Option<String>), usize> =
        BTreeMap::new();
    for (l, endpoint, path) in &items {
        let region = if l.region == "global" {
            default_region.clone()
        } else {
            l.region.clone()
        };
        if !configs.contains_key(&region) {
            let sdk = crate::aws::sdk_config().region(Some(&region)).load().await;
            let found = crate::aws::explain::has_credentials(&sdk).await;
            configs.insert(region.clone(), (sdk, found));
        }
        let (sdk, found) = &configs[&region];
        if !found {
            failures += 1;
            failed_builds.insert(l.build_id.as_str());
            *no_credentials
                .entry((
                    accounts.get(l.build_id.as_str()).copied(),
                    region.clone(),
                    endpoint.clone(),
                ))
                .or_default() += 1;
            continue;
        }
        let ledger = path
            .as_ref()
            .and_then(|p| Ledger::open(&l.build_id, p).ok());
        let apis = apis(sdk, &region, endpoint.as_deref());
        // Everything deleted is recorded at once (an AMI's snapshots too).
        let record = |kind: ResourceKind, id: &str| {
            if let Some(ledger) = &ledger {
                ledger.deleted(kind, id, &l.region);
            }
        };
        match delete::delete(&apis, l.kind, &l.id, &instance_wait, &never, record).await {
            Ok(()) => {
                ui.say(&format!(
                    "Deleted {} {} in {} (build {})",
                    l.kind, l.id, l.region, l.build_id
                ));
            }
            Err(e) => {
                failures += 1;
                failed_builds.insert(l.build_id.as_str());
                ui.error(&format!("Failed: {e:#}"));
            }
        }
    }
    for ((account, region, endpoint), count) in &no_credentials {
        ui.error(&crate::aws::explain::cleanup_needs_credentials(
            *account,
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
    fn leftovers_of_a_build_sort_in_deletion_order() {
        let item = |kind| Leftover {
            build_id: "b".into(),
            kind,
            id: "x".into(),
            region: "r".into(),
        };
        let mut v = [
            item(ResourceKind::Role),
            item(ResourceKind::SecurityGroup),
            item(ResourceKind::Instance),
        ];
        v.sort();
        let kinds: Vec<ResourceKind> = v.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                ResourceKind::Instance,
                ResourceKind::SecurityGroup,
                ResourceKind::Role
            ]
        );
    }
}
