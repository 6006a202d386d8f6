//! Small Go formats Packer's output shows: `fmt.Sprintf` with two `%s`, `encoding/json`'s HTML
//! escaping, go-multierror's list and `os.Stat`'s error text.

use std::path::Path;

/// Go's `fmt.Sprintf(format, a, b)` for formats with `%s` verbs (Packer's env var formats).
pub(crate) fn sprintf2(format: &str, a: &str, b: &str) -> String {
    let mut out = String::new();
    let mut args = [a, b].into_iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('s') => out.push_str(args.next().unwrap_or("%!s(MISSING)")),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029; Packer's manifest shows that.
pub(crate) fn json_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Go-multierror's list format (`1 error occurred:\n\t* …\n\n`).
pub fn multierror<S: AsRef<str>>(items: &[S]) -> String {
    if items.len() == 1 {
        return format!("1 error occurred:\n\t* {}\n\n", items[0].as_ref());
    }
    let points: Vec<String> = items.iter().map(|e| format!("* {}", e.as_ref())).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        items.len(),
        points.join("\n\t")
    )
}

/// Go's `os.Stat` error text: `stat <path>: no such file or directory`.
pub(crate) fn stat_error(path: &Path, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    };
    format!("stat {}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_matches_encoding_json() {
        assert_eq!(json_escape("a<b>&c"), "a\\u003cb\\u003e\\u0026c");
    }

    #[test]
    fn sprintf2_fills_two_strings() {
        assert_eq!(sprintf2("%s='%s'", "A", "b"), "A='b'");
        assert_eq!(sprintf2("%s %s %s", "A", "b"), "A b %!s(MISSING)");
        assert_eq!(sprintf2("100%% %d", "A", "b"), "100% %d");
    }

    #[test]
    fn multierror_lists_like_go_multierror() {
        assert_eq!(multierror(&["x"]), "1 error occurred:\n\t* x\n\n");
        assert_eq!(
            multierror(&["x", "y"]),
            "2 errors occurred:\n\t* x\n\t* y\n\n"
        );
    }
}
