//! The executor's run-time value [`V`]: what functions, `%v` printing and constants share. It
//! lives apart from the executor so that `funcs`, `gofmt` and `parse` do not import `exec`.

use std::borrow::Cow;
use std::rc::Rc;

use super::Value;

/// A run-time value. `NoValue` is Go's invalid `reflect.Value` (prints `<no value>`), `Nil` a
/// nil `interface{}` (prints `<nil>` when passed to a function).
#[derive(Debug, Clone)]
pub(crate) enum V<'a> {
    NoValue,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// A list or map borrowed from the dot data.
    Ref(&'a Value),
    /// A list or map made at run time (`slice`).
    Own(Rc<Value>),
}

impl<'a> V<'a> {
    pub(crate) fn from_value(v: &'a Value) -> V<'a> {
        match v {
            Value::Nil => V::Nil,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Int(*i),
            Value::Float(f) => V::Float(*f),
            Value::String(s) => V::Str(Cow::Borrowed(s)),
            Value::List(_) | Value::Map(_) => V::Ref(v),
        }
    }

    /// The list or map behind this value, if it is one.
    pub(crate) fn coll(&self) -> Option<&Value> {
        match self {
            V::Ref(v) => Some(v),
            V::Own(rc) => Some(rc),
            _ => None,
        }
    }

    /// Go's `isTrue`.
    pub(crate) fn truth(&self) -> bool {
        match self {
            V::NoValue | V::Nil => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::Ref(_) | V::Own(_) => match self.coll() {
                Some(Value::List(l)) => !l.is_empty(),
                Some(Value::Map(m)) => !m.is_empty(),
                _ => true,
            },
        }
    }

    /// Detaches the value from anything it borrows.
    pub(crate) fn into_static(self) -> V<'static> {
        match self {
            V::NoValue => V::NoValue,
            V::Nil => V::Nil,
            V::Bool(b) => V::Bool(b),
            V::Int(i) => V::Int(i),
            V::Float(f) => V::Float(f),
            V::Str(s) => V::Str(Cow::Owned(s.into_owned())),
            V::Ref(v) => V::Own(Rc::new(v.clone())),
            V::Own(rc) => V::Own(rc),
        }
    }
}
