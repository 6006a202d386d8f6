//! Executes a parsed template like Go's `text/template/exec.go`: dot and variables, field
//! chains on maps, pipelines with the previous value as final argument, `if`/`range`/`with`,
//! Go truthiness, the argument checks of Go's reflection-based calls and `<no value>` printing.

use std::borrow::Cow;

use super::funcs::{self, Func, P};
use super::gofmt::{self, type_name};
use super::parse::{Arg, ArgKind, Branch, Cmd, Node, Pipe, Tree};
use super::value::V;
use super::{Context, Value};

/// An execution error: message, byte offset of the node at fault, and Go's rendering of that
/// node (the `<…>` in `executing "root" at <…>`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExecError {
    pub msg: String,
    pub pos: usize,
    pub context: String,
}

type XResult<T> = Result<T, ExecError>;

/// Where a piece of output came from: text copied from `src` onwards, or an action at `src`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub out_start: usize,
    pub src: usize,
    pub text: bool,
}

/// Maps an offset in the output back to the source offset that produced it.
pub(crate) fn map_back(segs: &[Segment], pos: usize) -> usize {
    let i = segs.partition_point(|s| s.out_start <= pos);
    match i.checked_sub(1).map(|i| segs[i]) {
        Some(s) if s.text => s.src + (pos - s.out_start),
        Some(s) => s.src,
        None => 0,
    }
}

/// Runs `tree` with `ctx`, appending the output to `out`. With `rec` (the source text and a
/// list), records where each piece of output came from.
pub(crate) fn execute<'a>(
    tree: &'a Tree<'a>,
    ctx: &'a Context,
    out: &mut String,
    rec: Option<(&str, &mut Vec<Segment>)>,
) -> XResult<()> {
    let dot = match &ctx.data {
        None | Some(Value::Nil) => V::NoValue,
        Some(v) => V::from_value(v),
    };
    let mut ex = Exec {
        ctx,
        vars: vec![("$", dot.clone())],
        out,
        rec,
        at: None,
        root_struct: match (&ctx.data, &ctx.data_type) {
            (Some(v @ Value::Map(_)), Some(t)) => Some((v, t.as_str())),
            _ => None,
        },
    };
    ex.walk(&dot, &tree.root).map(|_| ())
}

/// How a list of nodes finished: normally, or at `{{break}}`/`{{continue}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a, 'o> {
    ctx: &'a Context,
    vars: Vec<(&'a str, V<'a>)>,
    out: &'o mut String,
    rec: Option<(&'o str, &'o mut Vec<Segment>)>,
    /// The node Go's `state.at` would point at: the last node evaluation started on.
    at: Option<At<'a>>,
    /// The dot data and its Go type when Packer's data is a struct (see `Context::data_type`).
    root_struct: Option<(&'a Value, &'a str)>,
}

/// A node an execution error can point at.
#[derive(Clone, Copy)]
enum At<'a> {
    Arg(&'a Arg<'a>),
    Pipe(&'a Pipe<'a>),
}

fn err(pos: usize, context: impl ToString, msg: String) -> ExecError {
    ExecError {
        msg,
        pos,
        context: context.to_string(),
    }
}

