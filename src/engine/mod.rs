//! The step engine: ordered steps over a typed build context, reverse cleanup of every entered
//! step (the failing one included) each under its own timeout, cancellation observed only at
//! wait points. The ledger of every cloud id a build creates is `crate::ledger`.

pub mod runner;

pub use runner::{
    AskDecision, AskHook, DebugHook, OnError, Outcome, RunError, Runner, RunnerOptions, Step,
    StepEnv,
};
