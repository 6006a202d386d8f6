//! Go's `text/template` built-ins over collections and comparisons: `len`, `index`, `slice`
//! and the `eq`/`lt`/`le` family, with Go's own error texts.

use std::borrow::Cow;
use std::rc::Rc;

use super::gofmt::{self, type_name};
use super::value::V;
use super::Value;

type R<'a> = Result<V<'a>, String>;

pub(super) fn len<'a>(v: &V<'a>) -> R<'a> {
    match v {
        V::Str(s) => Ok(V::Int(s.len() as i64)),
        // Go's reflection fails on a nil interface before its own checks run.
        V::NoValue | V::Nil => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        _ => match v.coll() {
            Some(Value::List(l)) => Ok(V::Int(l.len() as i64)),
            Some(Value::Map(m)) => Ok(V::Int(m.len() as i64)),
            _ => Err(format!("len of type {}", type_name(v))),
        },
    }
}

/// An index argument for a list or string of length `len` (`cap` for slicing).
fn index_arg(v: &V, cap: usize) -> Result<usize, String> {
    match v {
        V::Int(x) => {
            if *x < 0 || *x as u64 > cap as u64 {
                Err(format!("index out of range: {x}"))
            } else {
                Ok(*x as usize)
            }
        }
        V::NoValue | V::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            type_name(other)
        )),
    }
}

pub(super) fn index(mut args: Vec<V<'_>>) -> R<'_> {
    let rest = args.split_off(1);
    let mut item = args.pop().unwrap_or(V::NoValue);
    if matches!(item, V::NoValue | V::Nil) {
        return Err("index of untyped nil".into());
    }
    for ix in rest {
        item = match item {
            V::NoValue | V::Nil => return Err("index of nil pointer".into()),
            V::Str(s) => {
                let x = index_arg(&ix, s.len())?;
                if x == s.len() {
                    return Err(format!("index out of range: {x}"));
                }
                V::Int(i64::from(s.as_bytes()[x]))
            }
            V::Ref(c) => index_coll(c, &ix)?,
            // Values inside an owned collection must be owned as well.
            V::Own(rc) => index_coll(&rc, &ix)?.into_static(),
            other => return Err(format!("can't index item of type {}", type_name(&other))),
        };
    }
    Ok(item)
}

fn index_coll<'b>(c: &'b Value, ix: &V) -> Result<V<'b>, String> {
    match c {
        Value::List(l) => {
            let x = index_arg(ix, l.len())?;
            if x == l.len() {
                return Err(format!("index out of range: {x}"));
            }
            Ok(V::from_value(&l[x]))
        }
        Value::Map(m) => match ix {
            V::Str(k) => Ok(m.get(k.as_ref()).map_or(V::Nil, V::from_value)),
            V::NoValue | V::Nil => Err("value is nil; should be of type string".into()),
            other => Err(format!(
                "value has type {}; should be string",
                type_name(other)
            )),
        },
        other => Err(format!(
            "can't index item of type {}",
            type_name(&V::from_value(other))
        )),
    }
}

pub(super) fn slice(mut args: Vec<V<'_>>) -> R<'_> {
    let idx = args.split_off(1);
    let item = args.pop().unwrap_or(V::NoValue);
    if matches!(item, V::NoValue | V::Nil) {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let cap = match &item {
        V::Str(s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        _ => match item.coll() {
            Some(Value::List(l)) => l.len(),
            _ => return Err(format!("can't slice item of type {}", type_name(&item))),
        },
    };
    let mut ix = [0, cap, cap];
    for (i, v) in idx.iter().enumerate() {
        ix[i] = index_arg(v, cap)?;
    }
    if ix[0] > ix[1] {
        return Err(format!("invalid slice index: {} > {}", ix[0], ix[1]));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(format!("invalid slice index: {} > {}", ix[1], ix[2]));
    }
    match &item {
        V::Str(s) => {
            let bytes = &s.as_bytes()[ix[0]..ix[1]];
            Ok(V::Str(Cow::Owned(
                String::from_utf8_lossy(bytes).into_owned(),
            )))
        }
        _ => match item.coll() {
            Some(Value::List(l)) => Ok(V::Own(Rc::new(Value::List(l[ix[0]..ix[1]].to_vec())))),
            _ => Err(format!("can't slice item of type {}", type_name(&item))),
        },
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &V) -> BasicKind {
    match v {
        V::Bool(_) => BasicKind::Bool,
        V::Int(_) => BasicKind::Int,
        V::Float(_) => BasicKind::Float,
        V::Str(_) => BasicKind::Str,
        _ => BasicKind::Invalid,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

/// Go 1.18+ `eq` for one pair: nil compares unequal to anything but nil.
pub(super) fn eq(a: &V, b: &V) -> Result<bool, String> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    let a_nil = matches!(a, V::NoValue | V::Nil);
    let b_nil = matches!(b, V::NoValue | V::Nil);
    if ka != kb {
        if !a_nil && !b_nil {
            return Err(BAD_COMPARISON.into());
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        _ if a_nil || b_nil => a_nil == b_nil,
        _ => {
            let mut shown = String::new();
            gofmt::write_v(&mut shown, b);
            return Err(format!("non-comparable type {shown}: {}", type_name(b)));
        }
    })
}

pub(super) fn lt(a: &V, b: &V) -> Result<bool, String> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka == BasicKind::Invalid || kb == BasicKind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if ka != kb {
        return Err(BAD_COMPARISON.into());
    }
    match (a, b) {
        (V::Int(x), V::Int(y)) => Ok(x < y),
        (V::Float(x), V::Float(y)) => Ok(x < y),
        (V::Str(x), V::Str(y)) => Ok(x < y),
        _ => Err(BAD_COMPARISON_TYPE.into()),
    }
}

pub(super) fn le(a: &V, b: &V) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, b)
}
