//! Waiting for EC2 state changes, done well: the first poll comes soon, later polls back off
//! exponentially up to a cap, every wait has a total timeout whose error names the resource and
//! region, transient errors (throttling, 5xx, "not found yet") keep the wait going, and the
//! build's cancellation token is observed between polls (this is a wait point).
//!
//! Default schedule: the first poll at once (like the SDK waiters: a transition that already
//! happened costs no wait), then 250 ms, then ×1.5 per poll up to 15 s. A 5 s transition is seen
//! by the 7th poll at ≈5.2 s (≈0.2 s late); a 10-minute AMI costs ≈50 polls instead of hundreds.
//! Packer's knobs win when set: `aws_polling.delay_seconds` / `AWS_POLL_DELAY_SECONDS` make the
//! delay fixed, `aws_polling.max_attempts` / `AWS_MAX_ATTEMPTS` cap the number of polls.
//!
//! A wait for a transition the build itself just started (launch, stop, CreateImage, copy,
//! snapshot, termination) carries the build's [`Pace`]: it skips every poll of the schedule that
//! falls before the quickest transition this build has seen so far, polling first at that time
//! and then on the schedule's spacing from there (with nothing learned yet, or against an
//! endpoint whose transitions are instant, that is the default schedule). Launch-to-running,
//! the first wait of a build, is in practice EC2's quickest transition (a stop, an image or a
//! termination takes longer), so later waits save the polls they would have spent before it. A
//! paced wait never polls more often than the default schedule; it is late only when a
//! transition is quicker than every earlier one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::aws::error::AwsError;

/// The delay before the second poll (the first is immediate): soon enough that quick
/// transitions cost little time, late enough that a fresh id is usually visible to Describe*.
const FIRST_POLL: Duration = Duration::from_millis(250);
/// Growth per poll; 1.5 keeps a poll within ~20-50% of elapsed time while staying cheap.
const FACTOR: f64 = 1.5;
/// EC2's own waiters poll every 15 s; slower would only delay long waits.
const CAP: Duration = Duration::from_secs(15);
/// Delays at or above this are jittered (downwards by up to 15 %) so parallel builds spread
/// out; short early delays stay exact so quick transitions are seen promptly.
const JITTER_FROM: Duration = Duration::from_secs(4);

/// How one wait polls.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// `Some` = fixed delay between polls (Packer's `delay_seconds`).
    pub fixed_delay: Option<Duration>,
    /// `Some` = give up after this many polls (Packer's `max_attempts`).
    pub max_attempts: Option<u32>,
    /// Give up after this long in any case.
    pub timeout: Duration,
    /// `Some`: the wait is for a transition the build just started, paced by what the build
    /// has learned (see the module documentation). Ignored with a fixed delay.
    pub pace: Option<Pace>,
}

/// What one build has learned about how quickly EC2 completes the transitions it starts: the
/// shortest wait so far. Shared by the build's waits (clones share it).
#[derive(Debug, Clone, Default)]
pub struct Pace(Arc<Mutex<Option<Duration>>>);

impl Pace {
    /// The quickest transition seen, if any.
    pub fn quickest(&self) -> Option<Duration> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn observe(&self, took: Duration) {
        let mut q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *q = Some(q.map_or(took, |d| d.min(took)));
    }
}

/// Paces compare by what they learned (policies and configs compare in tests).
impl PartialEq for Pace {
    fn eq(&self, other: &Self) -> bool {
        self.quickest() == other.quickest()
    }
}

impl PollPolicy {
    pub fn new(timeout: Duration) -> Self {
        PollPolicy {
            fixed_delay: None,
            max_attempts: None,
            timeout,
            pace: None,
        }
    }

    /// The same policy for a transition the build just started, paced by `pace`.
    #[must_use]
    pub fn paced(mut self, pace: &Pace) -> Self {
        self.pace = Some(pace.clone());
        self
    }

