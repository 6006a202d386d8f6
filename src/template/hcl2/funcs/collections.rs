//! Collection functions (lists, maps, sets) and the type conversion functions.

use hcl::eval::FuncArgs;
use hcl::{Map, Value};

use super::{args, list, num, number, object, string, type_name, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("merge", merge),
    ("concat", concat),
    ("flatten", flatten),
    ("contains", contains),
    ("lookup", lookup),
    ("element", element),
    ("keys", keys),
    ("values", values),
    ("length", length),
    ("coalesce", coalesce),
    ("coalescelist", coalescelist),
    ("compact", compact),
    ("distinct", distinct),
    ("sort", sort),
    ("reverse", reverse),
    ("index", index),
    ("slice", slice),
    ("range", range),
    ("zipmap", zipmap),
    ("chunklist", chunklist),
    ("alltrue", alltrue),
    ("anytrue", anytrue),
    ("sum", sum),
    ("setunion", setunion),
    ("setintersection", setintersection),
    ("tostring", tostring),
    ("tonumber", tonumber),
    ("tobool", tobool),
    ("tolist", tolist),
    ("toset", toset),
    ("tomap", tomap),
];

fn merge(a: FuncArgs) -> R {
    let mut out = Map::new();
    for v in a.into_values() {
        if v == Value::Null {
            continue;
        }
        for (k, x) in object(&v)? {
            out.insert(k, x);
        }
    }
    Ok(Value::Object(out))
}

fn concat(a: FuncArgs) -> R {
    let mut out = Vec::new();
    for v in a.into_values() {
        out.extend(list(&v)?);
    }
    Ok(Value::Array(out))
}

fn flat_into(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.into_iter().for_each(|x| flat_into(x, out)),
        o => out.push(o),
    }
}

fn flatten(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    list(&v[0])?;
    let mut out = Vec::new();
    flat_into(v[0].clone(), &mut out);
    Ok(Value::Array(out))
}

fn contains(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    Ok(Value::Bool(list(&v[0])?.contains(&v[1])))
}

fn lookup(a: FuncArgs) -> R {
    let v = args(a, 2, 3)?;
    let m = object(&v[0])?;
    let k = string(&v[1])?;
    match (m.get(&k), v.get(2)) {
        (Some(x), _) => Ok(x.clone()),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(format!("the given key \"{k}\" does not exist in the map")),
    }
}

fn element(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let l = list(&v[0])?;
    if l.is_empty() {
        return Err("cannot use element function with an empty list".into());
    }
    let i = number(&v[1])? as i64;
    if i < 0 {
        return Err("cannot use element function with a negative index".into());
    }
    Ok(l[i as usize % l.len()].clone())
}

fn keys(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let mut k: Vec<String> = object(&v[0])?.keys().cloned().collect();
    k.sort();
    Ok(Value::Array(k.into_iter().map(Value::String).collect()))
}

fn values(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let mut o: Vec<(String, Value)> = object(&v[0])?.into_iter().collect();
    o.sort_by(|x, y| x.0.cmp(&y.0));
    Ok(Value::Array(o.into_iter().map(|(_, v)| v).collect()))
}

fn length(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let n = match &v[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(l) => l.len(),
        Value::Object(o) => o.len(),
        o => {
            return Err(format!(
                "argument must be a string, a collection type, or a structural type, got {}",
                type_name(o)
            ))
        }
    };
    Ok(num(n as f64))
}

fn coalesce(a: FuncArgs) -> R {
    for v in a.into_values() {
        match &v {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            _ => return Ok(v),
        }
    }
    Err("no non-null, non-empty-string arguments".into())
}

fn coalescelist(a: FuncArgs) -> R {
    for v in a.into_values() {
        if !list(&v)?.is_empty() {
            return Ok(v);
        }
    }
    Err("no non-null arguments".into())
}

fn compact(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::Array(
        list(&v[0])?
            .into_iter()
            .filter(|x| !matches!(x, Value::Null) && !matches!(x, Value::String(s) if s.is_empty()))
            .collect(),
    ))
}

