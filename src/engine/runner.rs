//! Runs an ordered list of [`Step`]s over one typed build context `C`.
//!
//! Contract (Packer's multistep, minus its leaks):
//! * steps run in order until one fails or the build is cancelled;
//! * then `cleanup` runs for every step that was *entered*, in reverse order, the failing one
//!   included, each under its own timeout ([`Step::cleanup_timeout`]); a cleanup error is reported
//!   and the next cleanup still runs;
//! * cancellation is a [`CancellationToken`] that steps observe only at wait points (polls, SSH
//!   connects, provisioning). A create call and the recording of its id in the context and the
//!   ledger are never separated by an await on the token;
//! * `-on-error=abort` skips cleanup after a failure (Packer's messages), `ask` asks a hook;
//!   `-debug` pauses after each step and before each cleanup through [`DebugHook`].

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ledger::Ledger;
use crate::ui::Ui;

/// How the build ended, as cleanups see it (an AMI is deleted again unless `Success`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed,
    Cancelled,
}

/// What a step sees besides the context.
pub struct StepEnv {
    pub ui: Arc<dyn Ui>,
    pub ledger: Arc<Ledger>,
    /// Cancelled on the first Ctrl-C/SIGTERM. Only wait points look at it.
    pub cancel: CancellationToken,
    /// Cancelled on the second signal: cleanups stop waiting and report what is still open.
    pub hard_cancel: CancellationToken,
}

/// One unit of a build that owns (at most) one resource.
#[async_trait::async_trait]
pub trait Step<C: Send>: Send + Sync {
    /// Packer's step name (`StepKeyPair`), used in `-on-error`/`-debug` messages.
    fn name(&self) -> &'static str;
    async fn run(&self, ctx: &mut C, env: &StepEnv) -> anyhow::Result<()>;
    /// Undo what `run` created. Called for every entered step, also when `run` failed half-way,
    /// so it must look at the context to see what exists.
    async fn cleanup(&self, _ctx: &mut C, _env: &StepEnv, _outcome: Outcome) -> anyhow::Result<()> {
        Ok(())
    }
    /// How long `cleanup` may take before the runner gives up on it and moves on.
    fn cleanup_timeout(&self) -> Duration {
        // Terminating an instance and waiting for it is the slowest cleanup on EC2 (a few
        // minutes on metal instances); 15 minutes bounds a stuck call without cutting a real one.
        Duration::from_secs(15 * 60)
    }
}

/// `-debug`: called after each step runs and before each cleanup. Returns when the user goes on.
#[async_trait::async_trait]
pub trait DebugHook: Send + Sync {
    async fn pause(&self, message: &str);
}

/// `-on-error=ask`: what to do after a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskDecision {
    Cleanup,
    Abort,
    Retry,
}

#[async_trait::async_trait]
pub trait AskHook: Send + Sync {
    async fn ask(&self, step: &str, error: &anyhow::Error) -> AskDecision;
}

/// `-on-error` modes.
#[derive(Clone, Default)]
pub enum OnError {
    #[default]
    Cleanup,
    Abort,
    Ask(Arc<dyn AskHook>),
}

#[derive(Clone, Default)]
pub struct RunnerOptions {
    pub on_error: OnError,
    pub debug: Option<Arc<dyn DebugHook>>,
}

/// Why a run did not succeed. Cleanup problems are listed but never replace the cause.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{error:#}")]
    StepFailed {
        step: &'static str,
        error: anyhow::Error,
        cleanup_errors: Vec<String>,
    },
    #[error("Build was cancelled.")]
    Cancelled { cleanup_errors: Vec<String> },
}

impl RunError {
    pub fn cleanup_errors(&self) -> &[String] {
        match self {
            RunError::StepFailed { cleanup_errors, .. }
            | RunError::Cancelled { cleanup_errors } => cleanup_errors,
        }
    }
}

pub struct Runner<C: Send> {
    steps: Vec<Box<dyn Step<C>>>,
    options: RunnerOptions,
}

impl<C: Send> Runner<C> {
    pub fn new(steps: Vec<Box<dyn Step<C>>>, options: RunnerOptions) -> Self {
        Runner { steps, options }
    }

