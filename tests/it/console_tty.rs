//! `console` on a terminal edits lines like Packer 1.6.6's readline console (issue #21): the
//! same keys, sent through a pseudo-terminal to rpack and to Packer, give the same results.
//! Keys: a line, Up (history), Left, Backspace and typing inside the line, Ctrl-C on a typed
//! line (abandoned, the console goes on), Ctrl-D on an empty line (`exit`, exit code 0).

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A pseudo-terminal pair: (controller, terminal).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut terminal) = (-1, -1);
    // A size: Packer's readline computes cursor moves from the width (0 makes it hang).
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two new descriptors, which are owned from here on.
    let rc = unsafe {
        libc::openpty(
            &raw mut controller,
            &raw mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &raw const size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and nothing else owns them.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Runs `bin console …` on a terminal, sending each of `steps`' keys once the output contains
/// its text; returns the exit code and everything the terminal showed.
fn on_terminal(bin: &Path, steps: &[(&str, &[u8])]) -> (Option<i32>, String) {
    let (controller, terminal) = openpty();
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["console", "-var-file=vars.json", "template.json"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/console"))
        .env("HOME", home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("TERM", "xterm")
        .stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal))
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut reader = std::fs::File::from(controller.try_clone().unwrap());
    let sink = shown.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the console exits and the terminal side is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    let mut writer = std::fs::File::from(controller);
    let mut from = 0;
    for (wait_for, keys) in steps {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let t = text();
            if let Some(i) = t[from..].find(wait_for) {
                from += i + wait_for.len();
                break;
            }
            assert!(Instant::now() < deadline, "never saw {wait_for:?}:\n{t:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The line editor is back in raw mode shortly after its prompt.
        std::thread::sleep(Duration::from_millis(300));
        use std::io::Write;
        writer.write_all(keys).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the console did not end:\n{:?}", text());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(100));
    (code, text())
}

/// The key script: each step waits for the text before sending its keys.
const STEPS: &[(&str, &[u8])] = &[
    ("> ", b"{{user `greeting`}}\r"),
    (
        "hello, world\r\n",
        b"\x1b[A\x1b[D\x1b[D\x1b[D\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7ffrom_file\r",
    ),
    ("read from vars.json\r\n", b"ab\x03"),
    ("^C\r\n", b"\x04"),
];

#[test]
fn console_line_editing_on_a_terminal_gives_packers_results() {
    let rpack = Path::new(env!("CARGO_BIN_EXE_rpack"));
    let (code, shown) = on_terminal(rpack, STEPS);
    assert_eq!(code, Some(0), "{shown:?}");
    // The recalled, edited line was evaluated, the interrupted one was not, and Ctrl-D said
    // `exit` as Packer's readline does.
    assert!(shown.contains("\r\nread from vars.json\r\n"), "{shown:?}");
    assert!(shown.contains("ab\x1b[K^C\r\n"), "{shown:?}");
    assert!(shown.ends_with("exit\r\n"), "{shown:?}");
    assert!(!shown.contains("\r\r\n"), "{shown:?}");
    // Packer, given the same keys, shows the same results in the same order.
    let (code, theirs) = on_terminal(&crate::fidelity::packer(), STEPS);
    assert_eq!(code, Some(0), "{theirs:?}");
    let results = |t: &str| {
        [
            "hello, world\r\n",
            "read from vars.json\r\n",
            "^C\r\n",
            "exit\r\n",
        ]
        .iter()
        .map(|r| t.find(r).unwrap_or(usize::MAX))
        .collect::<Vec<_>>()
    };
    let (ours, packers) = (results(&shown), results(&theirs));
    assert!(!packers.contains(&usize::MAX), "{theirs:?}");
    assert!(
        packers.is_sorted() && ours.is_sorted(),
        "{shown:?}\n{theirs:?}"
    );
    assert!(!ours.contains(&usize::MAX), "{shown:?}");
}
