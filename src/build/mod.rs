//! `rpack build`: runs every selected build of a checked template in parallel (bounded by
//! `-parallel-builds`), each through its builder, provisioners and post-processor chains, then
//! prints the artifacts like Packer. SIGINT/SIGTERM cancel all builds and clean up; a second
//! signal prints what is still open and exits at once.

pub mod artifact;
pub mod cleanup;
pub mod hook;
pub mod post;
pub mod signals;
pub mod ui;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::builders::amazon_ebs;
use crate::engine::{AskDecision, AskHook, DebugHook, Ledger, OnError, RunnerOptions};
use crate::provisioners::BuildData;
use crate::registry::BuilderConfig;
use crate::template::interp::Context;
use crate::template::plan::Build;
use crate::ui::Ui as _;

pub use artifact::Artifact;
use ui::{human_duration, BuildUi};

/// `-on-error` as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnErrorFlag {
    #[default]
    Cleanup,
    Abort,
    Ask,
    RunCleanupProvisioner,
}

impl std::str::FromStr for OnErrorFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "" | "cleanup" => OnErrorFlag::Cleanup,
            "abort" => OnErrorFlag::Abort,
            "ask" => OnErrorFlag::Ask,
            "run-cleanup-provisioner" => OnErrorFlag::RunCleanupProvisioner,
            other => return Err(format!("-on-error has an invalid value {other:?}: use cleanup, abort, ask or run-cleanup-provisioner")),
        })
    }
}

/// Settings of one `rpack build` run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// 0 = unlimited.
    pub parallel_builds: usize,
    pub on_error: OnErrorFlag,
    pub debug: bool,
    pub force: bool,
    pub timestamp_ui: bool,
    pub color: bool,
    /// A person watches: stdout is a terminal and the output is not machine-readable. Spinners
    /// and progress bars are drawn then (with or without colour).
    pub live: bool,
}

/// The process-wide state shared by builds: cancellation and the ledgers of running builds.
#[derive(Clone)]
pub struct Shared {
    pub cancel: CancellationToken,
    pub hard_cancel: CancellationToken,
    pub ledgers: Arc<Mutex<Vec<Arc<Ledger>>>>,
    /// On a terminal: where the builds draw their wait spinners (messages printed from outside
    /// a build, such as the signal handler's, go around them).
    pub spinners: Option<Arc<indicatif::MultiProgress>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            cancel: CancellationToken::new(),
            hard_cancel: CancellationToken::new(),
            ledgers: Arc::new(Mutex::new(Vec::new())),
            spinners: None,
        }
    }
}

/// Runs `builds` on a fresh runtime with signal handling; returns the exit code.
pub fn run_blocking(
    builds: Vec<Build>,
    base: Context,
    opts: Options,
    ui: Arc<dyn crate::ui::Ui>,
) -> i32 {
    let Some(rt) = crate::runtime(&*ui) else {
        return 1;
    };
    rt.block_on(async move {
        // Spinners and progress bars only where a person watches: a terminal, not machine-readable.
        let shared = Shared {
            spinners: opts.live.then(|| Arc::new(indicatif::MultiProgress::new())),
            ..Shared::default()
        };
        signals::install(shared.clone(), ui.clone());
        run(builds, base, opts, ui, shared).await
    })
}

struct Finished {
    name: String,
    artifacts: Vec<Artifact>,
    error: Option<String>,
}