impl<'a> Exec<'a, '_> {
    /// An error at Go's current node.
    fn here(&self, msg: String) -> ExecError {
        match self.at {
            Some(At::Arg(a)) => err(a.pos, a, msg),
            Some(At::Pipe(p)) => err(p.pos, p, msg),
            None => err(0, "", msg),
        }
    }

    fn walk(&mut self, dot: &V<'a>, list: &'a [Node<'a>]) -> XResult<Flow> {
        for node in list {
            if let Some((src, segs)) = &mut self.rec {
                let out_start = self.out.len();
                match node {
                    Node::Text(t) => {
                        let src = t.as_ptr() as usize - src.as_ptr() as usize;
                        segs.push(Segment {
                            out_start,
                            src,
                            text: true,
                        });
                    }
                    Node::Action(pipe) => segs.push(Segment {
                        out_start,
                        src: pipe.pos,
                        text: false,
                    }),
                    _ => {}
                }
            }
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        match v {
                            V::NoValue | V::Nil => self.out.push_str("<no value>"),
                            V::Str(s) => self.out.push_str(&s),
                            v => gofmt::write_v(self.out, &v),
                        }
                    }
                }
                Node::If(b) | Node::With(b) => {
                    let flow = self.walk_if_or_with(dot, b, matches!(node, Node::With(_)))?;
                    if flow != Flow::Normal {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => {
                    if let Some(flow) = self.walk_range(dot, b)? {
                        return Ok(flow);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
            if self.out.len() > crate::limits::max_value() {
                return Err(self.here(format!(
                    "output grew past the {} MiB limit on a rendered value (set RPACK_MAX_VALUE_MIB to raise it)",
                    crate::limits::max_value() >> 20
                )));
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, dot: &V<'a>, b: &'a Branch<'a>, with: bool) -> XResult<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if val.truth() {
            if with {
                self.walk(&val, &b.list)?
            } else {
                self.walk(dot, &b.list)?
            }
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    /// Returns the flow of an `else` list that ended in an outer range's break/continue.
    fn walk_range(&mut self, dot: &V<'a>, b: &'a Branch<'a>) -> XResult<Option<Flow>> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let top = self.vars.len();
        let mut iterated = false;
        match &val {
            V::NoValue | V::Nil => {}
            V::Ref(coll) => {
                let coll: &'a Value = coll;
                iterated = self.range_over(b, top, coll, V::from_value)?;
            }
            V::Own(rc) => {
                let rc = rc.clone();
                iterated = self.range_over(b, top, &rc, |v| V::from_value(v).into_static())?;
            }
            other => {
                let mut shown = String::new();
                gofmt::write_v(&mut shown, other);
                return Err(self.here(format!("range can't iterate over {shown}")));
            }
        }
        if !iterated {
            if let Some(e) = &b.else_list {
                // A break/continue here belongs to an enclosing range.
                let flow = self.walk(dot, e)?;
                if flow != Flow::Normal {
                    self.vars.truncate(mark);
                    return Ok(Some(flow));
                }
            }
        }
        self.vars.truncate(mark);
        Ok(None)
    }

    /// Runs the body once per element; returns whether there was any.
    fn range_over<'c>(
        &mut self,
        b: &'a Branch<'a>,
        top: usize,
        coll: &'c Value,
        conv: impl Fn(&'c Value) -> V<'a>,
    ) -> XResult<bool> {
        let one = |ex: &mut Self, index: V<'a>, elem: V<'a>| -> XResult<Flow> {
            ex.set_range_vars(b, top, index, elem.clone())?;
            let flow = ex.walk(&elem, &b.list)?;
            ex.vars.truncate(top);
            Ok(flow)
        };
        match coll {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if one(self, V::Int(i as i64), conv(item))? == Flow::Break {
                        break;
                    }
                }
                Ok(!items.is_empty())
            }
            Value::Map(m) => {
                for (k, item) in m {
                    if one(self, V::Str(Cow::Owned(k.clone())), conv(item))? == Flow::Break {
                        break;
                    }
                }
                Ok(!m.is_empty())
            }
            _ => Ok(false),
        }
    }

    fn set_range_vars(
        &mut self,
        b: &'a Branch<'a>,
        top: usize,
        index: V<'a>,
        elem: V<'a>,
    ) -> XResult<()> {
        let decl = &b.pipe.decl;
        if decl.is_empty() {
            return Ok(());
        }
        if b.pipe.is_assign {
            // `range $x = …` assigns existing variables by name.
            let last = decl[decl.len() - 1];
            self.set_var(last, elem)?;
            if decl.len() > 1 {
                self.set_var(decl[0], index)?;
            }
            return Ok(());
        }
        self.vars[top - 1].1 = elem;
        if decl.len() > 1 {
            self.vars[top - 2].1 = index;
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: V<'a>) -> XResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.here(format!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, name: &str, arg: &Arg<'_>) -> XResult<V<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(err(arg.pos, arg, format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &V<'a>, pipe: &'a Pipe<'a>) -> XResult<V<'a>> {
        self.at = Some(At::Pipe(pipe));
        let mut value: Option<V<'a>> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // Go digs a value out of interface{}: a nil interface becomes "no value".
            value = Some(match v {
                V::Nil => V::NoValue,
                v => v,
            });
        }
        let v = value.unwrap_or(V::NoValue);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, v.clone())?;
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    fn not_a_function(&self, args: &[Arg<'_>], has_final: bool) -> XResult<()> {
        if args.len() > 1 || has_final {
            // Go prints a parenthesized pipeline without its parentheses here.
            let shown = match &args[0].kind {
                ArgKind::Pipe(p) => p.to_string(),
                _ => args[0].to_string(),
            };
            return Err(self.here(format!("can't give argument to non-function {shown}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &V<'a>,
        cmd: &'a Cmd<'a>,
        fin: Option<V<'a>>,
    ) -> XResult<V<'a>> {
        let first = &cmd.args[0];
        // Go points at the first word, except for a parenthesized pipeline (the enclosing
        // pipeline stays current).
        if !matches!(first.kind, ArgKind::Pipe(_)) {
            self.at = Some(At::Arg(first));
        }
        match &first.kind {
            ArgKind::Field(names) => self.eval_field_chain(dot.clone(), names, &cmd.args, fin),
            ArgKind::Chain(node, names) => {
                if matches!(node.kind, ArgKind::Nil) {
                    return Err(err(
                        first.pos,
                        first,
                        format!("indirection through explicit nil in {first}"),
                    ));
                }
                let recv = self.eval_raw(dot, node)?;
                self.eval_field_chain(recv, names, &cmd.args, fin)
            }
            ArgKind::Ident(f, name) => {
                self.eval_function(dot, *f, name, first, &cmd.args[1..], fin, Some(cmd))
            }
            ArgKind::Pipe(p) => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                self.eval_pipeline(dot, p)
            }
            ArgKind::Variable(name, fields) => {
                let value = self.var_value(name, first)?;
                if fields.is_empty() {
                    self.not_a_function(&cmd.args, fin.is_some())?;
                    return Ok(value);
                }
                self.eval_field_chain(value, fields, &cmd.args, fin)
            }
            ArgKind::Bool(b) => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                Ok(V::Bool(*b))
            }
            ArgKind::Dot => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                Ok(dot.clone())
            }
            ArgKind::Nil => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                Err(err(first.pos, first, "nil is not a command".into()))
            }
            ArgKind::Number(n) => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                n.ideal().map_err(|m| err(first.pos, first, m))
            }
            ArgKind::Str(s, _) => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                Ok(V::Str(Cow::Borrowed(s)))
            }
        }
    }

    /// Go's `evalFieldChain`: all but the last field without arguments, the last with them.
    fn eval_field_chain(
        &self,
        mut recv: V<'a>,
        names: &[&str],
        args: &[Arg<'_>],
        fin: Option<V<'a>>,
    ) -> XResult<V<'a>> {
        let n = names.len();
        for name in &names[..n - 1] {
            recv = self.eval_field(recv, name, false)?;
        }
        let has_args = args.len() > 1 || fin.is_some();
        self.eval_field(recv, names[n - 1], has_args)
    }

    /// Errors point at Go's current node: the last thing evaluated (the receiver's innermost
    /// term for `(…).X`), else the field node itself.
    fn eval_field(&self, recv: V<'a>, name: &str, has_args: bool) -> XResult<V<'a>> {
        let not_a_method = || self.here(format!("{name} is not a method but has arguments"));
        match recv {
            V::NoValue => Ok(V::NoValue),
            V::Nil => Err(self.here(format!("nil pointer evaluating interface {{}}.{name}"))),
            V::Ref(v @ Value::Map(m)) => {
                if let Some((_, ty)) = self.root_struct.filter(|(root, _)| std::ptr::eq(*root, v)) {
                    // A struct: fields are fixed and are not methods.
                    return match m.get(name) {
                        Some(_) if has_args => Err(self.here(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ))),
                        Some(field) => Ok(V::from_value(field)),
                        None => Err(self.here(format!("can't evaluate field {name} in type {ty}"))),
                    };
                }
                if has_args {
                    return Err(not_a_method());
                }
                Ok(m.get(name).map_or(V::NoValue, V::from_value))
            }
            V::Own(ref rc) if matches!(**rc, Value::Map(_)) => {
                if has_args {
                    return Err(not_a_method());
                }
                let Value::Map(m) = &**rc else { unreachable!() };
                Ok(m.get(name)
                    .map_or(V::NoValue, |v| V::from_value(v).into_static()))
            }
            other => Err(self.here(format!(
                "can't evaluate field {name} in type {}",
                type_name(&other)
            ))),
        }
    }

    /// Evaluates an argument without type checking (Go's `evalArg` with a nil type).
    fn eval_raw(&mut self, dot: &V<'a>, arg: &'a Arg<'a>) -> XResult<V<'a>> {
        self.at = Some(At::Arg(arg));
        match &arg.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => Ok(V::Nil),
            ArgKind::Bool(b) => Ok(V::Bool(*b)),
            ArgKind::Number(n) => n.ideal().map_err(|m| err(arg.pos, arg, m)),
            ArgKind::Str(s, _) => Ok(V::Str(Cow::Borrowed(s))),
            ArgKind::Field(names) => self.eval_field_chain(dot.clone(), names, &[], None),
            ArgKind::Variable(name, fields) => {
                let value = self.var_value(name, arg)?;
                if fields.is_empty() {
                    return Ok(value);
                }
                self.eval_field_chain(value, fields, &[], None)
            }
            ArgKind::Ident(f, name) => self.eval_function(dot, *f, name, arg, &[], None, None),
            ArgKind::Pipe(p) => self.eval_pipeline(dot, p),
            ArgKind::Chain(node, names) => {
                if matches!(node.kind, ArgKind::Nil) {
                    return Err(err(
                        arg.pos,
                        arg,
                        format!("indirection through explicit nil in {arg}"),
                    ));
                }
                let recv = self.eval_raw(dot, node)?;
                self.eval_field_chain(recv, names, &[], None)
            }
        }
    }

    /// Go's `evalArg` for a parameter of type `p`.
    fn eval_arg(&mut self, dot: &V<'a>, p: P, arg: &'a Arg<'a>) -> XResult<V<'a>> {
        self.at = Some(At::Arg(arg));
        let found = |what: &str| err(arg.pos, arg, format!("expected {what}; found {arg}"));
        match (&arg.kind, p) {
            (ArgKind::Nil, P::Any) => Ok(V::Nil),
            (ArgKind::Nil, p) => Err(err(
                arg.pos,
                arg,
                format!("cannot assign nil to {}", p.go_name()),
            )),
            (ArgKind::Bool(b), P::Any) => Ok(V::Bool(*b)),
            (ArgKind::Bool(_), P::Str) => Err(found("string")),
            (ArgKind::Bool(_), P::Int) => Err(found("integer")),
            (ArgKind::Number(n), P::Any) => n.ideal().map_err(|m| err(arg.pos, arg, m)),
            (ArgKind::Number(n), P::Int) => n.int.map(V::Int).ok_or_else(|| found("integer")),
            (ArgKind::Number(_), P::Str) => Err(found("string")),
            (ArgKind::Str(s, _), P::Any | P::Str) => Ok(V::Str(Cow::Borrowed(s))),
            (ArgKind::Str(..), P::Int) => Err(found("integer")),
            _ => {
                let v = self.eval_raw(dot, arg)?;
                validate(v, p, arg.pos, arg)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_function(
        &mut self,
        dot: &V<'a>,
        f: Func,
        name: &str,
        ident: &'a Arg<'a>,
        args: &'a [Arg<'a>],
        fin: Option<V<'a>>,
        cmd: Option<&Cmd<'_>>,
    ) -> XResult<V<'a>> {
        self.at = Some(At::Arg(ident));
        let sig = f.sig();
        let num_in = args.len() + usize::from(fin.is_some());
        if sig.variadic.is_some() {
            if num_in < sig.fixed.len() {
                return Err(err(
                    ident.pos,
                    ident,
                    format!(
                        "wrong number of args for {name}: want at least {} got {}",
                        sig.fixed.len(),
                        args.len()
                    ),
                ));
            }
        } else if num_in != sig.fixed.len() {
            return Err(err(
                ident.pos,
                ident,
                format!(
                    "wrong number of args for {name}: want {} got {num_in}",
                    sig.fixed.len()
                ),
            ));
        }
        if matches!(f, Func::And | Func::Or) {
            // Go 1.18+: stop at the first argument that decides the result.
            let want = f == Func::Or;
            let mut v = V::NoValue;
            for a in args {
                v = self.eval_arg(dot, P::Any, a)?;
                if v.truth() == want {
                    return Ok(v);
                }
            }
            if let Some(fv) = fin {
                v = validate(fv, P::Any, ident.pos, ident)?;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, f.param(i), a)?);
        }
        if let Some(fv) = fin {
            argv.push(validate(fv, f.param(args.len()), ident.pos, ident)?);
        }
        funcs::call(f, self.ctx, argv).map_err(|m| {
            let msg = format!("error calling {name}: {m}");
            match cmd {
                Some(c) => err(c.pos, c, msg),
                None => err(ident.pos, ident, msg),
            }
        })
    }
}

/// Go's `validateType` for values computed at run time.
fn validate<'a>(v: V<'a>, p: P, pos: usize, node: &Arg<'_>) -> XResult<V<'a>> {
    match (p, &v) {
        (P::Any, V::NoValue) => Ok(V::Nil),
        (P::Any, _) | (P::Str, V::Str(_)) | (P::Int, V::Int(_)) => Ok(v),
        (_, V::NoValue) => Err(err(
            pos,
            node,
            format!("invalid value; expected {}", p.go_name()),
        )),
        (_, V::Nil) => Err(err(
            pos,
            node,
            format!(
                "wrong type for value; expected {}; got interface {{}}",
                p.go_name()
            ),
        )),
        (_, other) => Err(err(
            pos,
            node,
            format!(
                "wrong type for value; expected {}; got {}",
                p.go_name(),
                type_name(other)
            ),
        )),
    }
}
