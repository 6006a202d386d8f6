//! `rpack platform init` and `use`: making a folder a platform workspace and choosing its
//! platform, with ebcli's prompts (region, platform, key pair) where a value is missing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::api::Api;
use super::prompt::{self, Prompter};
use super::resolve::{latest_usable, lookup, version_arn, NO_SUCH_VERSION};
use super::workspace::{Workspace, GITIGNORE_BLOCK};
use super::{bundle, manage::print_status, version, Global};
use crate::communicator::keys;
use crate::ui::Ui;

/// `init [NAME] [-i] [-k KEYNAME]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InitOptions {
    pub name: Option<String>,
    /// `-i`: ask for what is missing even with a NAME.
    pub interactive: bool,
    pub keyname: Option<String>,
}

/// ebcli's regions, in its order (`objects/region.py`), for `init`'s region prompt.
const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "EU (Ireland)"),
    ("eu-central-1", "EU (Frankfurt)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("sa-east-1", "South America (Sao Paulo)"),
    ("cn-north-1", "China (Beijing)"),
    ("cn-northwest-1", "China (Ningxia)"),
    ("us-east-2", "US East (Ohio)"),
    ("ca-central-1", "Canada (Central)"),
    ("eu-west-2", "EU (London)"),
    ("eu-west-3", "EU (Paris)"),
    ("eu-north-1", "EU (Stockholm)"),
    ("eu-south-1", "EU (Milano)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("me-central-1", "Middle East (UAE)"),
    ("ap-southeast-6", "Asia Pacific (New Zealand)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("eu-central-2", "Europe (Zurich)"),
    ("eu-south-2", "Europe (Spain)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
];

pub(crate) async fn init(ui: &dyn Ui, global: &Global, opts: &InitOptions) -> Result<i32> {
    let region = global.region.clone();
    let cwd = std::env::current_dir()?;
    let mut ws = Workspace::open(cwd.clone())?;
    if ws.config.global("workspace_type").as_deref() == Some("Application") {
        bail!(
            "this folder is an application workspace; platform commands need a platform workspace"
        );
    }
    let name_arg = opts.name.clone();
    // ebp: interactive with -i, and also when no name is given.
    let interactive = opts.interactive || name_arg.is_none();
    let mut prompt = Prompter::stdio();
    let explicit_region = match (&region, interactive) {
        (None, true) => {
            prompt.echo("");
            prompt.echo("Select a default region");
            let items: Vec<String> = REGIONS.iter().map(|(r, d)| format!("{r} : {d}")).collect();
            Some(REGIONS[prompt.pick(&items, Some(3))?].0.to_string())
        }
        _ => ws.region(region),
    };
    let api = Api::load(explicit_region.as_deref(), global).await?;
    // ebp: a name given starts from its newest usable version; the workspace's own name keeps
    // the workspace's version.
    let (name, chosen_version) = match name_arg {
        Some(n) => (n, None),
        None => match ws.config.global("platform_name") {
            Some(n) => (n, ws.config.global("platform_version")),
            None => pick_platform(&mut prompt, &api, &cwd).await?,
        },
    };
    if !version::valid_name(&name) {
        bail!("{name:?} is not a valid platform name (no ':' or '/')");
    }
    let mut key = opts.keyname.clone();
    if key.is_none() && interactive {
        key = match ws.config.global("default_ec2_keyname") {
            Some(k) => Some(k),
            None => pick_key_pair(&mut prompt, &api).await?,
        };
    }
    let git = bundle::in_git(&cwd);
    let c = &mut ws.config;
    c.set_global("application_name", Some("Custom Platform Builder"));
    // Like ebp: the region given (flag, prompt or config), else null so the AWS chain decides.
    c.set_global("default_region", explicit_region.as_deref());
    // Keys ebp writes that rpack does not use, kept for tools that read the file.
    for k in ["default_platform", "branch", "repository", "profile"] {
        if c.global(k).is_none() {
            c.set_global(k, None);
        }
    }
    c.set_global("workspace_type", Some("Platform"));
    c.set_global("platform_name", Some(&name));
    c.set_global("platform_version", chosen_version.as_deref());
    if c.global("instance_profile").is_none() {
        c.set_global("instance_profile", None);
    }
    c.set_global("sc", if git { Some("git") } else { None });
    let key = key.or_else(|| c.global("default_ec2_keyname"));
    c.set_global("default_ec2_keyname", key.as_deref());
    ws.save()?;
    if git {
        let gi = cwd.join(".gitignore");
        let text = std::fs::read_to_string(&gi).unwrap_or_default();
        if !text.contains("# Elastic Beanstalk Files") {
            std::fs::write(&gi, format!("{text}{GITIGNORE_BLOCK}"))
                .with_context(|| format!("writing {}", gi.display()))?;
        }
    }
    if chosen_version.is_none() {
        // ebcli's set_workspace_to_latest.
        if let Some(v) = latest_usable(&api, &name).await? {
            ws.config.set_global("platform_version", Some(&v));
            ws.save()?;
            ui.say("Setting workspace platform version to:");
            let (arn, d) = lookup(&api, &name, &v).await?;
            print_status(ui, &api, &arn, d).await?;
        }
    }
    Ok(0)
}

/// ebcli's `get_platform_name_and_version_interactive`: one of your platforms (and its newest
/// version) or a new name, which defaults to the folder's name.
async fn pick_platform(
    prompt: &mut Prompter<'_>,
    api: &Api,
    cwd: &Path,
) -> Result<(String, Option<String>)> {
    let mut platforms: Vec<(String, String)> = Vec::new();
    for p in api.list(None, Some("latest"), None).await? {
        if let Some((n, v)) = p.platform_arn().and_then(version::parse_arn) {
            if !platforms.iter().any(|(x, _)| *x == n) {
                platforms.push((n, v));
            }
        }
    }
    let folder = cwd
        .file_name()
        .map_or_else(|| "platform".into(), |n| n.to_string_lossy().into_owned());
    let mut names: Vec<String> = platforms.iter().map(|(n, _)| n.clone()).collect();
    if !platforms.is_empty() {
        prompt.echo("");
        prompt.echo("Select a platform to use");
        names.push("[ Create new Platform ]".into());
        let default = names
            .iter()
            .position(|n| *n == folder)
            .map_or(names.len(), |i| i + 1);
        let i = prompt.pick(&names, Some(default))?;
        if i < platforms.len() {
            let (n, v) = platforms.swap_remove(i);
            return Ok((n, Some(v)));
        }
    }
    prompt.echo("");
    prompt.echo("Enter Platform Name");
    let default = prompt::unique(&folder, &names);
    Ok((prompt.unique_name(&default, &names)?, None))
}

/// ebcli's `prompt_for_ec2_keyname` for `init`: whether to log into the builder, then one of
/// the region's key pairs or a new one (an ed25519 key saved in ~/.ssh and imported).
async fn pick_key_pair(prompt: &mut Prompter<'_>, api: &Api) -> Result<Option<String>> {
    prompt.echo("Would you like to be able to log into your platform packer environment?");
    if !prompt.yes_no("", true)? {
        return Ok(None);
    }
    let mut keys = api.key_pairs().await?;
    if !keys.is_empty() {
        let existing = keys.len();
        keys.push("[ Create new KeyPair ]".into());
        prompt.echo("");
        prompt.echo("Select a keypair.");
        let i = prompt.pick(&keys, Some(existing))?;
        if i < existing {
            return Ok(Some(keys.swap_remove(i)));
        }
    }
    prompt.echo("");
    prompt.echo("Type a keypair name.");
    let default = prompt::unique("aws-eb", &keys);
    let name = prompt.ask(&format!("Default is {default}"), &default)?;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set: cannot save the new key pair in ~/.ssh")?;
    let dir = home.join(".ssh");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(&name);
    if path.exists() {
        bail!(
            "{} already exists: pick another key pair name",
            path.display()
        );
    }
    let key = keys::PrivateKey::generate_ed25519()
        .context("generating an SSH key")?
        .with_comment(&name);
    let private = key.to_openssh().context("encoding the SSH key")?;
    keys::write_private_key_file(&path, &private)
        .with_context(|| format!("writing {}", path.display()))?;
    let public = key.public_key_line();
    std::fs::write(dir.join(format!("{name}.pub")), format!("{public}\n"))
        .with_context(|| format!("writing {}.pub", path.display()))?;
    api.import_key_pair(&name, &public).await?;
    prompt.echo(&format!(
        "Saved the private key of key pair {name} in {}.",
        path.display()
    ));
    Ok(Some(name))
}

pub(crate) async fn use_platform(
    ui: &dyn Ui,
    global: &Global,
    platform: Option<&str>,
) -> Result<i32> {
    let mut ws = Workspace::find()?;
    let api = Api::load(ws.region(global.region.clone()).as_deref(), global).await?;
    let (name, ver) = match platform {
        // ebcli's _name_to_arn: an ARN, name/x.y.z, or a name (its latest version).
        Some(arg) => {
            let (arn, _) = match version::parse_arn(arg) {
                Some(_) => (arg.to_string(), None),
                None if version::valid_name(arg) => {
                    lookup(&api, arg, "latest").await.map_err(|e| {
                        if e.to_string().starts_with(NO_SUCH_VERSION) {
                            anyhow::anyhow!("No such platform exists. ({arg} in {})", api.region)
                        } else {
                            e
                        }
                    })?
                }
                None => version_arn(&api, arg, arg).await?,
            };
            let (n, v) = version::parse_arn(&arn).context("a platform ARN")?;
            (n, Some(v))
        }
        None => pick_platform(&mut Prompter::stdio(), &api, &ws.root).await?,
    };
    ws.config.set_global("platform_name", Some(&name));
    ws.config.set_global("platform_version", ver.as_deref());
    ws.save()?;
    ui.say("Setting workspace platform version to:");
    let ver = match ver {
        Some(v) => Some(v),
        None => latest_usable(&api, &name).await?,
    };
    match ver {
        Some(v) => {
            let (arn, d) = lookup(&api, &name, &v).await?;
            print_status(ui, &api, &arn, d).await?;
        }
        None => ui.say(&format!("New platform \"{name}\"")),
    }
    Ok(0)
}
