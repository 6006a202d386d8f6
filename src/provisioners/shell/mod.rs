//! The `shell` provisioner: uploads each script (or the inline commands as one script), runs it
//! through `execute_command` with the build's environment, streams its output, checks its exit
//! status, and removes it. Upload+run is retried as one unit until `start_retry_timeout`
//! (scripts that reboot the machine), like Packer.

pub mod config;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::communicator::private_temp::PrivateTemp;
use crate::communicator::{CommError, Communicator, OutputSink, CMD_DISCONNECT};
use crate::gocompat::time::duration_string as go_duration;
use crate::provisioners::imds_hint::WatchingSink;
use crate::provisioners::script::{rand_name_number, sleep_or_cancel, to_unix};
use crate::shell_local::quote::quote_path;
use crate::shell_local::script::{check_exit_code, env_vars, flatten_env};
use crate::shell_local::RunData;
use crate::template::interp::Value;
use crate::ui::Ui;

/// Pause between attempts while the machine is unreachable (Packer waits 2 s; the issue asks
/// readiness polling at ≤1 s).
const RETRY_DELAY: Duration = Duration::from_secs(1);

const DISCONNECTED: &str = "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, \
you can try adding \"expect_disconnect\": true or \"valid_exit_codes\": [0, 2300218] to the shell provisioner parameters.";

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let vars = env_vars(data, &c.environment_vars, &c.env);
    let flattened = flatten_env(&vars, &c.env_var_format);

    // Inline commands become one local script, rendered now that build values exist.
    let mut inline_tmp = None;
    let scripts: Vec<String> = match &c.inline {
        Some(lines) => {
            let mut text = format!("#!{}\n", c.inline_shebang);
            for line in lines {
                text.push_str(&data.render(line, None)?);
                text.push('\n');
            }
            let path = std::env::temp_dir().join(format!("packer-shell{}", rand::random::<u32>()));
            inline_tmp = Some(
                PrivateTemp::write(path.clone(), text.as_bytes())
                    .with_context(|| format!("writing inline script to {}", path.display()))?,
            );
            vec![path.to_string_lossy().into_owned()]
        }
        None => c.scripts.clone(),
    };

    let mut env_var_file = String::new();
    if c.use_env_var_file {
        env_var_file = format!("{}/varfile_{}.sh", c.remote_folder, rand_name_number());
        comm.upload_bytes(flattened.as_bytes(), &env_var_file, Some(0o600), cancel)
            .await
            .map_err(|e| anyhow!("Error uploading envVarFile: {e}"))?;
        quiet(
            comm,
            &format!("chmod 0600 {}", quote_path(&env_var_file)),
            cancel,
        )
        .await
        .map_err(|e| anyhow!("Error chmodding env var file to 0600 in remote machine: {e}"))?;
    }

    // rpack quotes the paths in Packer's default commands (Packer does not: a remote_folder
    // with a space ran another file); a template's own execute_command gets them as is.
    let default_cmd = [config::DEFAULT_EXECUTE, config::DEFAULT_EXECUTE_ENV_FILE]
        .contains(&c.execute_command.as_str());
    let in_cmd = |p: &str| {
        if default_cmd {
            quote_path(p)
        } else {
            p.to_string()
        }
    };
    let mut dot = BTreeMap::new();
    dot.insert("Vars".to_string(), Value::String(flattened.clone()));
    dot.insert("Path".to_string(), Value::String(in_cmd(&c.remote_path)));
    dot.insert(
        "EnvVarFile".to_string(),
        Value::String(in_cmd(&env_var_file)),
    );
    let command = data.render(&c.execute_command, Some(Value::Map(dot)))?;

    for path in &scripts {
        ui.say(&format!("Provisioning with shell script: {path}"));
        let raw = std::fs::read(path).map_err(|e| anyhow!("Error opening shell script: {e}"))?;
        let content = if c.binary { raw } else { to_unix(&raw) };

        let sink = WatchingSink::new(ui);
        let status = retry(c.start_retry_timeout, cancel, || async {
            comm.upload_bytes(&content, &c.remote_path, Some(0o755), cancel)
                .await
                .map_err(|e| keep_kind(e, "Error uploading script"))?;
            quiet(
                comm,
                &format!("chmod 0755 {}", quote_path(&c.remote_path)),
                cancel,
            )
            .await
            .map_err(|e| keep_kind(e, "Error chmodding script file to 0755 in remote machine"))?;
            match comm.start(&command, &sink, cancel).await {
                Ok(s) => Ok(s),
                Err(CommError::Disconnected(_)) => Ok(CMD_DISCONNECT),
                Err(e) => Err(e),
            }
        })
        .await?;

        if status == CMD_DISCONNECT {
            if !c.expect_disconnect && !c.valid_exit_codes.contains(&CMD_DISCONNECT) {
                bail!(DISCONNECTED);
            }
        } else {
            check_exit_code(status, &c.valid_exit_codes).map_err(|e| sink.explain(&content, e))?;
        }

        if !c.skip_clean {
            cleanup_remote_file(comm, &c.remote_path, c.start_retry_timeout, cancel).await?;
        }
    }
    drop(inline_tmp);

    if c.use_env_var_file && !c.skip_clean {
        cleanup_remote_file(comm, &env_var_file, c.start_retry_timeout, cancel).await?;
    }
    if let Some(p) = c.pause_after {
        ui.say(&format!(
            "Pausing {} after this provisioner...",
            go_duration(p)
        ));
        sleep_or_cancel(p, cancel).await?;
    }
    Ok(())
}

