//! How big a function's result could get, checked before the function runs: `printf`,
//! `replace` and `replace_all` can turn a few megabytes into gigabytes.

use super::funcs::{s, Func};
use super::gofmt;
use super::value::V;
use super::Value;

/// An upper bound on the size of what the functions that can multiply their input produce, so
/// a template cannot make one value of gigabytes from a few of megabytes.
pub(crate) fn result_bound(f: Func, args: &[V<'_>]) -> Option<usize> {
    fn size(v: &V<'_>) -> usize {
        match v {
            V::Str(s) => s.len(),
            V::Ref(v) => value_size(v),
            V::Own(v) => value_size(v),
            _ => 32,
        }
    }
    fn value_size(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len() + 2,
            Value::List(l) => l.iter().map(value_size).sum::<usize>() + l.len() + 2,
            Value::Map(m) => {
                m.iter()
                    .map(|(k, v)| k.len() + value_size(v) + 2)
                    .sum::<usize>()
                    + 5
            }
            _ => 32,
        }
    }
    match f {
        Func::Printf => {
            let format = s(&args[0]);
            let verbs = format.matches('%').count();
            let widest = args[1..].iter().map(size).max().unwrap_or(0);
            Some(format.len() + verbs.saturating_mul(widest.saturating_add(gofmt::MAX_WIDTH)))
        }
        Func::Replace | Func::ReplaceAll => {
            let (old, new, src) = if f == Func::Replace {
                (s(&args[0]), s(&args[1]), s(&args[3]))
            } else {
                (s(&args[0]), s(&args[1]), s(&args[2]))
            };
            if new.len() <= old.len() {
                return None;
            }
            let mut hits = if old.is_empty() {
                src.chars().count() + 1
            } else {
                src.matches(old).count()
            };
            if f == Func::Replace {
                if let V::Int(n) = args[2] {
                    if n >= 0 {
                        hits = hits.min(n as usize);
                    }
                }
            }
            Some(src.len() + hits.saturating_mul(new.len() - old.len()))
        }
        _ => None,
    }
}
