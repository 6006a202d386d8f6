//! The console's line editor on a terminal. Packer 1.6.6's console reads interactive lines with
//! the `github.com/chzyer/readline` library (`command/console.go`, `modeInteractive`: prompt
//! `> `, `InterruptPrompt: "^C"`, `EOFPrompt: "exit"`); this is the part of it a console user
//! relies on: moving in the line, deleting, history, and its Ctrl-C / Ctrl-D behaviour.
//!
//! Keys: Left/Right (and Ctrl-B/Ctrl-F), Home/End (and Ctrl-A/Ctrl-E), Backspace, Delete,
//! Ctrl-K (to the end), Ctrl-U (to the start), Ctrl-W (the word before the cursor), Up/Down
//! (and Ctrl-P/Ctrl-N) through the lines entered before, Enter (`\r` or `\n`). Ctrl-C abandons
//! the line (printing `^C`); Ctrl-D ends the input on an empty line (printing `exit`) and
//! deletes the character under the cursor otherwise. Other control keys are ignored. The line
//! is redrawn whole after each key, assuming one column per character. Lines end with `\n`: raw
//! mode keeps the terminal's output processing, which sends `\r\n` as Packer does.

use std::io::{Read, Write};

/// What one [`Editor::read_line`] ended with.
#[derive(Debug, PartialEq)]
pub(super) enum Input {
    /// Enter: the line.
    Line(String),
    /// Ctrl-C, with the line as it was.
    Interrupted(String),
    /// Ctrl-D on an empty line, or the end of the input.
    Eof,
}

/// A line editor with the history of the lines read so far.
#[derive(Default)]
pub(super) struct Editor {
    history: Vec<String>,
}

/// One key, decoded from the terminal's bytes.
enum Key {
    Char(char),
    Ctrl(u8),
    Left,
    Right,
    Up,
    Down,
    Home,
    End,
    Delete,
    Ignored,
}

/// The line being edited.
struct Line {
    chars: Vec<char>,
    cursor: usize,
}

impl Line {
    fn text(&self) -> String {
        self.chars.iter().collect()
    }
    fn set(&mut self, text: &str) {
        self.chars = text.chars().collect();
        self.cursor = self.chars.len();
    }
}

impl Editor {
    /// Reads one line from `input` (a terminal in raw mode), echoing and redrawing it on
    /// `out` after `prompt`. A non-empty line is added to the history.
    pub(super) fn read_line(
        &mut self,
        prompt: &str,
        input: &mut dyn Read,
        out: &mut dyn Write,
    ) -> std::io::Result<Input> {
        let mut line = Line {
            chars: Vec::new(),
            cursor: 0,
        };
        // Where Up/Down are in the history; `history.len()` is the line being typed, kept in
        // `typed` while an older one is shown.
        let mut at = self.history.len();
        let mut typed = String::new();
        redraw(out, prompt, &line)?;
        loop {
            let Some(key) = next_key(input)? else {
                writeln!(out)?;
                out.flush()?;
                return Ok(if line.chars.is_empty() {
                    Input::Eof
                } else {
                    self.remember(line.text());
                    Input::Line(line.text())
                });
            };
            match key {
                Key::Ctrl(b'\r' | b'\n') => {
                    writeln!(out)?;
                    out.flush()?;
                    let text = line.text();
                    self.remember(text.clone());
                    return Ok(Input::Line(text));
                }
                Key::Ctrl(3) => {
                    writeln!(out, "^C")?;
                    out.flush()?;
                    return Ok(Input::Interrupted(line.text()));
                }
                Key::Ctrl(4) if line.chars.is_empty() => {
                    writeln!(out, "exit")?;
                    out.flush()?;
                    return Ok(Input::Eof);
                }
                Key::Ctrl(4) | Key::Delete => {
                    if line.cursor < line.chars.len() {
                        line.chars.remove(line.cursor);
                    }
                }
                Key::Char(c) => {
                    line.chars.insert(line.cursor, c);
                    line.cursor += 1;
                }
                Key::Ctrl(8 | 0x7f) => {
                    if line.cursor > 0 {
                        line.cursor -= 1;
                        line.chars.remove(line.cursor);
                    }
                }
                Key::Left | Key::Ctrl(2) => line.cursor = line.cursor.saturating_sub(1),
                Key::Right | Key::Ctrl(6) => line.cursor = (line.cursor + 1).min(line.chars.len()),
                Key::Home | Key::Ctrl(1) => line.cursor = 0,
                Key::End | Key::Ctrl(5) => line.cursor = line.chars.len(),
                Key::Ctrl(0x0b) => line.chars.truncate(line.cursor),
                Key::Ctrl(0x15) => {
                    line.chars.drain(..line.cursor);
                    line.cursor = 0;
                }
                Key::Ctrl(0x17) => {
                    let end = line.cursor;
                    let mut start = end;
                    while start > 0 && line.chars[start - 1].is_whitespace() {
                        start -= 1;
                    }
                    while start > 0 && !line.chars[start - 1].is_whitespace() {
                        start -= 1;
                    }
                    line.chars.drain(start..end);
                    line.cursor = start;
                }
                Key::Up | Key::Ctrl(0x10) if at > 0 => {
                    if at == self.history.len() {
                        typed = line.text();
                    }
                    at -= 1;
                    line.set(&self.history[at]);
                }
                Key::Down | Key::Ctrl(0x0e) if at < self.history.len() => {
                    at += 1;
                    let text = self.history.get(at).unwrap_or(&typed).clone();
                    line.set(&text);
                }
                _ => continue,
            }
            redraw(out, prompt, &line)?;
        }
    }

