//! The variables an HCL2 body is evaluated with, and the evaluation contexts made from them.

use std::collections::BTreeMap;

use hcl::eval::Context;
use hcl::Value;
use hcl_edit::expr::Expression;

use super::eval::{base_context, pick, var_local_reads};

/// The variables every body sees (`var`, `local`, `path`, `packer`, `build`, ...).
#[derive(Clone, Default)]
pub(crate) struct Scope {
    pub vars: BTreeMap<String, Value>,
}

impl Scope {
    pub(super) fn context(&self) -> Context<'static> {
        let mut ctx = base_context(false);
        for (k, v) in self.vars.iter().filter(|(k, _)| k.as_str() != MULTI) {
            ctx.declare_var(k.as_str(), v.clone());
        }
        ctx
    }
    /// [`Scope::context`] for evaluating `exprs`: `var` and `local` hold only the attributes
    /// the expressions read (see [`var_local_reads`]).
    pub(super) fn context_for<'e>(
        &self,
        exprs: impl IntoIterator<Item = &'e Expression>,
    ) -> Context<'static> {
        let reads = var_local_reads(exprs);
        let mut ctx = base_context(false);
        for (k, v) in self.vars.iter().filter(|(k, _)| k.as_str() != MULTI) {
            let v = match (&reads, k.as_str(), v) {
                (Some((vars, _)), "var", Value::Object(m)) => Value::Object(pick(m, vars)),
                (Some((_, locals)), "local", Value::Object(m)) => Value::Object(pick(m, locals)),
                _ => v.clone(),
            };
            ctx.declare_var(k.as_str(), v);
        }
        ctx
    }
    pub(super) fn with(&self, k: &str, v: Value) -> Scope {
        let mut s = self.clone();
        s.vars.insert(k.to_string(), v);
        s
    }
}

/// A marker in the scope (never visible to expressions: not a valid identifier) saying the
/// template has several build blocks, so every provisioner is scoped with `only`.
pub(super) const MULTI: &str = " multi";
