//! `rpack build`: runs every selected build of a checked template in parallel (bounded by
//! `-parallel-builds`), each through its builder, provisioners and post-processor chains, then
//! prints the artifacts like Packer. SIGINT/SIGTERM cancel all builds and clean up; a second
//! signal prints what is still open and exits at once.

mod job;
mod prompts;
pub(crate) mod provision;
pub(crate) mod signals;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::ledger::Ledger;
use crate::plan::Build;
use crate::template::interp::Context;
use crate::ui::build::{human_duration, BuildUi};

/// `-on-error` as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OnErrorFlag {
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
pub(crate) struct Options {
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
pub(crate) struct Shared {
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
pub(crate) fn run_blocking(
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
pub(crate) async fn run(
    builds: Vec<Build>,
    base: Context,
    opts: Options,
    ui: Arc<dyn crate::ui::Ui>,
    shared: Shared,
) -> i32 {
    run_collect(builds, base, opts, ui, shared).await.0
}

/// [`run`], also returning the artifacts of the builds that succeeded (for callers that use
/// them in-process, like `rpack platform create --local-build`).
pub(crate) async fn run_collect(
    builds: Vec<Build>,
    base: Context,
    opts: Options,
    ui: Arc<dyn crate::ui::Ui>,
    shared: Shared,
) -> (i32, Vec<Artifact>) {
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
        // Permits are taken here, in template order, so with -parallel-builds=N the builds
        // start in the order the template lists them (Packer's goroutines race for them).
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        let spinners = spinners.clone();
        let ui = ui.clone();
        let base = base.clone();
        let opts = opts.clone();
        let shared = shared.clone();
        let run_uuid = run_uuid.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
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
                // Boxed: the build future is large (~18 KB) and lives across the whole build.
                Box::pin(job::run_build(
                    &build,
                    &base,
                    &opts,
                    bui.clone(),
                    &shared,
                    &run_uuid,
                ))
                .await
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
        return (1, Vec::new());
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
    let code = i32::from(!errors.is_empty());
    (code, done.into_iter().flat_map(|f| f.artifacts).collect())
}
