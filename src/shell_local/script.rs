//! The script plumbing shared by `shell-local` and the provisioners that run scripts: the
//! environment a script sees (`PACKER_BUILD_NAME`, `environment_vars`, …, flattened with
//! `env_var_format`), Packer's exit-code check and `valid_exit_codes` decoding, the CRLF
//! warning, and resolving script paths against the template's directory.

use std::collections::BTreeMap;

use crate::decoder::Decoder;
use crate::gocompat::fmt::sprintf2;
use crate::shell_local::quote;
use crate::shell_local::RunData;

/// The environment of a script, sorted by name: `PACKER_BUILD_NAME`, `PACKER_BUILDER_TYPE`,
/// `PACKER_HTTP_ADDR` when the builder serves HTTP, then `environment_vars` and `env`
/// (single quotes escaped for the shell as Packer does).
pub(crate) fn env_vars(
    data: &RunData,
    vars: &[String],
    env: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("PACKER_BUILD_NAME".to_string(), data.build_name.clone());
    m.insert("PACKER_BUILDER_TYPE".to_string(), data.builder_type.clone());
    if let Some(addr) = data
        .values
        .get("PackerHTTPAddr")
        .filter(|a| !a.is_empty() && !a.contains("Not Implemented"))
    {
        m.insert("PACKER_HTTP_ADDR".to_string(), addr.clone());
        if let Some((ip, port)) = addr.rsplit_once(':') {
            m.insert("PACKER_HTTP_IP".to_string(), ip.to_string());
            m.insert("PACKER_HTTP_PORT".to_string(), port.to_string());
        }
    }
    for kv in vars {
        if let Some((k, v)) = kv.split_once('=') {
            m.insert(k.to_string(), v.replace('\'', r#"'"'"'"#));
        }
    }
    for (k, v) in env {
        m.insert(k.clone(), v.replace('\'', r#"'"'"'"#));
    }
    m
}

/// Flattens env vars with `format` (Packer's `env_var_format`).
pub(crate) fn flatten_env(vars: &BTreeMap<String, String>, format: &str) -> String {
    vars.iter().map(|(k, v)| sprintf2(format, k, v)).collect()
}

/// Checks `environment_vars` entries (`Environment variable not in format 'key=value': …`).
pub(crate) fn check_env_vars(d: &mut Decoder, key: &str, vars: &[String]) {
    for (i, kv) in vars.iter().enumerate() {
        match kv.split_once('=') {
            // rpack: a key that is not a shell name would be run as shell code (Packer copies
            // it into the command line as is).
            Some((k, _)) if !k.is_empty() && !quote::is_shell_name(k) => d.error_item(
                key,
                i,
                format!("Environment variable name {k:?} is not a valid shell variable name (letters, digits and _, not starting with a digit)"),
            ),
            Some((k, _)) if !k.is_empty() => {}
            _ => d.error_item(
                key,
                i,
                format!("Environment variable not in format 'key=value': {kv}"),
            ),
        }
    }
}

/// Checks the names of `env` (a map) are shell names (rpack; Packer does not check).
pub(crate) fn check_env_names<'a>(
    d: &mut Decoder,
    key: &str,
    names: impl IntoIterator<Item = &'a String>,
) {
    for k in names {
        if !quote::is_shell_name(k) {
            d.error_entry(
                key,
                k,
                format!("Environment variable name {k:?} is not a valid shell variable name (letters, digits and _, not starting with a digit)"),
            );
        }
    }
}

/// Checks `valid_exit_codes` (`Script exited with non-zero exit status: 3.Allowed exit codes
/// are: [0]` — Packer's text, missing space included).
pub(crate) fn check_exit_code(status: i32, valid: &[i32]) -> anyhow::Result<()> {
    if valid.contains(&status) {
        return Ok(());
    }
    let list: Vec<String> = valid.iter().map(std::string::ToString::to_string).collect();
    anyhow::bail!(
        "Script exited with non-zero exit status: {status}.Allowed exit codes are: [{}]",
        list.join(" ")
    )
}

/// Decodes `valid_exit_codes` (default `[0]`).
pub(crate) fn decode_exit_codes(d: &mut Decoder) -> Vec<i32> {
    let Some(node) = d.raw("valid_exit_codes") else {
        return vec![0];
    };
    let mut codes = Vec::new();
    let items: Vec<&crate::template::json::Node> = match node.as_array() {
        Some(a) => a.iter().collect(),
        None => vec![node],
    };
    for n in items {
        let parsed = match &n.value {
            crate::template::json::Value::Number(s) => s.parse::<i32>().ok(),
            crate::template::json::Value::String(s) => s.trim().parse::<i32>().ok(),
            _ => None,
        };
        match parsed {
            Some(c) => codes.push(c),
            None => d.error(
                "valid_exit_codes",
                format!("valid_exit_codes: cannot use {:?} as an exit code", n.value),
            ),
        }
    }
    if codes.is_empty() {
        vec![0]
    } else {
        codes
    }
}

/// The CRLF warning shown at validate time for a script file.
pub(crate) fn crlf_warning(path: &str, binary: bool) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    if !data.windows(2).any(|w| w == b"\r\n") {
        return None;
    }
    Some(if binary {
        format!(
            "Script '{path}' has Windows (CRLF) line endings and \"binary\": true uploads it unchanged; \
             it will fail on the instance with $'\\r': command not found. Convert it to LF line endings."
        )
    } else {
        format!(
            "Script '{path}' has Windows (CRLF) line endings; rpack converts them to LF when uploading, \
             but other tools running it may fail with $'\\r': command not found. Convert it to LF line endings."
        )
    })
}

/// `path` relative to `base` (kept as written when `base` is the current directory, so
/// messages show the path the user wrote).
pub(crate) fn resolve(base: &std::path::Path, path: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(path);
    if p.is_absolute() || base.as_os_str().is_empty() || base == std::path::Path::new(".") {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_sorted_escaped_and_formatted() {
        let data = RunData {
            build_name: "web".into(),
            builder_type: "amazon-ebs".into(),
            ..Default::default()
        };
        let vars = env_vars(&data, &["B=it's".into(), "A=1".into()], &[]);
        assert_eq!(
            flatten_env(&vars, "%s='%s' "),
            r#"A='1' B='it'"'"'s' PACKER_BUILDER_TYPE='amazon-ebs' PACKER_BUILD_NAME='web' "#
        );
        assert_eq!(sprintf2("export %s='%s'\n", "K", "v"), "export K='v'\n");
    }

    #[test]
    fn exit_code_message_matches_packer() {
        assert!(check_exit_code(2, &[0, 2]).is_ok());
        assert_eq!(
            check_exit_code(3, &[0]).unwrap_err().to_string(),
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );
        assert_eq!(
            check_exit_code(1, &[0, 2]).unwrap_err().to_string(),
            "Script exited with non-zero exit status: 1.Allowed exit codes are: [0 2]"
        );
    }
}
