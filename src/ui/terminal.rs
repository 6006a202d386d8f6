//! Text bound for a human's terminal, made inert: control characters (other than newline and
//! tab), a carriage return that does not end a line, C1 controls and the bidirectional
//! overrides are shown as `\u{…}` escapes. Templates and remote command output can hold any of
//! them; raw, they could clear the screen, rewrite earlier lines or reorder what is shown
//! (U+202E), or retitle the terminal window.

use std::borrow::Cow;

fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t' && c != '\r')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character escaped; borrowed when there is none.
pub(crate) fn safe(s: &str) -> Cow<'_, str> {
    let needs = s.char_indices().any(|(i, c)| {
        is_unsafe(c) || (c == '\r' && !matches!(s.as_bytes().get(i + 1), None | Some(b'\n')))
    });
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for (i, c) in s.char_indices() {
        let lone_cr = c == '\r' && !matches!(s.as_bytes().get(i + 1), None | Some(b'\n'));
        if is_unsafe(c) || lone_cr {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn controls_are_escaped_and_text_kept() {
        assert_eq!(safe("plain\ttext\nnext\r\n"), "plain\ttext\nnext\r\n");
        assert_eq!(safe("a\u{0}b\u{1b}[2Jc"), "a\\u{0}b\\u{1b}[2Jc");
        assert_eq!(safe("over\rwrite"), "over\\u{d}write");
        assert_eq!(safe("abc\u{202E}fed"), "abc\\u{202e}fed");
        assert_eq!(safe("é ✓ 日本"), "é ✓ 日本");
    }
}
