//! `Moto`: a `moto_server` (from the test venv) playing EC2 on a free 127.0.0.1 port.
//!
//! Starting moto and loading its EC2 backend costs 1-2 s of CPU, while its reset API takes ~50 ms.
//! So `Moto::start()` hands out servers from a per-binary pool: a test gets a server nobody else
//! uses while it holds the handle, reset to moto's initial state, and gives it back on drop. A
//! test that panics kills its server instead of returning it. `Moto::start_dedicated()` starts a
//! server of the test's own that dies with the handle. Pooled servers die with the test binary
//! (parent-death signal, see `process`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::http;
use super::paths;
use super::process::{self, ChildGuard};

/// How long moto may take to import and bind; generous for a loaded 2-core CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

static POOL: Mutex<Vec<MotoServer>> = Mutex::new(Vec::new());
/// Idle servers started through tests/support-py/moto_eb.py (moto plus the EB platform API).
static POOL_EB: Mutex<Vec<MotoServer>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct MotoServer {
    child: ChildGuard,
    endpoint: String,
    log: PathBuf,
    eb: bool,
}

/// A moto server this test has to itself. See the module doc for pooling.
#[derive(Debug)]
pub(crate) struct Moto {
    server: Option<MotoServer>,
    pooled: bool,
}

impl Moto {
    /// A moto server in its initial state, from the pool when one is idle.
    pub(crate) fn start() -> Moto {
        Moto::start_pooled(false)
    }

    /// Like `start`, but the server is tests/support-py/moto_eb.py: moto with the Elastic
    /// Beanstalk custom-platform actions and a request log at /moto-eb/requests.
    pub(crate) fn start_with_eb() -> Moto {
        Moto::start_pooled(true)
    }

    fn start_pooled(eb: bool) -> Moto {
        let pool = if eb { &POOL_EB } else { &POOL };
        loop {
            let idle = pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let Some(mut server) = idle else { break };
            if server.child.try_wait().is_none() && server.reset().is_ok() {
                return Moto {
                    server: Some(server),
                    pooled: true,
                };
            }
            server.child.kill();
        }
        let server =
            MotoServer::spawn(eb).unwrap_or_else(|e| panic!("starting moto_server: {e:#}"));
        Moto {
            server: Some(server),
            pooled: true,
        }
    }

    /// A moto server of this test's own, killed when the handle is dropped.
    pub(crate) fn start_dedicated() -> Moto {
        let server =
            MotoServer::spawn(false).unwrap_or_else(|e| panic!("starting moto_server: {e:#}"));
        Moto {
            server: Some(server),
            pooled: false,
        }
    }

    /// "http://127.0.0.1:PORT" — use as the EC2 endpoint (custom_endpoint_ec2).
    pub(crate) fn endpoint(&self) -> &str {
        &self.server().endpoint
    }

    /// Resets every moto backend to its initial state (POST /moto-api/reset).
    pub(crate) fn reset(&self) {
        self.server().reset().unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// The moto_server process id.
    pub(crate) fn pid(&self) -> u32 {
        self.server().child.pid()
    }

    /// moto's log (its request log and errors), for failure messages.
    pub(crate) fn log_path(&self) -> &Path {
        &self.server().log
    }

    fn server(&self) -> &MotoServer {
        self.server
            .as_ref()
            .expect("moto server present until drop")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        if self.pooled && !std::thread::panicking() {
            let pool = if server.eb { &POOL_EB } else { &POOL };
            pool.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(server);
        } else {
            if std::thread::panicking() {
                eprintln!("moto log of the failed test: {}", server.log.display());
            }
            server.child.kill();
        }
    }
}

/// The AMI catalogue every test server loads (`MOTO_AMIS_PATH`): moto's own list of public AMIs
/// plus its current Amazon Linux images of us-east-1 (al2023, amzn2), in every region. Without it
/// moto also loads ~1,230 ECS-optimised AMIs per region, again after every reset: that was a
/// third of the suite's moto CPU, and no test uses them. Written once per test binary.
fn amis_file() -> Result<PathBuf> {
    static FILE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = paths::run_dir().join("moto-amis.json");
        let script = r#"
import gzip, json, os, sys, moto
base = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources")
def load(*parts):
    with gzip.open(os.path.join(base, *parts) + ".gz") as f:
        return json.load(f)
amis = load("amis.json") + load("latest_amis", "us-east-1.json")
with open(sys.argv[1], "w") as f:
    json.dump(amis, f)
"#;
        let out = Command::new(paths::venv_bin("python"))
            .args(["-c", script])
            .arg(&path)
            .output()
            .map_err(|e| format!("running the venv's python: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "writing {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(path)
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

impl MotoServer {
    fn spawn(eb: bool) -> Result<MotoServer> {
        let program = paths::venv_bin(if eb { "python" } else { "moto_server" });
        let dir = paths::fresh_dir("moto");
        let log_path = dir.join("moto.log");
        let mut cmd = Command::new(&program);
        if eb {
            // -B: no bytecode cache of its sibling module (eb_model.py) in the source tree.
            cmd.arg("-B").arg(paths::support_py("moto_eb.py"));
        }
        // Port 0: the kernel picks a free port and werkzeug prints it, so there is no race.
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_AMIS_PATH", amis_file()?)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .current_dir(&dir)
            .env("PYTHONUNBUFFERED", "1");
        let mut child = process::spawn("moto_server", cmd)
            .with_context(|| format!("running {}", program.display()))?;
        let stderr = child.take_stderr().context("moto_server stderr")?;

        // Copy moto's stderr to its log for as long as it runs, reporting the port it printed.
        let mut log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("moto-log".into())
            .spawn(move || {
                let mut port_tx = Some(port_tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(log, "{line}");
                    if let Some(port) = line
                        .split("Running on http://127.0.0.1:")
                        .nth(1)
                        .and_then(|p| p.trim().parse::<u16>().ok())
                    {
                        if let Some(tx) = port_tx.take() {
                            let _ = tx.send(port);
                        }
                    }
                }
            })
            .context("starting the moto log thread")?;

        let Ok(port) = port_rx.recv_timeout(START_TIMEOUT) else {
            child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!(
                "moto_server did not report a port within {START_TIMEOUT:?}; log {}:\n{log}",
                log_path.display()
            );
        };
        let server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log: log_path,
            eb,
        };
        // werkzeug prints the address after binding, so the first request is queued, not refused.
        server.reset()?;
        Ok(server)
    }

    fn reset(&self) -> Result<()> {
        let resp = http::post(&self.endpoint, "/moto-api/reset", "")
            .with_context(|| format!("resetting moto at {}", self.endpoint))?;
        if resp.status != 200 {
            bail!(
                "resetting moto at {}: HTTP {}: {}",
                self.endpoint,
                resp.status,
                resp.body
            );
        }
        Ok(())
    }
}