/// Runs the builds and prints Packer's summary. Returns the exit code.
pub async fn run(
    builds: Vec<Build>,
    base: Context,
    opts: Options,
    ui: Arc<dyn crate::ui::Ui>,
    shared: Shared,
) -> i32 {
    let started = Instant::now();
    let run_uuid = uuid::Uuid::new_v4().to_string();
    let limit = if opts.debug {
        1
    } else if opts.parallel_builds == 0 {
        Semaphore::MAX_PERMITS
    } else {
        opts.parallel_builds
    };
    let sem = Arc::new(Semaphore::new(limit));
    if opts.color {
        for (i, b) in builds.iter().enumerate() {
            BuildUi::new(&b.name, ui.clone(), Some(i), false)
                .inner_say_plain(&format!("{}: output will be in this color.", b.name));
        }
        ui.say("");
    }
    let spinners = if opts.live {
        shared.spinners.clone()
    } else {
        None
    };
    let mut tasks = Vec::new();
    for (i, build) in builds.into_iter().enumerate() {
        let spinners = spinners.clone();
        let sem = sem.clone();
        let ui = ui.clone();
        let base = base.clone();
        let opts = opts.clone();
        let shared = shared.clone();
        let run_uuid = run_uuid.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let bui = Arc::new(
                BuildUi::new(
                    &build.name,
                    ui.clone(),
                    opts.color.then_some(i),
                    opts.timestamp_ui,
                )
                .with_spinners(spinners),
            );
            let start = Instant::now();
            let res = if shared.cancel.is_cancelled() {
                Err("Build was cancelled.".to_string())
            } else {
                run_build(&build, &base, &opts, bui.clone(), &shared, &run_uuid).await
            };
            let took = human_duration(start.elapsed());
            match res {
                Ok(artifacts) => {
                    bui.say_unprefixed(&format!("Build '{}' finished after {took}.", build.name));
                    Finished {
                        name: build.name,
                        artifacts,
                        error: None,
                    }
                }
                Err(e) => {
                    bui.error_unprefixed(&format!(
                        "Build '{}' errored after {took}: {e}",
                        build.name
                    ));
                    Finished {
                        name: build.name,
                        artifacts: Vec::new(),
                        error: Some(e),
                    }
                }
            }
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        match t.await {
            Ok(f) => done.push(f),
            Err(e) => done.push(Finished {
                name: "?".into(),
                artifacts: Vec::new(),
                error: Some(format!("build task failed: {e}")),
            }),
        }
    }
    ui.say(&format!(
        "\n==> Wait completed after {}",
        human_duration(started.elapsed())
    ));
    if shared.cancel.is_cancelled() {
        ui.error("Cleanly cancelled builds after being interrupted.");
        return 1;
    }
    let errors: Vec<&Finished> = done.iter().filter(|f| f.error.is_some()).collect();
    if !errors.is_empty() {
        ui.machine("", "error-count", &[&errors.len().to_string()]);
        ui.error("\n==> Some builds didn't complete successfully and had errors:");
        for f in &errors {
            let e = f.error.as_deref().unwrap_or_default();
            ui.machine(&f.name, "error", &[e]);
            ui.error(&format!("--> {}: {e}", f.name));
        }
    }
    if done.iter().any(|f| !f.artifacts.is_empty()) {
        ui.say("\n==> Builds finished. The artifacts of successful builds are:");
        for f in done.iter().filter(|f| !f.artifacts.is_empty()) {
            ui.machine(&f.name, "artifact-count", &[&f.artifacts.len().to_string()]);
            for (i, a) in f.artifacts.iter().enumerate() {
                a.report(ui.as_ref(), &f.name, i);
            }
        }
    } else {
        ui.say("\n==> Builds finished but no artifacts were created.");
    }
    if errors.is_empty() {
        0
    } else {
        1
    }
}

/// Reads a line from standard input after printing `prompt` (for `-debug` and `-on-error=ask`).
async fn read_line(prompt: String, ui: Arc<BuildUi>) -> String {
    ui.say(&prompt);
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
        s
    })
    .await
    .unwrap_or_default()
}

struct StdinDebug(Arc<BuildUi>);

#[async_trait::async_trait]
impl DebugHook for StdinDebug {
    async fn pause(&self, message: &str) {
        // The engine's message already ends with "Press enter to continue."
        read_line(message.to_string(), self.0.clone()).await;
    }
}

struct StdinAsk(Arc<BuildUi>);

#[async_trait::async_trait]
impl AskHook for StdinAsk {
    async fn ask(&self, step: &str, error: &anyhow::Error) -> AskDecision {
        loop {
            let answer = read_line(
                format!("Step \"{step}\" failed\nError: {error:#}\n[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?"),
                self.0.clone(),
            )
            .await;
            match answer.trim() {
                "c" | "" => return AskDecision::Cleanup,
                "a" => return AskDecision::Abort,
                "r" => return AskDecision::Retry,
                _ => continue,
            }
        }
    }
}

fn runner_options(opts: &Options, ui: &Arc<BuildUi>) -> RunnerOptions {
    let on_error = match opts.on_error {
        OnErrorFlag::Cleanup => OnError::Cleanup,
        OnErrorFlag::Abort | OnErrorFlag::RunCleanupProvisioner => OnError::Abort,
        OnErrorFlag::Ask => OnError::Ask(Arc::new(StdinAsk(ui.clone()))),
    };
    RunnerOptions {
        on_error,
        debug: opts
            .debug
            .then(|| Arc::new(StdinDebug(ui.clone())) as Arc<dyn DebugHook>),
    }
}