fn dedup(l: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for x in l {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn distinct(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::Array(dedup(list(&v[0])?)))
}

fn sort(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let mut l = list(&v[0])?
        .iter()
        .map(string)
        .collect::<Result<Vec<_>, _>>()?;
    l.sort();
    Ok(Value::Array(l.into_iter().map(Value::String).collect()))
}

fn reverse(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let mut l = list(&v[0])?;
    l.reverse();
    Ok(Value::Array(l))
}

fn index(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    list(&v[0])?
        .iter()
        .position(|x| *x == v[1])
        .map(|i| num(i as f64))
        .ok_or_else(|| "item not found".to_string())
}

fn slice(a: FuncArgs) -> R {
    let v = args(a, 3, 3)?;
    let l = list(&v[0])?;
    let (s, e) = (number(&v[1])? as i64, number(&v[2])? as i64);
    if s < 0 || e > l.len() as i64 || s > e {
        return Err(format!(
            "invalid slice indices {s}..{e} for a list of length {}",
            l.len()
        ));
    }
    Ok(Value::Array(l[s as usize..e as usize].to_vec()))
}

fn range(a: FuncArgs) -> R {
    let v = args(a, 1, 3)?;
    let n: Vec<f64> = v.iter().map(number).collect::<Result<_, _>>()?;
    let (start, end, step) = match n.len() {
        1 => (0.0, n[0], 1.0),
        2 => (n[0], n[1], if n[1] >= n[0] { 1.0 } else { -1.0 }),
        _ => (n[0], n[1], n[2]),
    };
    if step == 0.0 {
        return Err("step must not be zero".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        if out.len() >= 1024 {
            return Err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step".into());
        }
        out.push(num(x));
        x += step;
    }
    Ok(Value::Array(out))
}

fn zipmap(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let (k, vals) = (list(&v[0])?, list(&v[1])?);
    if k.len() != vals.len() {
        return Err("number of keys and values must match".into());
    }
    let mut o = Map::new();
    for (k, v) in k.iter().zip(vals) {
        o.insert(string(k)?, v);
    }
    Ok(Value::Object(o))
}

fn chunklist(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let l = list(&v[0])?;
    let n = number(&v[1])? as usize;
    if n == 0 {
        return Ok(Value::Array(vec![Value::Array(l)]));
    }
    Ok(Value::Array(
        l.chunks(n).map(|c| Value::Array(c.to_vec())).collect(),
    ))
}

fn bools(a: FuncArgs) -> Result<Vec<bool>, String> {
    let v = args(a, 1, 1)?;
    list(&v[0])?.iter().map(to_bool).collect()
}
fn alltrue(a: FuncArgs) -> R {
    Ok(Value::Bool(bools(a)?.iter().all(|b| *b)))
}
fn anytrue(a: FuncArgs) -> R {
    Ok(Value::Bool(bools(a)?.iter().any(|b| *b)))
}
fn sum(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let l = list(&v[0])?;
    if l.is_empty() {
        return Err("cannot sum an empty list".into());
    }
    Ok(num(l.iter().map(number).sum::<Result<f64, _>>()?))
}
fn setunion(a: FuncArgs) -> R {
    let mut out = Vec::new();
    for v in a.into_values() {
        out.extend(list(&v)?);
    }
    Ok(Value::Array(dedup(out)))
}
fn setintersection(a: FuncArgs) -> R {
    let v = a.into_values();
    let Some(first) = v.first() else {
        return Err("at least one set is required".into());
    };
    let mut out = dedup(list(first)?);
    for s in &v[1..] {
        let s = list(s)?;
        out.retain(|x| s.contains(x));
    }
    Ok(Value::Array(out))
}

pub(crate) fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        o => Err(format!("a bool is required, got {}", type_name(o))),
    }
}
fn tostring(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    match &v[0] {
        Value::Null => Ok(Value::Null),
        x => Ok(Value::String(string(x)?)),
    }
}
fn tonumber(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    match &v[0] {
        Value::Null => Ok(Value::Null),
        x => Ok(num(number(x)?)),
    }
}
fn tobool(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    match &v[0] {
        Value::Null => Ok(Value::Null),
        x => Ok(Value::Bool(to_bool(x)?)),
    }
}
fn tolist(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::Array(list(&v[0])?))
}
fn toset(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::Array(dedup(list(&v[0])?)))
}
fn tomap(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::Object(object(&v[0])?))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(
            j(r#"merge({a="b", c="d"}, {e="f", c="z"})"#),
            r#"{"a":"b","c":"z","e":"f"}"#
        );
        assert_eq!(j(r#"concat(["a", ""], ["b", "c"])"#), r#"["a","","b","c"]"#);
        assert_eq!(j(r#"flatten([["a", "b"], [], ["c"]])"#), r#"["a","b","c"]"#);
        assert_eq!(
            j(r#"flatten([[["a", "b"], []], ["c"]])"#),
            r#"["a","b","c"]"#
        );
        assert_eq!(j(r#"contains(["a", "b", "c"], "a")"#), "true");
        assert_eq!(j(r#"contains(["a", "b", "c"], "d")"#), "false");
        assert_eq!(j(r#"lookup({a="ay", b="bee"}, "a", "what?")"#), r#""ay""#);
        assert_eq!(
            j(r#"lookup({a="ay", b="bee"}, "c", "what?")"#),
            r#""what?""#
        );
        assert!(j(r#"lookup({a="ay"}, "c")"#).starts_with("ERR"));
        assert_eq!(j(r#"element(["a", "b", "c"], 3)"#), r#""a""#);
        assert_eq!(j(r"keys({a=1, c=2, d=3})"), r#"["a","c","d"]"#);
        assert_eq!(j(r"values({a=3, c=2, d=1})"), "[3,2,1]");
        assert_eq!(j(r"length([])"), "0");
        assert_eq!(j(r#"length({"key" = "val"})"#), "1");
        assert_eq!(j(r#"length("hello")"#), "5");
        assert_eq!(j(r#"coalesce("", "b")"#), r#""b""#);
        assert_eq!(j(r"coalesce(1, 2)"), "1");
        assert_eq!(j(r#"coalescelist([], ["c", "d"])"#), r#"["c","d"]"#);
        assert_eq!(
            j(r#"compact(["a", "", "b", null, "c"])"#),
            r#"["a","b","c"]"#
        );
        assert_eq!(
            j(r#"distinct(["a", "b", "a", "c", "d", "b"])"#),
            r#"["a","b","c","d"]"#
        );
        assert_eq!(j(r#"sort(["e", "d", "a", "x"])"#), r#"["a","d","e","x"]"#);
        assert_eq!(j(r"reverse([1, 2, 3])"), "[3,2,1]");
        assert_eq!(j(r#"index(["a", "b", "c"], "b")"#), "1");
        assert_eq!(j(r#"slice(["a", "b", "c", "d"], 1, 3)"#), r#"["b","c"]"#);
        assert_eq!(j(r"range(3)"), "[0,1,2]");
        assert_eq!(j(r"range(1, 4)"), "[1,2,3]");
        assert_eq!(j(r"range(4, 1)"), "[4,3,2]");
        assert_eq!(j(r"range(0, 10, 5)"), "[0,5]");
        assert_eq!(j(r#"zipmap(["a", "b"], [1, 2])"#), r#"{"a":1,"b":2}"#);
        assert_eq!(
            j(r#"chunklist(["a", "b", "c"], 2)"#),
            r#"[["a","b"],["c"]]"#
        );
        assert_eq!(j(r#"alltrue(["true", true])"#), "true");
        assert_eq!(j(r"anytrue([false])"), "false");
        assert_eq!(j(r"sum([10, 13, 6, 4.5])"), "33.5");
        assert_eq!(j(r#"setunion(["a", "b"], ["b", "c"])"#), r#"["a","b","c"]"#);
        assert_eq!(j(r#"setintersection(["a", "b"], ["b", "c"])"#), r#"["b"]"#);
        assert_eq!(j(r"tostring(1)"), r#""1""#);
        assert_eq!(j(r#"tonumber("5")"#), "5");
        assert_eq!(j(r#"tobool("true")"#), "true");
        assert!(j(r#"tobool("no")"#).starts_with("ERR"));
        assert_eq!(j(r#"toset(["a", "b", "a"])"#), r#"["a","b"]"#);
    }
}