    /// The first poll of a wait: the schedule index it stands for and its time from the start
    /// of the wait. Unpaced, with a fixed delay or with nothing learned yet: index 0, at once.
    /// Paced by a learned time: at that time, standing for the first schedule index at or
    /// after it (delays grow to the cap, so the search ends).
    fn first_poll(&self) -> (u32, Duration) {
        let learned = match (&self.pace, self.fixed_delay) {
            (Some(pace), None) => pace.quickest().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let (mut n, mut t) = (0, Duration::ZERO);
        while t < learned && t < self.timeout {
            n += 1;
            t += self.delay_before(n);
        }
        (n, learned.min(t))
    }

    /// The delay before poll number `n` (0-based), without jitter.
    pub fn delay_before(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        if let Some(d) = self.fixed_delay {
            return d;
        }
        let secs = FIRST_POLL.as_secs_f64() * FACTOR.powi(n as i32 - 1);
        Duration::from_secs_f64(secs.min(CAP.as_secs_f64()))
    }

    fn jittered(&self, d: Duration) -> Duration {
        if self.fixed_delay.is_some() || d < JITTER_FROM {
            return d;
        }
        d.mul_f64(rand::thread_rng().gen_range(0.85..=1.0))
    }
}

/// What one poll found.
pub enum Check<T> {
    /// The wait is over.
    Done(T),
    /// Not yet; the text is the current state (shown in a timeout error).
    Pending(String),
    /// The resource reached a state it will not leave (`failed`, `terminated`, …).
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {} waiting for {what} (last seen: {last})", crate::gocompat::time::duration_string(*after))]
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },
    #[error("cancelled while waiting for {what}")]
    Cancelled { what: String },
    #[error("waiting for {what}: {reason}")]
    Failed { what: String, reason: String },
    #[error(transparent)]
    Api(#[from] AwsError),
}

/// Polls `check` until it says done, the policy runs out or `cancel` fires.
/// `what` reads like "instance i-0abc to become running in us-east-1".
/// Transient API errors and not-found answers count as "pending".
pub async fn wait_for<T, F, Fut>(
    what: &str,
    policy: &PollPolicy,
    cancel: &CancellationToken,
    mut check: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    let started = tokio::time::Instant::now();
    let deadline = started + policy.timeout;
    let mut last = String::from("nothing yet");
    let (mut n, first) = policy.first_poll();
    let mut next_at = started + first;
    let mut polls = 0u32;
    loop {
        if policy.max_attempts.is_some_and(|max| polls >= max) {
            return Err(WaitError::Timeout {
                what: what.to_string(),
                after: started.elapsed(),
                last,
            });
        }
        let wake = next_at.max(tokio::time::Instant::now()).min(deadline);
        tokio::select! {
            () = cancel.cancelled() => return Err(WaitError::Cancelled { what: what.to_string() }),
            () = tokio::time::sleep_until(wake) => {}
        }
        polls += 1;
        match check().await {
            Ok(Check::Done(v)) => {
                // When the poll that saw it done went out (not when its answer came).
                if let Some(p) = &policy.pace {
                    p.observe(wake - started);
                }
                return Ok(v);
            }
            Ok(Check::Pending(state)) => last = state,
            Ok(Check::Failed(reason)) => {
                return Err(WaitError::Failed {
                    what: what.to_string(),
                    reason,
                })
            }
            Err(e) if e.is_transient() || e.is_not_found() => last = e.to_string(),
            Err(e) => return Err(WaitError::Api(e)),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(WaitError::Timeout {
                what: what.to_string(),
                after: started.elapsed(),
                last,
            });
        }
        // Poll times are counted from the start of the wait, not from the last answer, so slow
        // answers do not push every later poll back.
        n += 1;
        let delay = policy.jittered(policy.delay_before(n));
        next_at = if policy.fixed_delay.is_some() {
            tokio::time::Instant::now() + delay
        } else {
            next_at + delay
        };
    }
}

/// An error that may carry a service error code (what [`retry_codes`] looks at).
pub trait Coded {
    fn error_code(&self) -> Option<&str>;
}

impl Coded for AwsError {
    fn error_code(&self) -> Option<&str> {
        self.code()
    }
}

/// Retries `op` while it fails with one of `codes` (eventual consistency: an IAM profile not
/// yet visible to EC2, a group still in use by a terminating instance). Throttling and 5xx are
/// not retried here: the SDK's retry strategy already did. Observes no cancellation: callers
/// use it for create calls and cleanups.
pub async fn retry_codes<T, E, F, Fut>(codes: &[&str], total: Duration, op: F) -> Result<T, E>
where
    E: Coded,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let windows: Vec<(&str, Duration)> = codes.iter().map(|c| (*c, total)).collect();
    retry_codes_within(&windows, op).await
}

