//! The variables an HCL2 body is evaluated with, and the evaluation contexts made from them.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

use hcl::eval::Context;
use hcl::Value;
use hcl_edit::expr::Expression;

use super::eval::{base_context, pick, var_local_reads};
use super::simple_eval::{simple, Root};

/// The variables every body sees (`var`, `local`, `path`, `packer`, `build`, ...). Values are
/// shared, so a scope with one more variable (`source` for each build) is cheap to make.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    vars: BTreeMap<String, Arc<Value>>,
}

impl Scope {
    pub(super) fn new(vars: BTreeMap<String, Value>) -> Scope {
        Scope {
            vars: vars.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        }
    }
    pub(super) fn insert(&mut self, k: &str, v: Value) {
        self.vars.insert(k.to_string(), Arc::new(v));
    }
    pub(crate) fn get(&self, k: &str) -> Option<&Value> {
        self.vars.get(k).map(|v| &**v)
    }
    pub(super) fn context(&self) -> Ctx {
        Ctx::with_vars(
            self.vars
                .iter()
                .filter(|(k, _)| k.as_str() != MULTI)
                .map(|(k, v)| (k.as_str(), Cow::Borrowed(&**v))),
        )
    }
    /// [`Scope::context`] for evaluating `exprs`: `var` and `local` hold only the attributes
    /// the expressions read (see [`var_local_reads`]).
    pub(super) fn context_for<'e>(&self, exprs: impl IntoIterator<Item = &'e Expression>) -> Ctx {
        let reads = var_local_reads(exprs);
        Ctx::with_vars(
            self.vars
                .iter()
                .filter(|(k, _)| k.as_str() != MULTI)
                .map(|(k, v)| {
                    let v = match (&reads, k.as_str(), &**v) {
                        (Some((vars, _)), "var", Value::Object(m)) => {
                            Cow::Owned(Value::Object(pick(m, vars)))
                        }
                        (Some((_, locals)), "local", Value::Object(m)) => {
                            Cow::Owned(Value::Object(pick(m, locals)))
                        }
                        (_, _, v) => Cow::Borrowed(v),
                    };
                    (k.as_str(), v)
                }),
        )
    }
    /// A context for evaluating `exprs` ([`Scope::context_for`]), made only if one of them needs
    /// the general evaluator.
    pub(super) fn lazy_context_for<'e>(&'e self, exprs: Vec<&'e Expression>) -> LazyCtx<'e> {
        LazyCtx {
            scope: self,
            make: Box::new(move || self.context_for(exprs.iter().copied())),
            ctx: OnceCell::new(),
        }
    }
    /// [`Scope::context`], made only if needed.
    pub(super) fn lazy_context(&self) -> LazyCtx<'_> {
        LazyCtx {
            scope: self,
            make: Box::new(|| self.context()),
            ctx: OnceCell::new(),
        }
    }
    /// A variable as expressions see it.
    fn root(&self, name: &str) -> Option<Root<'_>> {
        (name != MULTI)
            .then(|| self.get(name))
            .flatten()
            .map(Root::Value)
    }
    pub(super) fn with(&self, k: &str, v: Value) -> Scope {
        let mut s = self.clone();
        s.insert(k, v);
        s
    }
}

/// A scope's evaluation context, made on first use: values the direct evaluator
/// ([`simple`]) answers read the scope's variables in place and need none.
pub(crate) struct LazyCtx<'s> {
    scope: &'s Scope,
    make: Box<dyn Fn() -> Ctx + 's>,
    ctx: OnceCell<Ctx>,
}

impl LazyCtx<'_> {
    /// `expr`'s value when the direct evaluator answers it.
    pub(super) fn simple(&self, expr: &Expression) -> Option<Value> {
        simple(expr, &|n| self.scope.root(n))
    }
    /// The context, made now if it was not yet.
    pub(super) fn get(&self) -> &Context<'static> {
        self.ctx.get_or_init(|| (self.make)())
    }
}

/// A marker in the scope (never visible to expressions: not a valid identifier) saying the
/// template has several build blocks, so every provisioner is scoped with `only`.
pub(super) const MULTI: &str = " multi";

