//! `Proxy`: tests/support-py/ec2_proxy.py between the code under test and moto. It records every
//! call's Action, can show state transitions as slow as on EC2, answer calls with throttling or
//! server errors, and delay calls. Each test starts its own (about 0.1 s); settings change at run
//! time through the proxy's control endpoint.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::http;
use super::paths;
use super::process::{self, ChildGuard};

/// The error a fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// EC2's `RequestLimitExceeded`, HTTP 503.
    Throttle,
    /// `InternalError`, HTTP 500.
    ServerError,
    /// EC2's `UnauthorizedOperation` naming the action and resource, with an encoded
    /// authorization message, HTTP 403.
    AccessDenied,
    /// EC2's `RequestExpired` (an expired session token), HTTP 400.
    ExpiredToken,
    /// EC2's `AuthFailure` (keys AWS does not know), HTTP 401.
    AuthFailure,
}

/// One call the proxy saw, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub action: String,
    /// The HTTP status sent back.
    pub status: u16,
    /// Whether the proxy answered itself (an injected fault) instead of asking moto.
    pub injected: bool,
}

#[derive(Debug)]
pub(crate) struct Proxy {
    child: ChildGuard,
    endpoint: String,
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (a moto endpoint), with no faults configured.
    pub(crate) fn start(upstream: &str) -> Proxy {
        Self::spawn(upstream)
            .unwrap_or_else(|e| panic!("starting the EC2 proxy for {upstream}: {e:#}"))
    }

    fn spawn(upstream: &str) -> Result<Proxy> {
        let dir = paths::fresh_dir("proxy");
        let log = std::fs::File::create(dir.join("proxy.log")).context("creating the proxy log")?;
        let script = paths::support_py("ec2_proxy.py");
        let mut cmd = Command::new(paths::SYSTEM_PYTHON);
        // -I: isolated from the environment; -B: no bytecode cache of the sibling modules
        // (fast_launch.py, fleets.py) written into the source tree.
        cmd.arg("-I")
            .arg("-B")
            .arg(&script)
            .arg(upstream)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = process::spawn("ec2_proxy", cmd)
            .with_context(|| format!("running {} {}", paths::SYSTEM_PYTHON, script.display()))?;
        let stdout = child.take_stdout().context("proxy stdout")?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .context("reading the proxy's address")?;
        let Some(addr) = first.trim().strip_prefix("listening on ") else {
            child.kill();
            let log = std::fs::read_to_string(dir.join("proxy.log")).unwrap_or_default();
            bail!("the proxy did not start (said {first:?}); its stderr:\n{log}");
        };
        Ok(Proxy {
            endpoint: format!("http://{addr}"),
            child,
        })
    }