/// [`retry_codes`] with a window per code: an error with code `c` is retried while the time
/// since the first attempt stays within `c`'s window (200 ms doubling to 10 s between tries).
pub async fn retry_codes_within<T, E, F, Fut>(
    windows: &[(&str, Duration)],
    mut op: F,
) -> Result<T, E>
where
    E: Coded,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let window = windows
                    .iter()
                    .find(|(c, _)| e.error_code() == Some(*c))
                    .map_or(Duration::ZERO, |(_, w)| *w);
                if started.elapsed() + delay > window {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn default_schedule_sees_a_five_second_transition_within_seven_polls() {
        let p = PollPolicy::new(Duration::from_secs(600));
        let mut t = Duration::ZERO;
        let mut polls = 0;
        while t < Duration::from_secs(5) {
            t += p.delay_before(polls);
            polls += 1;
        }
        // An immediate poll, then 250 ms growing ×1.5: seen ≈0.2 s after it happened.
        assert_eq!(polls, 7);
        assert!(t < Duration::from_millis(5300), "{t:?}");
        assert_eq!(p.delay_before(0), Duration::ZERO);
        assert_eq!(p.delay_before(1), FIRST_POLL);
    }

    #[test]
    fn a_ten_minute_wait_costs_tens_of_polls_not_hundreds() {
        let p = PollPolicy::new(Duration::from_secs(3600));
        let mut t = Duration::ZERO;
        let mut polls = 0;
        while t < Duration::from_secs(600) {
            t += p.delay_before(polls);
            polls += 1;
        }
        assert!((40..=55).contains(&polls), "{polls}");
        assert_eq!(p.delay_before(100), CAP);
    }

    #[test]
    fn fixed_delay_wins() {
        let p = PollPolicy {
            fixed_delay: Some(Duration::from_secs(1)),
            max_attempts: Some(3),
            timeout: Duration::from_secs(60),
            pace: None,
        };
        assert_eq!(p.delay_before(0), Duration::ZERO);
        assert_eq!(p.delay_before(5), Duration::from_secs(1));
    }

    /// Runs a wait whose transition completes `takes` after it starts; returns the poll times.
    async fn polls_until_done(policy: &PollPolicy, takes: Duration) -> Vec<Duration> {
        let started = tokio::time::Instant::now();
        let times = std::sync::Mutex::new(Vec::new());
        wait_for("x", policy, &CancellationToken::new(), || {
            let at = started.elapsed();
            times.lock().unwrap().push(at);
            async move {
                Ok(if at >= takes {
                    Check::Done(())
                } else {
                    Check::Pending("pending".into())
                })
            }
        })
        .await
        .unwrap();
        times.into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_wait_learns_from_earlier_transitions_and_skips_the_polls_before() {
        let pace = Pace::default();
        let p = PollPolicy::new(Duration::from_secs(600)).paced(&pace);
        // Nothing learned yet: the default schedule.
        let first = polls_until_done(&p, Duration::from_secs(5)).await;
        assert_eq!(first.len(), 7, "{first:?}");
        assert_eq!(first[..2], [Duration::ZERO, FIRST_POLL]);
        let learned = pace.quickest().unwrap();
        // (tokio's timer rounds to the millisecond)
        let near = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_millis(5);
        assert!(near(learned, first[6]), "{learned:?} {first:?}");
        // The same transition again: one poll, at the learned time.
        let again = polls_until_done(&p, Duration::from_secs(5)).await;
        assert!(again.len() == 1 && near(again[0], learned), "{again:?}");
        // A slower one: then the schedule's spacing resumes from there (5.2 s, then ≈8.05 s).
        let slower = polls_until_done(&p, Duration::from_secs(7)).await;
        assert_eq!(slower.len(), 2, "{slower:?}");
        assert!(near(slower[0], learned), "{slower:?}");
        assert!(near(slower[1], learned + p.delay_before(7)), "{slower:?}");
        // A quicker one is seen late, at the learned time; the pace keeps the shortest wait.
        let quicker = polls_until_done(&p, Duration::from_secs(1)).await;
        assert!(
            quicker.len() == 1 && near(quicker[0], learned),
            "{quicker:?}"
        );
        assert_eq!(pace.quickest(), Some(learned));
        let p2 = PollPolicy::new(Duration::from_secs(600)).paced(&Pace::default());
        let quick = polls_until_done(&p2, Duration::from_millis(600)).await;
        assert_eq!(quick.len(), 3, "{quick:?}");
        let q = p2.pace.as_ref().unwrap().quickest().unwrap();
        assert!(near(q, quick[2]) && q < Duration::from_secs(1), "{q:?}");
        // An endpoint whose transitions are instant teaches zero: every wait polls at once.
        let p3 = PollPolicy::new(Duration::from_secs(600)).paced(&Pace::default());
        for _ in 0..2 {
            let instant = polls_until_done(&p3, Duration::ZERO).await;
            assert_eq!(instant, vec![Duration::ZERO]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn packers_fixed_delay_ignores_the_pace_and_unpaced_waits_poll_at_once() {
        let pace = Pace::default();
        pace.observe(Duration::from_secs(5));
        let fixed = PollPolicy {
            fixed_delay: Some(Duration::from_secs(2)),
            max_attempts: None,
            timeout: Duration::from_secs(60),
            pace: None,
        }
        .paced(&pace);
        let t = polls_until_done(&fixed, Duration::from_secs(3)).await;
        assert_eq!(
            t,
            vec![
                Duration::ZERO,
                Duration::from_secs(2),
                Duration::from_secs(4)
            ]
        );
        let unpaced =
            polls_until_done(&PollPolicy::new(Duration::from_secs(60)), Duration::ZERO).await;
        assert_eq!(unpaced, vec![Duration::ZERO]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_keep_waiting_and_done_returns() {
        let n = AtomicU32::new(0);
        let v = wait_for(
            "thing t-1 to be ready in r",
            &PollPolicy::new(Duration::from_secs(60)),
            &CancellationToken::new(),
            || {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    match i {
                        0 => Err(AwsError {
                            context: "describing".into(),
                            code: Some("RequestLimitExceeded".into()),
                            message: "slow down".into(),
                            encoded: None,
                        }),
                        1 => Ok(Check::Pending("pending".into())),
                        _ => Ok(Check::Done(42)),
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 42);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_names_the_resource_and_last_state() {
        let err = wait_for::<(), _, _>(
            "instance i-0abc to become running in us-east-1",
            &PollPolicy::new(Duration::from_secs(30)),
            &CancellationToken::new(),
            || async { Ok(Check::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        // Go's duration form, not Rust's `Debug` ("30.000412s").
        assert!(text.starts_with("timed out after 30s waiting"), "{text}");
        assert!(
            text.ends_with(
                "waiting for instance i-0abc to become running in us-east-1 (last seen: pending)"
            ),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn max_attempts_caps_polls() {
        let n = AtomicU32::new(0);
        let p = PollPolicy {
            fixed_delay: Some(Duration::from_secs(1)),
            max_attempts: Some(3),
            timeout: Duration::from_secs(600),
            pace: None,
        };
        let err = wait_for::<(), _, _>("x", &p, &CancellationToken::new(), || {
            n.fetch_add(1, Ordering::SeqCst);
            async { Ok(Check::Pending("p".into())) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::Timeout { .. }));
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_interrupts_the_wait_and_fatal_errors_end_it() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = wait_for::<(), _, _>(
            "image ami-1 to become available in r",
            &PollPolicy::new(Duration::from_secs(60)),
            &cancel,
            || async { Ok(Check::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cancelled while waiting for image ami-1 to become available in r"
        );
        let err = wait_for::<(), _, _>(
            "x",
            &PollPolicy::new(Duration::from_secs(60)),
            &CancellationToken::new(),
            || async {
                Err(AwsError {
                    context: "describing images in r".into(),
                    code: Some("AuthFailure".into()),
                    message: "no".into(),
                    encoded: None,
                })
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "describing images in r: AuthFailure: no");
    }

    fn coded(code: &str) -> AwsError {
        AwsError {
            context: "launching".into(),
            code: Some(code.into()),
            message: String::new(),
            encoded: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_code_is_retried_within_its_own_window() {
        // Two "slow" errors, then a "brief" one past its 1 s window: the third call is the last.
        let calls = AtomicU32::new(0);
        let windows = [
            ("Slow", Duration::from_secs(60)),
            ("Brief", Duration::from_secs(1)),
        ];
        let started = tokio::time::Instant::now();
        let r: Result<(), AwsError> = retry_codes_within(&windows, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { Err(coded(if n < 2 { "Slow" } else { "Brief" })) }
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Some("Brief"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() < Duration::from_secs(1));
        // An unlisted code is not retried at all.
        calls.store(0, Ordering::SeqCst);
        let r: Result<(), AwsError> = retry_codes_within(&windows, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(coded("Other")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