    pub fn step_names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name()).collect()
    }

    /// Runs the steps, then cleans up. Cleanup errors are shown through the UI as they happen
    /// and also returned inside the error (or `Ok(cleanup_errors)` on success).
    pub async fn run(&self, ctx: &mut C, env: &StepEnv) -> Result<Vec<String>, RunError> {
        let mut entered = 0;
        let mut failure: Option<(&'static str, anyhow::Error)> = None;
        let mut i = 0;
        while i < self.steps.len() {
            if env.cancel.is_cancelled() {
                break;
            }
            let step = &self.steps[i];
            entered = i + 1;
            match step.run(ctx, env).await {
                Ok(()) => {
                    if let Some(d) = &self.options.debug {
                        d.pause(&format!(
                            "Pausing after run of step '{}'. Press enter to continue.",
                            step.name()
                        ))
                        .await;
                    }
                    i += 1;
                }
                Err(e) => {
                    if env.cancel.is_cancelled() {
                        break;
                    }
                    if let OnError::Ask(hook) = &self.options.on_error {
                        match hook.ask(step.name(), &e).await {
                            AskDecision::Retry => continue,
                            AskDecision::Abort => {
                                return Err(self.abort(step.name(), e, entered, env))
                            }
                            AskDecision::Cleanup => {}
                        }
                    }
                    if let OnError::Abort = &self.options.on_error {
                        return Err(self.abort(step.name(), e, entered, env));
                    }
                    failure = Some((step.name(), e));
                    break;
                }
            }
        }
        let outcome = if failure.is_some() {
            Outcome::Failed
        } else if env.cancel.is_cancelled() {
            Outcome::Cancelled
        } else {
            Outcome::Success
        };
        let cleanup_errors = self.cleanup(ctx, env, entered, outcome).await;
        match (failure, outcome) {
            (Some((step, error)), _) => Err(RunError::StepFailed {
                step,
                error,
                cleanup_errors,
            }),
            (None, Outcome::Cancelled) => Err(RunError::Cancelled { cleanup_errors }),
            _ => Ok(cleanup_errors),
        }
    }

    fn abort(
        &self,
        step: &'static str,
        error: anyhow::Error,
        entered: usize,
        env: &StepEnv,
    ) -> RunError {
        env.ui
            .error(&format!("Step \"{step}\" failed, aborting..."));
        for s in self.steps[..entered].iter().rev() {
            env.ui.say(&format!(
                "aborted: skipping cleanup of step \"{}\"",
                s.name()
            ));
        }
        RunError::StepFailed {
            step,
            error,
            cleanup_errors: Vec::new(),
        }
    }

    async fn cleanup(
        &self,
        ctx: &mut C,
        env: &StepEnv,
        entered: usize,
        outcome: Outcome,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for step in self.steps[..entered].iter().rev() {
            if let Some(d) = &self.options.debug {
                d.pause(&format!(
                    "Pausing before cleanup of step '{}'. Press enter to continue.",
                    step.name()
                ))
                .await;
            }
            let limit = step.cleanup_timeout();
            let res = tokio::select! {
                r = tokio::time::timeout(limit, step.cleanup(ctx, env, outcome)) => r,
                () = env.hard_cancel.cancelled() => {
                    let open: Vec<String> = env.ledger.open_resources().iter().map(|e| format!("{} {} ({})", e.kind, e.id, e.region)).collect();
                    let msg = format!(
                        "cleanup of step \"{}\" interrupted; still open: {}",
                        step.name(),
                        if open.is_empty() { "nothing recorded".to_string() } else { open.join(", ") }
                    );
                    env.ui.error(&msg);
                    errors.push(msg);
                    continue;
                }
            };
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let msg = format!("{e:#}");
                    env.ui.error(&msg);
                    errors.push(msg);
                }
                Err(_) => {
                    let msg = format!(
                        "cleanup of step \"{}\" timed out after {}",
                        step.name(),
                        crate::gocompat::time::duration_string(limit)
                    );
                    env.ui.error(&msg);
                    errors.push(msg);
                }
            }
        }
        errors
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ui::testing::Recording;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Ctx {
        log: Vec<String>,
        outcome: Option<Outcome>,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Behaviour {
        Ok,
        Fail,
        /// Waits until cancelled (a wait point), then fails like a cancelled wait does.
        WaitForCancel,
        /// Cleanup hangs longer than its timeout.
        SlowCleanup,
        FailCleanup,
    }

    struct Fake(&'static str, Behaviour);

    #[async_trait::async_trait]
    impl Step<Ctx> for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn run(&self, ctx: &mut Ctx, env: &StepEnv) -> anyhow::Result<()> {
            ctx.log.push(format!("run {}", self.0));
            match self.1 {
                Behaviour::Fail => anyhow::bail!("{} broke", self.0),
                Behaviour::WaitForCancel => {
                    env.cancel.cancelled().await;
                    anyhow::bail!("cancelled while waiting")
                }
                _ => Ok(()),
            }
        }
        async fn cleanup(
            &self,
            ctx: &mut Ctx,
            _env: &StepEnv,
            outcome: Outcome,
        ) -> anyhow::Result<()> {
            ctx.log.push(format!("cleanup {}", self.0));
            ctx.outcome = Some(outcome);
            match self.1 {
                Behaviour::SlowCleanup => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
                Behaviour::FailCleanup => anyhow::bail!("cleanup of {} failed", self.0),
                _ => Ok(()),
            }
        }
        fn cleanup_timeout(&self) -> Duration {
            Duration::from_millis(50)
        }
    }

    fn env() -> (StepEnv, Arc<Recording>) {
        let ui = Arc::new(Recording::new());
        (
            StepEnv {
                ui: ui.clone(),
                ledger: Arc::new(Ledger::in_memory("t")),
                cancel: CancellationToken::new(),
                hard_cancel: CancellationToken::new(),
            },
            ui,
        )
    }

    fn runner(steps: &[(&'static str, Behaviour)], options: RunnerOptions) -> Runner<Ctx> {
        Runner::new(
            steps
                .iter()
                .map(|(n, b)| Box::new(Fake(n, *b)) as Box<dyn Step<Ctx>>)
                .collect(),
            options,
        )
    }

    #[tokio::test]
    async fn runs_in_order_then_cleans_up_in_reverse() {
        let r = runner(
            &[
                ("a", Behaviour::Ok),
                ("b", Behaviour::Ok),
                ("c", Behaviour::Ok),
            ],
            Default::default(),
        );
        let (env, _) = env();
        let mut ctx = Ctx::default();
        r.run(&mut ctx, &env).await.unwrap();
        assert_eq!(
            ctx.log,
            [
                "run a",
                "run b",
                "run c",
                "cleanup c",
                "cleanup b",
                "cleanup a"
            ]
        );
        assert_eq!(ctx.outcome, Some(Outcome::Success));
    }

    #[tokio::test]
    async fn failure_cleans_up_every_entered_step_including_the_failed_one() {
        let r = runner(
            &[
                ("a", Behaviour::Ok),
                ("b", Behaviour::Fail),
                ("c", Behaviour::Ok),
            ],
            Default::default(),
        );
        let (env, _) = env();
        let mut ctx = Ctx::default();
        let err = r.run(&mut ctx, &env).await.unwrap_err();
        assert_eq!(ctx.log, ["run a", "run b", "cleanup b", "cleanup a"]);
        assert_eq!(ctx.outcome, Some(Outcome::Failed));
        match err {
            RunError::StepFailed { step, error, .. } => {
                assert_eq!(step, "b");
                assert_eq!(error.to_string(), "b broke");
            }
            other @ RunError::Cancelled { .. } => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn cancel_at_a_wait_point_cleans_up_and_reports_cancelled() {
        let r = runner(
            &[
                ("a", Behaviour::Ok),
                ("b", Behaviour::WaitForCancel),
                ("c", Behaviour::Ok),
            ],
            Default::default(),
        );
        let (env, _) = env();
        let cancel = env.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cancel.cancel();
        });
        let mut ctx = Ctx::default();
        let err = r.run(&mut ctx, &env).await.unwrap_err();
        assert!(matches!(err, RunError::Cancelled { .. }), "{err:?}");
        assert_eq!(ctx.log, ["run a", "run b", "cleanup b", "cleanup a"]);
        assert_eq!(ctx.outcome, Some(Outcome::Cancelled));
    }

    #[tokio::test]
    async fn cancel_before_start_runs_nothing() {
        let r = runner(&[("a", Behaviour::Ok)], Default::default());
        let (env, _) = env();
        env.cancel.cancel();
        let mut ctx = Ctx::default();
        assert!(matches!(
            r.run(&mut ctx, &env).await,
            Err(RunError::Cancelled { .. })
        ));
        assert!(ctx.log.is_empty());
    }

    #[tokio::test]
    async fn each_cleanup_has_its_own_timeout_and_errors_do_not_stop_the_rest() {
        let r = runner(
            &[
                ("a", Behaviour::Ok),
                ("b", Behaviour::FailCleanup),
                ("c", Behaviour::SlowCleanup),
                ("d", Behaviour::Fail),
            ],
            Default::default(),
        );
        let (env, ui) = env();
        let mut ctx = Ctx::default();
        let started = std::time::Instant::now();
        let err = r.run(&mut ctx, &env).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            ctx.log,
            [
                "run a",
                "run b",
                "run c",
                "run d",
                "cleanup d",
                "cleanup c",
                "cleanup b",
                "cleanup a"
            ]
        );
        assert_eq!(
            err.cleanup_errors(),
            [
                "cleanup of step \"c\" timed out after 50ms",
                "cleanup of b failed"
            ]
        );
        assert!(ui
            .lines()
            .contains(&"error: cleanup of b failed".to_string()));
    }

    #[tokio::test]
    async fn second_signal_stops_a_hanging_cleanup_and_lists_what_is_open() {
        struct Hang;
        #[async_trait::async_trait]
        impl Step<Ctx> for Hang {
            fn name(&self) -> &'static str {
                "hang"
            }
            async fn run(&self, _: &mut Ctx, env: &StepEnv) -> anyhow::Result<()> {
                env.ledger
                    .created(crate::aws::ResourceKind::Instance, "i-1", "r");
                anyhow::bail!("failed")
            }
            async fn cleanup(&self, _: &mut Ctx, _: &StepEnv, _: Outcome) -> anyhow::Result<()> {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        }
        let r = Runner::new(
            vec![Box::new(Hang) as Box<dyn Step<Ctx>>],
            Default::default(),
        );
        let (env, _) = env();
        let hard = env.hard_cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            hard.cancel();
        });
        let err = r.run(&mut Ctx::default(), &env).await.unwrap_err();
        assert_eq!(
            err.cleanup_errors(),
            ["cleanup of step \"hang\" interrupted; still open: instance i-1 (r)"]
        );
    }

    #[tokio::test]
    async fn on_error_abort_skips_cleanup_with_packers_messages() {
        let opts = RunnerOptions {
            on_error: OnError::Abort,
            debug: None,
        };
        let r = runner(&[("a", Behaviour::Ok), ("b", Behaviour::Fail)], opts);
        let (env, ui) = env();
        let mut ctx = Ctx::default();
        r.run(&mut ctx, &env).await.unwrap_err();
        assert_eq!(ctx.log, ["run a", "run b"]);
        assert_eq!(
            ui.lines(),
            [
                "error: Step \"b\" failed, aborting...",
                "say: aborted: skipping cleanup of step \"b\"",
                "say: aborted: skipping cleanup of step \"a\""
            ]
        );
    }

    struct Pauses(Mutex<Vec<String>>);
    #[async_trait::async_trait]
    impl DebugHook for Pauses {
        async fn pause(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
    }

    #[tokio::test]
    async fn debug_pauses_after_each_step_and_before_each_cleanup() {
        let pauses = Arc::new(Pauses(Mutex::new(Vec::new())));
        let opts = RunnerOptions {
            on_error: OnError::Cleanup,
            debug: Some(pauses.clone()),
        };
        let r = runner(&[("a", Behaviour::Ok), ("b", Behaviour::Ok)], opts);
        let (env, _) = env();
        r.run(&mut Ctx::default(), &env).await.unwrap();
        assert_eq!(
            *pauses.0.lock().unwrap(),
            [
                "Pausing after run of step 'a'. Press enter to continue.",
                "Pausing after run of step 'b'. Press enter to continue.",
                "Pausing before cleanup of step 'b'. Press enter to continue.",
                "Pausing before cleanup of step 'a'. Press enter to continue."
            ]
        );
    }

    struct AskRetryOnce(Mutex<u32>);
    #[async_trait::async_trait]
    impl AskHook for AskRetryOnce {
        async fn ask(&self, _: &str, _: &anyhow::Error) -> AskDecision {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            if *n == 1 {
                AskDecision::Retry
            } else {
                AskDecision::Cleanup
            }
        }
    }

    #[tokio::test]
    async fn on_error_ask_can_retry_then_clean_up() {
        let opts = RunnerOptions {
            on_error: OnError::Ask(Arc::new(AskRetryOnce(Mutex::new(0)))),
            debug: None,
        };
        let r = runner(&[("a", Behaviour::Fail)], opts);
        let (env, _) = env();
        let mut ctx = Ctx::default();
        r.run(&mut ctx, &env).await.unwrap_err();
        assert_eq!(ctx.log, ["run a", "run a", "cleanup a"]);
    }
}