/// An evaluation context with rpack's functions (not `env()`) and a set of variables, taken from
/// a small per-thread pool and given back when dropped: a context that declared the same
/// variable names before only has the values that changed replaced. Copying the function table
/// (~130 definitions) and every variable for each of a large template's thousand evaluations,
/// and freeing them again, was a tenth of its `validate` time.
pub(crate) struct Ctx {
    spare: Option<Spare>,
}

/// A pooled context: its variables (sorted by name) with their values as declared, and the
/// context.
struct Spare {
    vars: Vec<(String, Value)>,
    ctx: Context<'static>,
}

/// How many contexts a thread keeps for reuse (a template's scopes declare a handful of
/// different variable sets).
const POOL: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
}

impl Ctx {
    /// A context declaring `vars` (and nothing else).
    pub(crate) fn with_vars<'v>(vars: impl IntoIterator<Item = (&'v str, Cow<'v, Value>)>) -> Ctx {
        let mut vars: Vec<(&str, Cow<'_, Value>)> = vars.into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(b.0));
        let same_names = |s: &Spare| {
            s.vars.len() == vars.len() && s.vars.iter().zip(&vars).all(|((n, _), (k, _))| n == k)
        };
        let reused = SPARE.with(|pool| {
            let mut pool = pool.borrow_mut();
            let i = pool.iter().position(same_names)?;
            Some(pool.swap_remove(i))
        });
        let spare = if let Some(mut s) = reused {
            for ((_, v), (k, old)) in vars.into_iter().zip(s.vars.iter_mut()) {
                if *old != *v {
                    *old = v.into_owned();
                    s.ctx.declare_var(k.as_str(), old.clone());
                }
            }
            s
        } else {
            let mut ctx = base_context(false);
            let vars: Vec<(String, Value)> = vars
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into_owned()))
                .collect();
            for (k, v) in &vars {
                ctx.declare_var(k.as_str(), v.clone());
            }
            Spare { vars, ctx }
        };
        Ctx { spare: Some(spare) }
    }
}

impl std::ops::Deref for Ctx {
    type Target = Context<'static>;
    fn deref(&self) -> &Context<'static> {
        &self.spare.as_ref().expect("present until dropped").ctx
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            SPARE.with(|pool| {
                if let Ok(mut pool) = pool.try_borrow_mut() {
                    if pool.len() < POOL {
                        pool.push(spare);
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval_in(ctx: &Ctx, src: &str) -> Result<Value, String> {
        let e: hcl::Expression = src.parse::<hcl::Expression>().map_err(|e| e.to_string())?;
        e.evaluate(ctx).map_err(|e| e.to_string())
    }

    #[test]
    fn a_reused_context_sees_only_the_new_variables_and_values() {
        let n = |i: i64| Cow::Owned(Value::from(i));
        {
            let ctx = Ctx::with_vars([("a", n(1)), ("b", n(2))]);
            assert_eq!(eval_in(&ctx, "a + b"), Ok(Value::from(3)));
        }
        // The same names: the pooled context, with the values replaced.
        let ctx = Ctx::with_vars([("b", n(20)), ("a", n(10))]);
        assert_eq!(eval_in(&ctx, "a + b"), Ok(Value::from(30)));
        // While it is in use, another context with the same names is a separate one.
        let other = Ctx::with_vars([("a", n(100)), ("b", n(200))]);
        assert_eq!(eval_in(&other, "a + b"), Ok(Value::from(300)));
        assert_eq!(eval_in(&ctx, "a + b"), Ok(Value::from(30)));
        drop((ctx, other));
        // Other names: `b` from the pooled contexts must not be visible.
        let ctx = Ctx::with_vars([("a", n(5))]);
        assert_eq!(eval_in(&ctx, "a"), Ok(Value::from(5)));
        assert!(
            eval_in(&ctx, "b").is_err(),
            "b leaked from a pooled context"
        );
        // The functions are there.
        assert_eq!(eval_in(&ctx, "upper(\"x\")"), Ok(Value::from("X")));
    }
}