    /// Adds `text` to the history unless it is empty or repeats the last entry.
    fn remember(&mut self, text: String) {
        if !text.is_empty() && self.history.last() != Some(&text) {
            self.history.push(text);
        }
    }
}

/// Draws the prompt and the line from the start of the terminal line, clears what is left of
/// an older, longer line, and puts the cursor in place.
fn redraw(out: &mut dyn Write, prompt: &str, line: &Line) -> std::io::Result<()> {
    write!(out, "\r{prompt}{}\x1b[K", line.text())?;
    let back = line.chars.len() - line.cursor;
    if back > 0 {
        write!(out, "\x1b[{back}D")?;
    }
    out.flush()
}

fn byte(input: &mut dyn Read) -> std::io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    loop {
        return match input.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(b[0])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
    }
}

/// The next key, `None` at the end of the input.
fn next_key(input: &mut dyn Read) -> std::io::Result<Option<Key>> {
    let Some(b) = byte(input)? else {
        return Ok(None);
    };
    let key = match b {
        0x1b => escape(input)?,
        0x7f => Key::Ctrl(0x7f),
        0..=0x1f => Key::Ctrl(b),
        0x20..=0x7e => Key::Char(b as char),
        _ => utf8(b, input)?,
    };
    Ok(Some(key))
}

/// The rest of an escape sequence: `ESC [ …` (CSI) or `ESC O x` (SS3).
fn escape(input: &mut dyn Read) -> std::io::Result<Key> {
    match byte(input)? {
        Some(b'[') => {
            let mut params = String::new();
            loop {
                match byte(input)? {
                    Some(b @ (b'0'..=b'9' | b';')) => params.push(b as char),
                    Some(b'~') => {
                        return Ok(match params.as_str() {
                            "1" | "7" => Key::Home,
                            "4" | "8" => Key::End,
                            "3" => Key::Delete,
                            _ => Key::Ignored,
                        })
                    }
                    Some(f) => return Ok(arrow(f)),
                    None => return Ok(Key::Ignored),
                }
            }
        }
        Some(b'O') => Ok(byte(input)?.map_or(Key::Ignored, arrow)),
        _ => Ok(Key::Ignored),
    }
}

fn arrow(f: u8) -> Key {
    match f {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        _ => Key::Ignored,
    }
}

/// A UTF-8 character starting with `first`; an invalid sequence is ignored.
fn utf8(first: u8, input: &mut dyn Read) -> std::io::Result<Key> {
    let len = match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Ok(Key::Ignored),
    };
    let mut buf = vec![first];
    for _ in 1..len {
        match byte(input)? {
            Some(b) => buf.push(b),
            None => return Ok(Key::Ignored),
        }
    }
    Ok(std::str::from_utf8(&buf)
        .ok()
        .and_then(|s| s.chars().next())
        .map_or(Key::Ignored, Key::Char))
}

/// Raw mode for the terminal on standard input while a line is read (no echo, no line
/// buffering, Ctrl-C and Ctrl-D as bytes); output processing stays on. Restored on drop.
pub(super) struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    pub(super) fn enter() -> std::io::Result<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios the call fills in.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &raw mut saved) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut raw = saved;
            raw.c_iflag &= !(libc::BRKINT | libc::ICRNL | libc::INPCK | libc::ISTRIP | libc::IXON);
            raw.c_cflag |= libc::CS8;
            raw.c_lflag &= !(libc::ECHO | libc::ICANON | libc::IEXTEN | libc::ISIG);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSADRAIN, &raw const raw) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe {
            libc::tcsetattr(0, libc::TCSADRAIN, &raw const self.saved);
        }
    }
}

#[cfg(test)]
#[path = "line_edit_tests.rs"]
mod tests;
