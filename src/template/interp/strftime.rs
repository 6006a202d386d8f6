//! `strftime` as Packer provides it (github.com/jehiah/go-strftime): C-style directives mapped
//! onto Go layout elements, unknown directives kept verbatim, always in UTC.

use super::golayout;

/// The Go layout element each supported directive stands for.
fn directive(c: u8) -> Option<&'static str> {
    Some(match c {
        b'a' => "Mon",
        b'A' => "Monday",
        b'b' => "Jan",
        b'B' => "January",
        b'd' => "02",
        b'H' => "15",
        b'I' => "03",
        b'm' => "01",
        b'M' => "04",
        b'p' => "PM",
        b'S' => "05",
        b'y' => "06",
        b'Y' => "2006",
        b'z' => "-0700",
        b'Z' => "MST",
        b'L' => ".000",
        _ => return None,
    })
}

/// Formats Unix seconds `secs` (UTC) with strftime directives.
pub(crate) fn format(fmt: &str, secs: i64) -> String {
    let b = fmt.as_bytes();
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut i = 0;
    while i < b.len() {
        let Some(off) = b[i..].iter().position(|&c| c == b'%') else {
            out.push_str(&fmt[i..]);
            break;
        };
        out.push_str(&fmt[i..i + off]);
        let at = i + off;
        match b.get(at + 1) {
            None => {
                out.push('%');
                break;
            }
            Some(&c) => {
                match c {
                    b'%' => out.push('%'),
                    b'j' => {
                        let day = golayout::format("002", secs);
                        out.push_str(&day);
                    }
                    c => {
                        if let Some(layout) = directive(c) {
                            out.push_str(&golayout::format(layout, secs));
                        } else {
                            // Unknown: keep "%" and the (possibly multi-byte) character.
                            let ch = fmt[at + 1..].chars().next().unwrap_or('%');
                            out.push('%');
                            out.push(ch);
                            i = at + 1 + ch.len_utf8();
                            continue;
                        }
                    }
                }
                i = at + 2;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2012-06-21 02:12:56 UTC (Thursday, day 173).
    const T: i64 = 1_340_244_776;

    #[test]
    fn directives() {
        let cases = [
            ("%Y-%m-%d %H:%M:%S", "2012-06-21 02:12:56"),
            ("%Y-%m-%dT%H:%M:%S%z", "2012-06-21T02:12:56+0000"),
            ("aaabbb0123456789%Y", "aaabbb01234567892012"),
            ("%0%1%%%2", "%0%1%%2"),
            ("%H:%M:%S%L", "02:12:56.000"),
            (
                "%j %a %A %b %B %y %p %Z %I",
                "173 Thu Thursday Jun June 12 AM UTC 02",
            ),
            ("100%", "100%"),
            ("%", "%"),
            ("", ""),
            ("%é", "%é"),
            ("2006 literal", "2006 literal"),
        ];
        for (fmt, want) in cases {
            assert_eq!(format(fmt, T), want, "{fmt}");
        }
    }
}
