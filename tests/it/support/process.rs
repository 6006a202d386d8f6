//! Child processes of the test stack and how they end.
//!
//! Every child is spawned by one long-lived thread ("stack-spawner") in its own process group with
//! `PR_SET_PDEATHSIG(SIGKILL)`. The parent-death signal fires when the *thread* that forked the
//! child ends, so spawning from test threads (which end after each test) or tokio's blocking pool
//! would kill children too early; the spawner thread only ends with the process. So when the test
//! binary exits, panics or is killed, its children get SIGKILL from the kernel.
//!
//! `ChildGuard` kills the child's whole process tree on drop. A process group is not enough for
//! sshd: each connection's sshd calls setsid(), so descendants are found through /proc instead.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> mpsc::Sender<SpawnJob> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<SpawnJob>();
            std::thread::Builder::new()
                .name("stack-spawner".into())
                .spawn(move || {
                    for (mut cmd, reply) in rx {
                        let _ = reply.send(cmd.spawn());
                    }
                })
                .expect("starting the stack-spawner thread");
            tx
        })
        .clone()
}

/// A running child of the stack; dropping it kills the child and everything it started.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    name: String,
    child: Option<Child>,
}

/// Spawns `cmd` as a stack child: own process group, SIGKILL when the test binary ends.
/// `name` is used in messages ("moto_server", "sshd", ...).
pub(crate) fn spawn(name: &str, mut cmd: Command) -> io::Result<ChildGuard> {
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would kill us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner()
        .send((cmd, tx))
        .map_err(|_| io::Error::other("the stack-spawner thread is gone"))?;
    let child = rx
        .recv()
        .map_err(|_| io::Error::other("the stack-spawner thread did not answer"))??;
    Ok(ChildGuard {
        name: name.to_string(),
        child: Some(child),
    })
}

impl ChildGuard {
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The child's stdout pipe (when spawned with `Stdio::piped()`), once.
    pub(crate) fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut()?.stdout.take()
    }

    /// The child's stderr pipe (when spawned with `Stdio::piped()`), once.
    pub(crate) fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut()?.stderr.take()
    }

    /// The exit status if the child has ended (it is then reaped).
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Kills the child and all its descendants, then reaps the child. Idempotent.
    pub(crate) fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_none() {
            kill_tree(child.id() as libc::pid_t);
        }
        let _ = child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILLs `root`, its process group and every descendant. The root is stopped first so it
/// cannot start new children while the tree is collected.
pub(crate) fn kill_tree(root: libc::pid_t) {
    // SAFETY: plain signal sends to pids we started (or their descendants).
    unsafe {
        libc::kill(root, libc::SIGSTOP);
        let mut victims = descendants(root);
        for &pid in &victims {
            libc::kill(pid, libc::SIGSTOP);
        }
        // Children forked between the two scans were stopped with their parent's next scan.
        for pid in descendants(root) {
            if !victims.contains(&pid) {
                victims.push(pid);
            }
        }
        for &pid in &victims {
            libc::kill(pid, libc::SIGKILL);
        }
        libc::killpg(root, libc::SIGKILL);
        libc::kill(root, libc::SIGKILL);
    }
}

/// All descendants of `root` according to /proc (parent pids), children before grandchildren.
pub(crate) fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let parents: Vec<(libc::pid_t, libc::pid_t)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
                .filter_map(|pid| Some((pid, proc_stat(pid as u32)?.1)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// (state, parent pid) of a process from /proc/<pid>/stat.
fn proc_stat(pid: u32) -> Option<(char, libc::pid_t)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is a live process (zombies count as gone: they have exited).
pub(crate) fn is_alive(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port that was free on 127.0.0.1 a moment ago, for servers that cannot bind port 0
/// themselves (sshd). Callers retry on "address in use".
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("reading the bound address")
        .port()
}
