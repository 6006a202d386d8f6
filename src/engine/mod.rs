//! The step engine: ordered steps over a typed build context, reverse cleanup of every entered
//! step (the failing one included) each under its own timeout, cancellation observed only at
//! wait points, and the ledger of every cloud id the build created.

pub mod ledger;
pub mod runner;
pub(crate) mod work_dir;

pub use ledger::{Ledger, LedgerEntry, LedgerEvent};
pub use runner::{
    AskDecision, AskHook, DebugHook, OnError, Outcome, RunError, Runner, RunnerOptions, Step,
    StepEnv,
};