    /// "http://127.0.0.1:PORT" — use as the EC2 endpoint instead of moto's.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Every call since the start or the last `reset_counts`, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        let resp = self.control("GET", "/__stack/calls", "");
        let parsed: Value = serde_json::from_str(&resp)
            .unwrap_or_else(|e| panic!("proxy calls are not JSON ({e}): {resp}"));
        parsed["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Call {
                action: c[0].as_str().unwrap_or_default().to_string(),
                status: c[1].as_u64().unwrap_or_default() as u16,
                injected: c[2].as_bool().unwrap_or_default(),
            })
            .collect()
    }

    /// Calls per Action (including those answered with an injected fault).
    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for call in self.calls() {
            *counts.entry(call.action).or_insert(0) += 1;
        }
        counts
    }

    /// Calls of one Action.
    pub(crate) fn count(&self, action: &str) -> u64 {
        self.counts().get(action).copied().unwrap_or(0)
    }

    /// Every request since the start or the last `reset_counts`, in order: its Action and its
    /// form parameters (EC2 query protocol, e.g. `ImdsSupport.Value` → `v2.0`). For asserting
    /// on parameters moto accepts but does not store.
    pub(crate) fn requests(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let resp = self.control("GET", "/__stack/requests", "");
        let parsed: Value = serde_json::from_str(&resp)
            .unwrap_or_else(|e| panic!("proxy requests are not JSON ({e}): {resp}"));
        parsed["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let action = r[0].as_str().unwrap_or_default().to_string();
                (action, parse_form(r[1].as_str().unwrap_or_default()))
            })
            .collect()
    }

    /// The form parameters of every request to `action`, in order.
    pub(crate) fn requests_of(&self, action: &str) -> Vec<BTreeMap<String, String>> {
        self.requests()
            .into_iter()
            .filter(|(a, _)| a == action)
            .map(|(_, p)| p)
            .collect()
    }

    /// Answers `actions` with an empty success instead of asking moto (for EC2 actions moto
    /// does not implement); an empty list turns it off. The calls still appear in `requests`.
    pub(crate) fn stub(&self, actions: &[&str]) {
        self.configure(json!({ "stub": actions }));
    }

    /// What GetConsoleOutput answers from now on (issue #19: host keys on the console).
    pub(crate) fn set_console(&self, console: Console) {
        let v = match console {
            Console::Moto => Value::Null,
            Console::Keys(keys) => json!({ "keys": keys }),
            Console::Truncated(keys) => json!({ "keys": keys, "truncate": true }),
            Console::NoKeys => json!({ "keys": [] }),
        };
        self.configure(json!({ "console": v }));
    }

    pub(crate) fn reset_counts(&self) {
        self.control("POST", "/__stack/calls/reset", "");
    }

    /// For `window` after RunInstances/StartInstances, StopInstances, TerminateInstances and
    /// CreateImage/RegisterImage/CopyImage, describe calls show the instance pending, stopping or
    /// shutting-down and the image pending. `Duration::ZERO` turns it off.
    pub(crate) fn set_transition_time(&self, window: Duration) {
        self.configure(json!({ "transitions": window.as_secs_f64() }));
    }

    /// As `set_transition_time`, but only after the given actions (e.g. `["CopyImage"]`), each
    /// with its own window; transitions of other actions show at once. Replaces any earlier
    /// setting.
    pub(crate) fn set_transition_times(&self, windows: &[(&str, Duration)]) {
        let map: serde_json::Map<String, Value> = windows
            .iter()
            .map(|(a, w)| (a.to_string(), json!(w.as_secs_f64())))
            .collect();
        self.configure(json!({ "transitions": map }));
    }

    /// Answers `fraction` (0.0..=1.0) of the calls to `actions` (all calls when empty) with the
    /// error `kind`, failing the first matching call; replaces any earlier fault.
    pub(crate) fn inject_fault(&self, kind: FaultKind, fraction: f64, actions: &[&str]) {
        self.inject_fault_limited(kind, fraction, actions, None);
    }

    /// As `inject_fault`, failing at most `limit` calls in total when given.
    pub(crate) fn inject_fault_limited(
        &self,
        kind: FaultKind,
        fraction: f64,
        actions: &[&str],
        limit: Option<u64>,
    ) {
        assert!(
            (0.0..=1.0).contains(&fraction),
            "fault fraction {fraction} is not within 0..=1"
        );
        let kind = match kind {
            FaultKind::Throttle => "throttle",
            FaultKind::ServerError => "server-error",
            FaultKind::AccessDenied => "access-denied",
            FaultKind::ExpiredToken => "expired-token",
            FaultKind::AuthFailure => "auth-failure",
        };
        let actions = (!actions.is_empty()).then_some(actions);
        self.configure(json!({
            "fault": { "kind": kind, "fraction": fraction, "actions": actions, "limit": limit }
        }));
    }

    pub(crate) fn clear_fault(&self) {
        self.configure(json!({ "fault": null }));
    }

    /// Holds moto's answer to each call to `actions` (all calls when empty) for `delay`; the call
    /// itself takes effect at once. `Duration::ZERO` turns it off.
    pub(crate) fn set_delay(&self, delay: Duration, actions: &[&str]) {
        let actions = (!actions.is_empty()).then_some(actions);
        let delay = (!delay.is_zero())
            .then(|| json!({ "seconds": delay.as_secs_f64(), "actions": actions }));
        self.configure(json!({ "delay": delay }));
    }

    /// Forwards CreateImage's snapshot TagSpecifications to moto as sent, so the call fails
    /// as on an EC2 stand-in without them (default: the proxy splits them off and tags the
    /// snapshots itself).
    pub(crate) fn set_raw_snapshot_tags(&self, raw: bool) {
        self.configure(json!({ "raw_snapshot_tags": raw }));
    }

    /// Plays EC2 refusing the key of an encrypted launch: an instance RunInstances launches with
    /// an encrypted EBS volume is terminated at once with a `Client.InvalidKMSKey.InvalidState`
    /// state reason; unencrypted launches go through.
    pub(crate) fn set_kms_launch_failure(&self, on: bool) {
        self.configure(json!({ "kms_launch_failure": on }));
    }

    /// Answers the next `count` CreateFleet calls as EC2 answers an instant fleet that launched
    /// nothing: a new fleet id and one per-instance error `code` / `message` (EC2's
    /// `InvalidParameterValue` ".. Invalid IAM Instance Profile name" while a fresh instance
    /// profile has not reached it). DeleteFleets of those fleets is answered by the proxy too;
    /// [`Proxy::fleets`] lists them.
    pub(crate) fn set_fleet_errors(&self, count: u32, code: &str, message: &str) {
        self.configure(json!({
            "fleet_errors": { "count": count, "code": code, "message": message }
        }));
    }

    /// Windows fast launch (which moto lacks, answered by the proxy): an enabled image shows
    /// `enabling` for `polls` DescribeFastLaunchImages answers, then `enabled`, or
    /// `enabling-failed` with reason `fail`.
    pub(crate) fn set_fast_launch(&self, polls: u32, fail: Option<&str>) {
        self.configure(json!({ "fast_launch": { "polls": polls, "fail": fail } }));
    }

    /// Fast launch as the proxy holds it: image id → state, and the images DisableFastLaunch
    /// was called on.
    pub(crate) fn fast_launch(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let resp = self.control("GET", "/__stack/fast_launch", "");
        let parsed: Value = serde_json::from_str(&resp)
            .unwrap_or_else(|e| panic!("proxy fast launch state is not JSON ({e}): {resp}"));
        let images = parsed["images"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let disabled = parsed["disabled"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        (images, disabled)
    }

    /// The fleets [`Proxy::set_fleet_errors`] made, and those DeleteFleets deleted.
    pub(crate) fn fleets(&self) -> (Vec<String>, Vec<String>) {
        let resp = self.control("GET", "/__stack/fleets", "");
        let parsed: Value = serde_json::from_str(&resp)
            .unwrap_or_else(|e| panic!("proxy fleets are not JSON ({e}): {resp}"));
        let list = |k: &str| -> Vec<String> {
            parsed[k]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        (list("created"), list("deleted"))
    }

    fn configure(&self, settings: Value) {
        self.control("POST", "/__stack/config", &settings.to_string());
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        match http::request(&self.endpoint, method, path, body) {
            Ok(resp) if resp.status == 200 => resp.body,
            Ok(resp) => panic!(
                "proxy control {method} {path}: HTTP {}: {}",
                resp.status, resp.body
            ),
            Err(e) => panic!("proxy control {method} {path}: {e:#}"),
        }
    }
}

/// `application/x-www-form-urlencoded` → key/value pairs (a later key wins).
fn parse_form(body: &str) -> BTreeMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The console output the proxy gives for GetConsoleOutput.
#[derive(Debug, Clone)]
pub(crate) enum Console {
    /// moto's own fixed answer (no key block).
    Moto,
    /// A cloud-init boot log listing these host keys (OpenSSH public key lines).
    Keys(Vec<String>),
    /// The same, cut off inside the key block.
    Truncated(Vec<String>),
    /// A boot log without a key block (an image without cloud-init's key output).
    NoKeys,
}
