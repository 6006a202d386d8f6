//! Running `shell-local`: commands or scripts on the machine running rpack, with the build's
//! environment, output streamed to the UI, cancellable (the whole process group).

use std::collections::BTreeMap;
use std::process::Stdio;

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::config::{self, Config};
use super::script::{check_exit_code, env_vars, flatten_env};
use super::RunData;
use crate::communicator::private_temp::PrivateTemp;
use crate::template::interp::Value;
use crate::ui::Ui;

/// Runs every command/script of `c` locally; stops at the first failure.
pub async fn run(
    c: &Config,
    ui: &dyn Ui,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    if !c.only_on.is_empty() && !c.only_on.iter().any(|os| os == std::env::consts::OS) {
        ui.say("Skipping shell-local due to runtime OS");
        return Ok(());
    }
    let vars = env_vars(data, &c.environment_vars, &c.env);
    let flattened = flatten_env(&vars, &c.env_var_format);
    let mut temp = None;
    let scripts = if c.inline.is_empty() {
        c.scripts.clone()
    } else {
        let mut text = format!("#!{}\n", c.inline_shebang);
        for line in &c.inline {
            text.push_str(&data.render(line, None)?);
            text.push('\n');
        }
        let path = std::env::temp_dir().join(format!(
            "packer-shell{}{}",
            rand::random::<u32>(),
            c.tempfile_extension
        ));
        let file = PrivateTemp::write(path.clone(), text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        set_exec(&path)?;
        temp = Some(file);
        vec![path.to_string_lossy().into_owned()]
    };
    let res = async {
        for script in &scripts {
            run_script(c, ui, data, &flattened, script, cancel).await?;
        }
        Ok(())
    }
    .await;
    drop(temp);
    res
}

fn set_exec(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod {}", path.display()))
}

async fn run_script(
    c: &Config,
    ui: &dyn Ui,
    data: &RunData,
    vars: &str,
    script: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let mut dot = BTreeMap::new();
    dot.insert("Vars".to_string(), Value::String(vars.to_string()));
    let default_cmd = c.execute_command == config::DEFAULT_EXECUTE;
    let in_cmd = if default_cmd {
        super::quote::quote_path(script)
    } else {
        script.to_string()
    };
    dot.insert("Script".to_string(), Value::String(in_cmd));
    dot.insert("Command".to_string(), Value::String(script.to_string()));
    let argv: Vec<String> = c
        .execute_command
        .iter()
        .map(|a| data.render(a, Some(Value::Map(dot.clone()))))
        .collect::<Result<_, _>>()?;
    ui.say(&format!("Running local shell script: {script}"));
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| anyhow!("execute_command is empty"))?;
    let mut child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow!("Error executing script: {script}\n\nPlease see output above for more information. ({e})"))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let (mut out_done, mut err_done) = (false, false);
    let status = loop {
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => ui.message(&l),
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => ui.error(&l),
                _ => err_done = true,
            },
            s = child.wait(), if out_done && err_done => break s?,
            () = cancel.cancelled() => {
                // The whole process group: scripts often start children.
                if let Some(pid) = child.id() {
                    // SAFETY: plain kill(2) of the group we created with process_group(0).
                    unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
                }
                let _ = child.wait().await;
                bail!("Error executing script: {script}\n\nPlease see output above for more information.");
            }
        }
    };
    let code = if let Some(c) = status.code() {
        c
    } else {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    };
    check_exit_code(code, &c.valid_exit_codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::Recording;

    fn cfg(inline: &[&str]) -> Config {
        Config {
            inline: inline
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            inline_shebang: "/bin/sh -e".into(),
            scripts: vec![],
            environment_vars: vec!["GREETING=hi there".into()],
            env: vec![],
            env_var_format: "%s='%s' ".into(),
            execute_command: vec![
                "/bin/sh".into(),
                "-c".into(),
                "{{.Vars}} {{.Script}}".into(),
            ],
            only_on: vec![],
            tempfile_extension: String::new(),
            use_linux_pathing: false,
            valid_exit_codes: vec![0],
            warnings: vec![],
        }
    }

    #[tokio::test]
    async fn runs_inline_with_env_and_streams_output() {
        let ui = Recording::new();
        let data = RunData {
            build_name: "b".into(),
            builder_type: "null".into(),
            ..Default::default()
        };
        run(
            &cfg(&["echo \"$GREETING $PACKER_BUILD_NAME\"", "echo oops >&2"]),
            &ui,
            &data,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let lines = ui.lines();
        assert!(
            lines[0].starts_with("say: Running local shell script: "),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"message: hi there b".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"error: oops".to_string()), "{lines:?}");
    }

    #[tokio::test]
    async fn exit_codes_and_cancellation() {
        let ui = Recording::new();
        let err = run(
            &cfg(&["exit 3"]),
            &ui,
            &RunData::default(),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );

        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            c2.cancel();
        });
        let start = std::time::Instant::now();
        let err = run(&cfg(&["sleep 30"]), &ui, &RunData::default(), &cancel)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("Error executing script: "),
            "{err}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