/// Removes a remote file, retrying (the machine may be rebooting) until `timeout`.
async fn cleanup_remote_file(
    comm: &dyn Communicator,
    path: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let status = retry(timeout, cancel, || async {
        quiet(comm, &format!("rm -f {}", quote_path(path)), cancel).await
    })
    .await?;
    if status != 0 {
        bail!("Error removing temporary script at {path}!");
    }
    Ok(())
}

/// Runs a bookkeeping command whose output nobody needs.
async fn quiet(
    comm: &dyn Communicator,
    command: &str,
    cancel: &CancellationToken,
) -> Result<i32, CommError> {
    struct Drop_;
    impl OutputSink for Drop_ {
        fn stdout_line(&self, _: &str) {}
        fn stderr_line(&self, line: &str) {
            tracing::debug!("remote stderr: {line}");
        }
    }
    comm.start(command, &Drop_, cancel).await
}

/// Prefixes an error message, keeping whether it was a disconnect (retryable).
fn keep_kind(e: CommError, what: &str) -> CommError {
    match e {
        CommError::Disconnected(m) => CommError::Disconnected(format!("{what}: {m}")),
        CommError::Other(m) => CommError::Other(format!("{what}: {m}")),
        e => e,
    }
}

/// Packer's `retry.Config{StartTimeout}`: repeat `f` until it succeeds or `timeout` passes;
/// cancellation and a changed host key end it at once.
pub(crate) async fn retry<T, F, Fut>(
    timeout: Duration,
    cancel: &CancellationToken,
    mut f: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CommError>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(
                e @ (CommError::Cancelled
                | CommError::HostKeyChanged { .. }
                | CommError::HostKeyRejected(_)),
            ) => return Err(e.into()),
            Err(e) => {
                if cancel.is_cancelled() {
                    return Err(CommError::Cancelled.into());
                }
                if start.elapsed() >= timeout {
                    return Err(anyhow!("{}", plain(e)));
                }
                tracing::debug!("Retryable error: {e}");
                sleep_or_cancel(RETRY_DELAY, cancel).await?;
            }
        }
    }
}

fn plain(e: CommError) -> String {
    match e {
        CommError::Other(m) => m,
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
