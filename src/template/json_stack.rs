//! Room on the stack for the recursive JSON parser: a document nested deeper than any caller's
//! stack is sure to hold is parsed on a thread of its own with a 64 MiB stack.

/// Runs `parse` (which recurses once per nesting level) on a thread with room for
/// [`super::json::MAX_DEPTH`] levels when `src` nests deeper than any caller's stack is sure to hold.
pub(crate) fn on_deep_stack<T: Send>(src: &str, parse: impl FnOnce() -> T + Send) -> T {
    if max_nesting(src.as_bytes()) <= 256 {
        return parse();
    }
    let job = std::sync::Mutex::new(Some(parse));
    let ran = std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                let f = job.lock().ok().and_then(|mut j| j.take());
                f.map(|f| f())
            });
        match thread {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        }
    });
    match ran {
        Some(out) => out,
        // No thread to be had: parse here; the parser still stops at MAX_DEPTH.
        None => match job.into_inner().ok().flatten() {
            Some(f) => f(),
            None => unreachable!("the job runs once"),
        },
    }
}

/// The deepest `[`/`{` nesting outside strings (a cheap linear pre-scan; it may overcount on
/// malformed input, which only costs a thread).
fn max_nesting(src: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in src {
        if in_str {
            match b {
                _ if esc => esc = false,
                b'\\' => esc = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