/// One build: builder, then post-processor chains. Returns the artifacts to report.
async fn run_build(
    build: &Build,
    base: &Context,
    opts: &Options,
    ui: Arc<BuildUi>,
    shared: &Shared,
    run_uuid: &str,
) -> Result<Vec<Artifact>, String> {
    let build_id = uuid::Uuid::new_v4().to_string();
    tracing::debug!(build = %build.name, builder = %build.builder_kind, %build_id, "starting build");
    let mut extra = BTreeMap::new();
    extra.insert("PackerRunUUID".to_string(), run_uuid.to_string());
    let mut error_cleanup = build.error_cleanup.clone();
    if opts.on_error == OnErrorFlag::Abort {
        // `abort` skips the error-cleanup-provisioner too; `run-cleanup-provisioner` keeps it.
        error_cleanup = None;
    }
    let hook = Arc::new(hook::Provisioners {
        build_name: build.name.clone(),
        builder_type: build.builder_kind.clone(),
        list: build.provisioners.clone(),
        error_cleanup,
        ctx: base.clone(),
        extra: extra.clone(),
    });
    let builder_artifact = match &build.builder {
        BuilderConfig::AmazonEbs(cfg) => {
            let mut cfg = (**cfg).clone();
            if opts.force {
                cfg.ami.force_deregister = true;
            }
            let ledger = Arc::new(Ledger::open_default(&build_id).map_err(|e| format!("{e:#}"))?);
            // `rpack cleanup` reads these back to reach the same API the build used.
            let region = cfg.access.region.clone().unwrap_or_default();
            if let Some(url) = cfg
                .access
                .custom_endpoint_ec2
                .clone()
                .filter(|u| !u.is_empty())
            {
                ledger.meta("endpoint_ec2", &url, &region);
            }
            shared
                .ledgers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(ledger.clone());
            let args = amazon_ebs::RunArgs {
                ui: ui.clone(),
                hook: hook.clone(),
                cancel: shared.cancel.clone(),
                hard_cancel: shared.hard_cancel.clone(),
                options: runner_options(opts, &ui),
                build_id: Some(build_id.clone()),
                ledger: Some(ledger.clone()),
            };
            match amazon_ebs::run(Arc::new(cfg), args).await {
                Ok(Some(a)) => {
                    mark_kept(&a, &ledger).await;
                    Artifact::Ami(Arc::new(a))
                }
                Ok(None) => return Ok(Vec::new()),
                Err(e) => return Err(format!("{e:#}")),
            }
        }
        BuilderConfig::Null(cfg) => {
            crate::builders::null::run(
                Arc::new((**cfg).clone()),
                hook.clone(),
                ui.clone(),
                shared.cancel.clone(),
                shared.hard_cancel.clone(),
                runner_options(opts, &ui),
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
            Artifact::Null
        }
        BuilderConfig::File(cfg) => {
            let target = std::path::PathBuf::from(&cfg.target);
            let res = if !cfg.source.is_empty() {
                ui.say(&format!("Copying {} to {}", cfg.source, cfg.target));
                std::fs::copy(&cfg.source, &target).map(|_| ())
            } else {
                ui.say(&format!("Writing content to {}", cfg.target));
                std::fs::write(&target, &cfg.content)
            };
            res.map_err(|e| format!("writing {}: {e}", target.display()))?;
            Artifact::File(target)
        }
    };
    if shared.cancel.is_cancelled() {
        let _ = builder_artifact.destroy().await;
        return Err("Build was cancelled.".into());
    }
    let data = BuildData {
        build_name: build.name.clone(),
        builder_type: build.builder_kind.clone(),
        values: extra,
        ctx: base.clone(),
    };
    let env = post::PostEnv {
        ui: &ui,
        data: &data,
        run_uuid,
        force: opts.force,
        build_time: chrono::Utc::now().timestamp(),
        cancel: &shared.cancel,
    };
    let outcome = post::run_chains(&build.post_processors, builder_artifact, &env).await;
    if !outcome.errors.is_empty() {
        for e in &outcome.errors {
            ui.error(e);
        }
        return Err(outcome.errors.join("\n"));
    }
    Ok(outcome.artifacts)
}

/// Records the finished build's AMIs and snapshots as kept, in the ledger and with the tag
/// `rpack:complete=true`, so `rpack cleanup` never deletes the result of a successful build.
async fn mark_kept(a: &amazon_ebs::Artifact, ledger: &Ledger) {
    for (region, ami) in &a.amis {
        ledger.kept("image", ami, region);
        let snaps = a.snapshots.get(region).cloned().unwrap_or_default();
        for s in &snaps {
            ledger.kept("snapshot", s, region);
        }
        if let Some(aws) = &a.aws {
            let tag = aws_sdk_ec2::types::Tag::builder()
                .key(cleanup::COMPLETE_TAG)
                .value("true")
                .build();
            let res = aws
                .ec2(region)
                .create_tags()
                .resources(ami)
                .set_resources(Some(std::iter::once(ami.clone()).chain(snaps).collect()))
                .tags(tag)
                .send()
                .await;
            if let Err(e) = res {
                tracing::warn!(
                    "tagging {ami} in {region} as complete: {}",
                    aws_sdk_ec2::error::DisplayErrorContext(&e)
                );
            }
        }
    }
}
