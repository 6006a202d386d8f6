//! Word wrapping exactly like `github.com/mitchellh/go-wordwrap` (what Packer's diagnostics
//! writer uses at 80 columns), so long error details break where Packer breaks them.

/// Wraps `s` at `lim` characters, breaking only at whitespace and keeping existing newlines.
pub fn wrap_string(s: &str, lim: usize) -> String {
    let mut buf = String::with_capacity(s.len() + 8);
    let mut current = 0usize;
    let mut word = String::new();
    let mut space = String::new();
    let (mut word_len, mut space_len) = (0usize, 0usize);
    for c in s.chars() {
        if c == '\n' {
            if word.is_empty() {
                if current + space_len <= lim {
                    buf.push_str(&space);
                }
            } else {
                buf.push_str(&space);
                buf.push_str(&word);
                word.clear();
                word_len = 0;
            }
            space.clear();
            space_len = 0;
            buf.push('\n');
            current = 0;
        } else if c.is_whitespace() && c != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space_len + word_len;
                buf.push_str(&space);
                buf.push_str(&word);
                space.clear();
                space_len = 0;
                word.clear();
                word_len = 0;
            }
            space.push(c);
            space_len += 1;
        } else {
            word.push(c);
            word_len += 1;
            if current + space_len + word_len > lim && word_len < lim {
                buf.push('\n');
                current = 0;
                space.clear();
                space_len = 0;
            }
        }
    }
    if word.is_empty() {
        if current + space_len <= lim {
            buf.push_str(&space);
        }
    } else {
        buf.push_str(&space);
        buf.push_str(&word);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_packer_diagnostics() {
        let detail =
            "error initializing builder '{{upper `tubes`}}': Unknown builder {{upper `tubes`}}";
        assert_eq!(
            wrap_string(detail, 80),
            "error initializing builder '{{upper `tubes`}}': Unknown builder {{upper\n`tubes`}}"
        );
        let keep = "1 error occurred:\n\t* required variable not set: x\n\n";
        assert_eq!(wrap_string(keep, 80), keep);
    }
}
