//! `rpack platform init|create|status|list|delete|events|logs|use|publish`: the `ebp` commands
//! with their arguments, prompts and workspace (`.elasticbeanstalk/config.yml`), plus `create
//! --local-build` (rpack builds the AMI, EB only registers it) and `publish` (a saved
//! configuration using the AMI on a managed platform, the path AWS still supports).
//!
//! The requests match ebp's (the ebp_parity integration test compares them) except where ebp
//! is wrong: `--tags` works, platform.yaml is not rewritten for the healthd settings,
//! DeletePlatformVersion goes without ebcli's private `DeleteResources` parameter, and
//! `events -f`/`logs --stream` stop once the version is Ready, Failed or deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_elasticbeanstalk::types::{ConfigurationOptionSetting, PlatformDescription, Tag};
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::Output;
use crate::communicator::keys;
use crate::platform::api::{setting, Api, BUILDER_PROFILE};
use crate::platform::check::{self, TemplateVars};
use crate::platform::prompt::{self, Prompter};
use crate::platform::watch::{self, LogTail, Outcome};
use crate::platform::yaml::{self, WorkspaceConfig};
use crate::platform::{bundle, version};
use crate::ui::{Secrets, Ui};

pub const HELP: &str = "Usage: rpack platform <command> [options]

  Builds and registers Elastic Beanstalk custom platforms, like the EB CLI's ebp.

Commands:

  init [NAME] [-i] [-k KEYNAME]        Make this folder a platform workspace (asks for
                                       what is missing without NAME or with -i).
  create [VERSION] [-M|-m|-p] [-i TYPE] [-ip PROFILE] [--vpc.id ID]
         [--vpc.subnets IDS] [--vpc.publicip] [--timeout MIN] [--tags k=v,...]
         [--local-build [-var k=v] [-var-file F]]
                                       Check, bundle, upload and create a version.
  status [VERSION]                     Describe a version (default: the workspace's).
  list [-a] [-s STATUS]                List your platform versions.
  delete [VERSION] [--force] | --cleanup [--all-platforms] [--force]
                                       Delete versions (asks to confirm without --force).
  events [VERSION] [-f]                Show (or follow) a version's events.
  logs [VERSION] [--stream]            Show (or follow) a version's builder log.
  use [PLATFORM]                       Select a platform (name, name/x.y.z or ARN; asks
                                       without one).
  publish [VERSION] --application APP [--template-name NAME] [--ami AMI]
          (--solution-stack STACK | --platform-arn ARN) [--environment ENV]
                                       Save a configuration that runs the AMI.

Global options: -r/--region REGION, --profile NAME, --endpoint-url URL (Elastic
Beanstalk only, like ebp; AWS_ENDPOINT_URL_* set the others).
";

/// The builder environment name EB uses (ebp hard-codes it too).
const BUILDER_ENV: &str = "eb-custom-platform-builder-packer";
const GITIGNORE_BLOCK: &str = "\n# Elastic Beanstalk Files\n.elasticbeanstalk/*\n!.elasticbeanstalk/*.cfg.yml\n!.elasticbeanstalk/*.global.yml\n";

fn global_args(c: Command) -> Command {
    c.arg(
        Arg::new("region")
            .short('r')
            .long("region")
            .num_args(1)
            .global(true),
    )
    .arg(Arg::new("profile").long("profile").num_args(1).global(true))
    .arg(
        Arg::new("endpoint-url")
            .long("endpoint-url")
            .num_args(1)
            .global(true),
    )
    .arg(
        Arg::new("verbose")
            .short('v')
            .long("verbose")
            .action(ArgAction::SetTrue)
            .global(true),
    )
    .arg(
        Arg::new("no-verify-ssl")
            .long("no-verify-ssl")
            .action(ArgAction::SetTrue)
            .global(true),
    )
}

pub(super) fn command() -> Command {
    let version = || Arg::new("version").num_args(0..=1);
    global_args(
        Command::new("platform")
            .no_binary_name(true)
            .disable_help_flag(true)
            .subcommand_required(true),
    )
    .subcommand(
        Command::new("init")
            .arg(Arg::new("name").num_args(0..=1))
            .arg(
                Arg::new("interactive")
                    .short('i')
                    .long("interactive")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("keyname").short('k').long("keyname").num_args(1)),
    )
    .subcommand(
        Command::new("create")
            .arg(version())
            .arg(
                Arg::new("major")
                    .short('M')
                    .long("major-increment")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("minor")
                    .short('m')
                    .long("minor-increment")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("patch")
                    .short('p')
                    .long("patch-increment")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("instance-type")
                    .short('i')
                    .long("instance-type")
                    .num_args(1),
            )
            .arg(
                Arg::new("instance-profile")
                    .long("instance_profile")
                    .visible_alias("instance-profile")
                    .num_args(1),
            )
            .arg(Arg::new("vpc-id").long("vpc.id").num_args(1))
            .arg(Arg::new("vpc-subnets").long("vpc.subnets").num_args(1))
            .arg(
                Arg::new("vpc-publicip")
                    .long("vpc.publicip")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("timeout")
                    .long("timeout")
                    .num_args(1)
                    .value_parser(|s: &str| parse_minutes(s).map(|_| s.to_string())),
            )
            .arg(Arg::new("tags").long("tags").num_args(1))
            .arg(
                Arg::new("local-build")
                    .long("local-build")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("var")
                    .long("var")
                    .num_args(1)
                    .action(ArgAction::Append),
            )
            .arg(
                Arg::new("var-file")
                    .long("var-file")
                    .num_args(1)
                    .action(ArgAction::Append),
            ),
    )
    .subcommand(Command::new("status").arg(version()))
    .subcommand(
        Command::new("list")
            .arg(
                Arg::new("all")
                    .short('a')
                    .long("all-platforms")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("status").short('s').long("status").num_args(1)),
    )
    .subcommand(
        Command::new("delete")
            .arg(version())
            .arg(
                Arg::new("cleanup")
                    .long("cleanup")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("all")
                    .long("all-platforms")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("force").long("force").action(ArgAction::SetTrue)),
    )
    .subcommand(
        Command::new("events").arg(version()).arg(
            Arg::new("follow")
                .short('f')
                .long("follow")
                .action(ArgAction::SetTrue),
        ),
    )
    .subcommand(
        Command::new("logs")
            .arg(version())
            .arg(Arg::new("stream").long("stream").action(ArgAction::SetTrue)),
    )
    .subcommand(Command::new("use").arg(Arg::new("platform").num_args(0..=1)))
    .subcommand(
        Command::new("publish")
            .arg(version())
            .arg(
                Arg::new("application")
                    .long("application")
                    .num_args(1)
                    .required(true),
            )
            .arg(Arg::new("template-name").long("template-name").num_args(1))
            .arg(Arg::new("ami").long("ami").num_args(1))
            .arg(
                Arg::new("solution-stack")
                    .long("solution-stack")
                    .num_args(1),
            )
            .arg(Arg::new("platform-arn").long("platform-arn").num_args(1))
            .arg(Arg::new("environment").long("environment").num_args(1)),
    )
}

/// ebp's multi-letter single-dash flags, in clap's spelling.
fn normalise(rest: &[String]) -> Vec<String> {
    rest.iter()
        .map(|a| match a.as_str() {
            "-ip" => "--instance_profile".to_string(),
            "-var" => "--var".to_string(),
            "-var-file" => "--var-file".to_string(),
            s if s.starts_with("-var=") => format!("-{s}"),
            s if s.starts_with("-var-file=") => format!("-{s}"),
            _ => a.clone(),
        })
        .collect()
}

pub fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    if rest.is_empty()
        || rest
            .iter()
            .any(|a| matches!(a.as_str(), "-h" | "--help" | "-help"))
    {
        ui.say(HELP.trim_end());
        return if rest.is_empty() { 1 } else { 0 };
    }
    let m = match command().try_get_matches_from(normalise(rest)) {
        Ok(m) => m,
        Err(e) => {
            ui.say(HELP.trim_end());
            ui.error(e.to_string().trim_end());
            return 1;
        }
    };
    // ebp's --endpoint-url only redirects Elastic Beanstalk; aws-config reads this variable.
    if let Some(url) = m.get_one::<String>("endpoint-url") {
        std::env::set_var("AWS_ENDPOINT_URL_ELASTIC_BEANSTALK", url);
    }
    if let Some(p) = m.get_one::<String>("profile") {
        std::env::set_var("AWS_PROFILE", p);
    }
    let Some(rt) = crate::runtime(&*ui) else {
        return 1;
    };
    let (name, sub) = m.subcommand().expect("subcommand_required");
    let region = m.get_one::<String>("region").cloned();
    let result = rt.block_on(async {
        match name {
            "init" => init(&*ui, region, sub).await,
            "create" => create(&*ui, region, sub).await,
            "status" => status(&*ui, region, sub).await,
            "list" => list(&*ui, region, sub).await,
            "delete" => delete(&*ui, region, sub).await,
            "events" => events(&*ui, region, sub).await,
            "use" => use_platform(&*ui, region, sub).await,
            "logs" => logs(&*ui, region, sub).await,
            "publish" => publish(&*ui, region, sub).await,
            _ => unreachable!("clap knows the subcommands"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            ui.error(&format!("ERROR: {e:#}"));
            1
        }
    }
}

// --- the workspace --------------------------------------------------------------------------

struct Workspace {
    root: PathBuf,
    config: WorkspaceConfig,
}

impl Workspace {
    /// The nearest folder up from the current one that has `.elasticbeanstalk/`.
    fn find() -> Result<Workspace> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let root = cwd
            .ancestors()
            .find(|d| d.join(".elasticbeanstalk").is_dir())
            .map(Path::to_path_buf)
            .context("this folder is not a platform workspace: run `rpack platform init` first")?;
        Workspace::open(root)
    }

    fn open(root: PathBuf) -> Result<Workspace> {
        let path = root.join(".elasticbeanstalk/config.yml");
        let config = match crate::limits::read_text(&path, "workspace configuration") {
            Ok(t) => WorkspaceConfig::parse(&t)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
            Err(_) => WorkspaceConfig::default(),
        };
        Ok(Workspace { root, config })
    }

    fn save(&self) -> Result<()> {
        let dir = self.root.join(".elasticbeanstalk");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("config.yml");
        std::fs::write(&path, self.config.to_yaml())
            .with_context(|| format!("writing {}", path.display()))
    }

    fn region(&self, flag: Option<String>) -> Option<String> {
        flag.or_else(|| self.config.global("default_region"))
    }

    fn platform_name(&self) -> Result<String> {
        match self.config.global("platform_name") {
            Some(n) if self.config.global("workspace_type").as_deref() != Some("Application") => {
                Ok(n)
            }
            _ => bail!("this workspace has no platform name: run `rpack platform init NAME`"),
        }
    }
}

fn current_branch(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "default".into())
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

const NO_SUCH_VERSION: &str = "No such version exists for the current platform.";

/// A version as ebp's commands take it: `x.y.z` (of `name`), `name/x.y.z` or an ARN.
fn parse_version_arg(name: &str, arg: &str) -> Result<(String, String)> {
    if let Some(p) = version::parse_arn(arg) {
        return Ok(p);
    }
    let (n, v) = arg.rsplit_once('/').unwrap_or((name, arg));
    if version::valid_name(n) && version::parse(v).is_some() {
        return Ok((n.to_string(), v.to_string()));
    }
    bail!("{arg:?} is not a platform version: pass x.y.z, NAME/x.y.z or a platform ARN")
}

/// The ARN of a version argument, as ebcli's `version_to_arn`: an ARN as is; otherwise
/// ListPlatformVersions (owner self, name, version) and DescribePlatformVersion of what it
/// finds, whose answer comes back too.
async fn version_arn(
    api: &Api,
    name: &str,
    arg: &str,
) -> Result<(String, Option<PlatformDescription>)> {
    if version::parse_arn(arg).is_some() {
        return Ok((arg.to_string(), None));
    }
    let (n, v) = parse_version_arg(name, arg)?;
    lookup(api, &n, &v).await
}

/// `version` of `name` (`latest` for the newest): ListPlatformVersions, then
/// DescribePlatformVersion of the first answer (ebcli's `describe_custom_platform_version`).
async fn lookup(
    api: &Api,
    name: &str,
    version: &str,
) -> Result<(String, Option<PlatformDescription>)> {
    let found = api.list(Some(name), Some(version), None).await?;
    let Some(arn) = found.first().and_then(|p| p.platform_arn()) else {
        bail!("{NO_SUCH_VERSION} ({name}/{version} in {})", api.region);
    };
    let d = api.describe(arn).await?;
    Ok((arn.to_string(), Some(d)))
}

/// The newest version of `name` that is neither Failed nor Deleting (ebcli's
/// `get_latest_platform_version` with its default ignored states).
async fn latest_usable(api: &Api, name: &str) -> Result<Option<String>> {
    let latest = api.list(Some(name), Some("latest"), None).await?;
    Ok(latest
        .iter()
        .find(|p| {
            !matches!(
                p.platform_status().map(|s| s.as_str()),
                Some("Failed" | "Deleting")
            )
        })
        .and_then(|p| p.platform_version())
        .map(str::to_string))
}

/// The version a command works on: its `version` argument, else the workspace's, else the
/// newest usable one (which `status` also saves, like ebp).
async fn version_arg_or_workspace(
    api: &Api,
    ws: &mut Workspace,
    name: &str,
    m: &ArgMatches,
    save: bool,
) -> Result<String> {
    if let Some(v) = m.get_one::<String>("version") {
        return Ok(v.clone());
    }
    if let Some(v) = ws.config.global("platform_version") {
        return Ok(v);
    }
    let Some(v) = latest_usable(api, name).await? else {
        bail!(
            "{NO_SUCH_VERSION} ({name} has no usable version in {})",
            api.region
        )
    };
    if save {
        ws.config.set_global("platform_version", Some(&v));
        ws.save()?;
    }
    Ok(v)
}

// --- init / use / status / list -------------------------------------------------------------

async fn init(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let cwd = std::env::current_dir()?;
    let mut ws = Workspace::open(cwd.clone())?;
    if ws.config.global("workspace_type").as_deref() == Some("Application") {
        bail!(
            "this folder is an application workspace; platform commands need a platform workspace"
        );
    }
    let name_arg = m.get_one::<String>("name").cloned();
    // ebp: interactive with -i, and also when no name is given.
    let interactive = m.get_flag("interactive") || name_arg.is_none();
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
    let api = Api::load(explicit_region.as_deref()).await?;
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
    let mut key = m.get_one::<String>("keyname").cloned();
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
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "platform".into());
    let mut names: Vec<String> = platforms.iter().map(|(n, _)| n.clone()).collect();
    if !platforms.is_empty() {
        prompt.echo("");
        prompt.echo("Select a platform to use");
        names.push("[ Create new Platform ]".into());
        let default = names
            .iter()
            .position(|n| *n == folder)
            .map(|i| i + 1)
            .unwrap_or(names.len());
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

async fn use_platform(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let mut ws = Workspace::find()?;
    let api = Api::load(ws.region(region).as_deref()).await?;
    let (name, ver) = match m.get_one::<String>("platform") {
        // ebcli's _name_to_arn: an ARN, name/x.y.z, or a name (its latest version).
        Some(arg) => {
            let (arn, _) = match version::parse_arn(arg) {
                Some(_) => (arg.clone(), None),
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

/// What every command on an existing platform starts with: the workspace around the current
/// directory, an API client for its region (or `region`) and the platform's name.
async fn open_platform(region: Option<String>) -> Result<(Workspace, Api, String)> {
    let ws = Workspace::find()?;
    let api = Api::load(ws.region(region).as_deref()).await?;
    let name = ws.platform_name()?;
    Ok((ws, api, name))
}

async fn status(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let (mut ws, api, name) = open_platform(region).await?;
    let arg = version_arg_or_workspace(&api, &mut ws, &name, m, true).await?;
    let (arn, d) = version_arn(&api, &name, &arg).await?;
    print_status(ui, &api, &arn, d).await?;
    Ok(0)
}

async fn print_status(
    ui: &dyn Ui,
    api: &Api,
    arn: &str,
    d: Option<PlatformDescription>,
) -> Result<()> {
    let d = match d {
        Some(d) => d,
        None => api.describe(arn).await?,
    };
    let pair = |n: Option<&str>, v: Option<&str>| {
        format!("{} {}", n.unwrap_or(""), v.unwrap_or(""))
            .trim()
            .to_string()
    };
    let lang = d.programming_languages().first();
    let fw = d.frameworks().first();
    let date = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default()
    };
    ui.say(&format!("Platform: {arn}"));
    ui.say(&format!("Name: {}", d.platform_name().unwrap_or_default()));
    ui.say(&format!(
        "Version: {}",
        d.platform_version().unwrap_or_default()
    ));
    ui.say(&format!(
        "Maintainer: {}",
        d.maintainer().unwrap_or_default()
    ));
    ui.say(&format!(
        "Description: {}",
        d.description().unwrap_or_default()
    ));
    ui.say(&format!(
        "Framework: {}",
        pair(fw.and_then(|f| f.name()), fw.and_then(|f| f.version()))
    ));
    ui.say(&format!(
        "Operating System: {}",
        pair(d.operating_system_name(), d.operating_system_version())
    ));
    ui.say(&format!(
        "Programming Language: {}",
        pair(lang.and_then(|l| l.name()), lang.and_then(|l| l.version()))
    ));
    ui.say(&format!(
        "Supported Tiers: {}",
        d.supported_tier_list().join(", ")
    ));
    ui.say(&format!(
        "Status: {}",
        d.platform_status().map(|s| s.as_str()).unwrap_or_default()
    ));
    if let Some(ami) = d
        .custom_ami_list()
        .iter()
        .find(|a| a.virtualization_type() == Some("hvm"))
        .and_then(|a| a.image_id())
    {
        ui.say(&format!("AMI: {ami}"));
    }
    ui.say(&format!("Created: {}", date(d.date_created())));
    ui.say(&format!("Updated: {}", date(d.date_updated())));
    Ok(())
}

async fn list(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let ws = Workspace::find().ok();
    let region = ws
        .as_ref()
        .and_then(|w| w.region(region.clone()))
        .or(region);
    let api = Api::load(region.as_deref()).await?;
    let name = match (&ws, m.get_flag("all")) {
        (Some(w), false) => w.config.global("platform_name"),
        _ => None,
    };
    let mut all = api
        .list(
            name.as_deref(),
            None,
            m.get_one::<String>("status").map(String::as_str),
        )
        .await?;
    // ebp's order: by name, then by semantic version, newest first.
    all.sort_by_key(|p| {
        let arn = p.platform_arn().unwrap_or_default();
        let (n, v) = version::parse_arn(arn).unwrap_or_default();
        std::cmp::Reverse((n, version::parse(&v)))
    });
    for p in all {
        ui.say(&format!(
            "{}  Status: {}",
            p.platform_arn().unwrap_or_default(),
            p.platform_status().map(|s| s.as_str()).unwrap_or_default()
        ));
    }
    Ok(0)
}

// --- events / logs --------------------------------------------------------------------------

async fn events(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let (mut ws, api, name) = open_platform(region).await?;
    // ebp needs a version here; rpack falls back to the newest usable one.
    let arg = version_arg_or_workspace(&api, &mut ws, &name, m, false).await?;
    let (arn, _) = version_arn(&api, &name, &arg).await?;
    watch::events(ui, &api, &arn, m.get_flag("follow")).await?;
    Ok(0)
}

async fn logs(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let (mut ws, api, name) = open_platform(region).await?;
    // Like ebp, the log is found from the name and version alone; following it also needs the
    // version's status, so its ARN.
    let arg = version_arg_or_workspace(&api, &mut ws, &name, m, false).await?;
    let (n, v) = parse_version_arg(&name, &arg)?;
    if m.get_flag("stream") {
        let (arn, _) = version_arn(&api, &name, &arg).await?;
        ui.say(&format!("Streaming the builder log of {n}/{v} until the version is ready, failed or deleted (Ctrl-C stops)."));
        watch::logs(ui, &api, &n, &v, Some(&arn)).await?;
    } else {
        watch::logs(ui, &api, &n, &v, None).await?;
    }
    Ok(0)
}

// --- delete ---------------------------------------------------------------------------------

async fn delete(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let (_, api, name) = open_platform(region).await?;
    let force = m.get_flag("force");
    let arns: Vec<String> = if m.get_flag("cleanup") {
        let all = m.get_flag("all");
        let scope = if all { None } else { Some(name.as_str()) };
        let mut failed: Vec<String> = api
            .list(scope, None, Some("Failed"))
            .await?
            .iter()
            .filter_map(|p| p.platform_arn().map(str::to_string))
            .collect();
        failed.sort();
        if !failed.is_empty() && !force {
            let mut prompt = Prompter::stdio();
            if all {
                prompt.echo("Failed platform versions for \"All Platforms\" will be removed.");
                for a in &failed {
                    prompt.echo(a);
                }
                prompt.confirm("To confirm, type \"all\"", "all")?;
            } else {
                prompt.echo(&format!(
                    "Failed platform versions for \"{name}\" will be removed."
                ));
                prompt.confirm("To confirm, type the platform name", &name)?;
            }
        }
        failed
    } else {
        let Some(v) = m.get_one::<String>("version") else {
            bail!("pass the version to delete (or --cleanup to delete failed versions)")
        };
        let (arn, _) = version_arn(&api, &name, v).await?;
        if !force {
            let mut prompt = Prompter::stdio();
            prompt.echo(&format!(
                "The platform \"{arn}\" and all associated resources will be deleted."
            ));
            prompt.confirm("To confirm, type the platform arn", &arn)?;
        }
        vec![arn]
    };
    for arn in arns {
        let users = api.environments_using(&arn).await?;
        if !users.is_empty() {
            bail!(
                "platform version {arn} is in use by environment(s) {}; it cannot be deleted",
                users.join(", ")
            );
        }
        let rid = api.delete(&arn).await?;
        match watch::wait_for(
            ui,
            &api,
            &arn,
            rid.as_deref(),
            Duration::from_secs(600),
            None,
            &watch::DELETED,
        )
        .await?
        {
            Outcome::Success => {}
            Outcome::Failure(msg) => bail!("deleting {arn}: {msg}"),
            Outcome::TimedOut => bail!("{}", timeout_message("10")),
        }
    }
    Ok(0)
}

/// ebcli's `timeout.error`, with rpack's command.
fn timeout_message(minutes: &str) -> String {
    format!("rpack timed out after {minutes} minute(s). The operation might still be running. To keep viewing events, run 'rpack platform events -f'.")
}

// --- create ---------------------------------------------------------------------------------

/// `k=v,k2=v2` with ebcli's limits (keys ≤127, values ≤255, `[\w\s.:/+=@-]`).
pub(crate) fn parse_tags(s: &str) -> Result<Vec<Tag>> {
    let ok = |t: &str| {
        t.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:\\/+=@-".contains(c))
    };
    let mut out = Vec::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--tags: {pair:?} is not key=value")
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.chars().count() > 127 || !ok(k) {
            bail!("--tags: key {k:?} must be 1-127 characters of letters, digits, spaces and _.:/+=@-");
        }
        if v.chars().count() > 255 || !ok(v) {
            bail!("--tags: value {v:?} of {k} must be at most 255 characters of letters, digits, spaces and _.:/+=@-");
        }
        out.push(Tag::builder().key(k).value(v).build());
    }
    Ok(out)
}

fn template_vars(m: &ArgMatches) -> Result<TemplateVars> {
    let mut vars = Vec::new();
    for v in m.get_many::<String>("var").into_iter().flatten() {
        let Some((k, val)) = v.split_once('=') else {
            bail!("-var {v:?}: expected KEY=VALUE")
        };
        vars.push((k.to_string(), val.to_string()));
    }
    Ok(TemplateVars {
        files: m
            .get_many::<String>("var-file")
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        vars,
    })
}

/// `--timeout MIN`: whole minutes like ebp, or a fraction of one.
fn parse_minutes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
        _ => Err(format!("{s:?} is not a number of minutes")),
    }
}

async fn create(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let mut ws = Workspace::find()?;
    let name = ws.platform_name()?;
    let cwd = std::env::current_dir()?;
    let has_entries = std::fs::read_dir(&ws.root)?
        .flatten()
        .any(|e| !e.file_name().to_string_lossy().starts_with('.'));
    if !has_entries {
        bail!("the platform workspace {} is empty", ws.root.display());
    }
    if !cwd.join("platform.yaml").is_file() {
        bail!("Your workspace does not have a Platform Definition File, 'platform.yaml', in the root directory.");
    }
    let explicit = m.get_one::<String>("version").cloned();
    if let Some(v) = &explicit {
        if version::parse(v).is_none() {
            bail!("Invalid version format {v:?}: only ^\\d+\\.\\d+\\.\\d+$ is allowed");
        }
    }
    let tags = m
        .get_one::<String>("tags")
        .map(|t| parse_tags(t))
        .transpose()?
        .unwrap_or_default();
    // platform.yaml alone first: no AWS call for a definition that cannot work.
    let yaml_text = crate::limits::read_text(&cwd.join("platform.yaml"), "platform definition")?;
    yaml::parse_definition(&yaml_text)
        .map_err(|p| anyhow::anyhow!("platform.yaml is not valid:\n{p}"))?;

    let api = Api::load(ws.region(region).as_deref()).await?;
    let account = api.account_id().await?;
    let ver = match explicit {
        Some(v) => v,
        None => {
            // Failed and Deleting versions count (ebcli passes ignored_states=[]).
            let latest = api.list(Some(&name), Some("latest"), None).await?;
            let latest = latest
                .first()
                .and_then(|p| p.platform_version())
                .and_then(version::parse);
            let bump = version::Bump {
                major: m.get_flag("major"),
                minor: m.get_flag("minor"),
                patch: m.get_flag("patch"),
            };
            version::show(version::next(latest, bump))
        }
    };
    let arn = version::arn(&api.region, &account, &name, &ver);
    for (k, v) in check::platform_env(&name, &ver, &arn) {
        std::env::set_var(k, v);
    }
    let vars = template_vars(m)?;
    let checked = check::definition(&cwd, &api.region, &vars)
        .map_err(|p| anyhow::anyhow!("the platform definition is not valid:\n{}", p.join("\n")))?;
    let missing = check::source_ami_problems(&checked, &api).await?;
    if !missing.is_empty() {
        bail!(
            "the platform definition is not valid:\n{}",
            missing.join("\n")
        );
    }

    // The bundle: the workspace itself, or with --local-build a thin one starting from the AMI.
    let label = version::label(
        if bundle::source(&ws.root) == bundle::Source::Git {
            bundle::git_describe(&ws.root)
        } else {
            None
        }
        .as_deref(),
        chrono::Utc::now(),
    );
    let staging = ws.root.join(".elasticbeanstalk/app_versions");
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let zip_path = staging.join(format!("{label}.zip"));
    let healthd = yaml::with_healthd_settings(&checked.yaml_text, &checked.definition);
    let opts = bundle::Options {
        git_submodules: ws
            .config
            .global("include_git_submodules")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        ..Default::default()
    };
    let built_ami = if m.get_flag("local-build") {
        let ami = local_build(ui, &checked, &vars, &api.region).await?;
        let dir = staging.join(format!("{label}-thin"));
        thin_bundle(&checked, &ami, &api.region, &dir, healthd.as_deref())?;
        bundle::write(&dir, &zip_path, None, &opts)?;
        let _ = std::fs::remove_dir_all(&dir);
        Some(ami)
    } else {
        if bundle::source(&ws.root) == bundle::Source::Git && bundle::git_dirty(&ws.root) {
            ui.say(
                "WARNING: You have uncommitted changes; only files committed at HEAD are bundled.",
            );
        }
        let names = bundle::write(&ws.root, &zip_path, healthd.as_deref(), &opts)?;
        if let Some(w) = crate::platform::secret_files::warning(&names) {
            ui.say(&w);
        }
        None
    };

    let profile = m
        .get_one::<String>("instance-profile")
        .cloned()
        .or_else(|| ws.config.global("instance_profile"));
    let profile = match profile {
        Some(p) if p != BUILDER_PROFILE => p,
        _ => {
            if let Some(w) = api.ensure_instance_profile(BUILDER_PROFILE).await? {
                ui.say(&format!(
                    "WARNING: could not create instance profile {BUILDER_PROFILE}: {w}"
                ));
            }
            BUILDER_PROFILE.to_string()
        }
    };
    ws.config.set_global("instance_profile", Some(&profile));
    ws.save()?;

    let bucket = api.storage_location().await?;
    let key = format!("{name}/{label}.zip");
    ui.say(&format!(
        "Uploading {name}/{label}.zip to S3. This may take a while."
    ));
    let uploaded = api.upload(&bucket, &key, &zip_path).await;
    let _ = std::fs::remove_file(&zip_path);
    if uploaded? {
        ui.say("Upload Complete.");
    }

    let key_name = ws.config.global("default_ec2_keyname");
    let mut settings: Vec<ConfigurationOptionSetting> = vec![setting(
        "aws:autoscaling:launchconfiguration",
        "IamInstanceProfile",
        &profile,
    )];
    if let Some(k) = &key_name {
        settings.push(setting(
            "aws:autoscaling:launchconfiguration",
            "EC2KeyName",
            k,
        ));
    }
    if let Some(t) = m.get_one::<String>("instance-type") {
        settings.push(setting(
            "aws:autoscaling:launchconfiguration",
            "InstanceType",
            t,
        ));
    }
    if let Some(v) = m.get_one::<String>("vpc-id") {
        settings.push(setting("aws:ec2:vpc", "VPCId", v));
    }
    if let Some(v) = m.get_one::<String>("vpc-subnets") {
        settings.push(setting("aws:ec2:vpc", "Subnets", v));
    }
    if m.get_flag("vpc-publicip") {
        settings.push(setting("aws:ec2:vpc", "AssociatePublicIpAddress", "true"));
    }
    for (ns, n, v) in yaml::HEALTHD_SETTINGS {
        settings.push(setting(ns, n, v));
    }
    let (arn, request_id) = match api.create(&name, &ver, &bucket, &key, settings, tags).await {
        Ok(r) => r,
        Err(e) => {
            ui.error(&format!("ERROR: {e:#}"));
            ui.error("Elastic Beanstalk rejected CreatePlatformVersion. AWS retired custom platforms in 2022; build the AMI with `rpack platform create --local-build` or `rpack build`, then run it on a managed platform with `rpack platform publish --ami AMI --application APP --solution-stack STACK`.");
            if let Some(ami) = built_ami {
                ui.error(&format!("The locally built AMI is {ami}."));
            }
            return Ok(1);
        }
    };
    ui.say(&format!("Note: An environment called '{BUILDER_ENV}' has been created in order to build your platform before it can be used. You can terminate it when no platform build is running."));
    ws.config.set_global("platform_version", Some(&ver));
    ws.config
        .set_branch_environment(&current_branch(&ws.root), BUILDER_ENV);
    ws.save()?;
    // ebp waits 30 minutes unless told otherwise, and not at all with --timeout 0.
    let minutes = m
        .get_one::<String>("timeout")
        .cloned()
        .unwrap_or_else(|| "30".into());
    let timeout = parse_minutes(&minutes).map_err(anyhow::Error::msg)?;
    if timeout == 0.0 {
        return Ok(0);
    }
    let mut log = LogTail::new(&name, &ver);
    match watch::wait_for(
        ui,
        &api,
        &arn,
        request_id.as_deref(),
        Duration::from_secs_f64(timeout * 60.0),
        Some(&mut log),
        &watch::CREATED,
    )
    .await?
    {
        Outcome::Success => Ok(0),
        Outcome::Failure(msg) => {
            ui.error(&format!("ERROR: {msg}"));
            Ok(1)
        }
        Outcome::TimedOut => {
            ui.error(&format!("ERROR: {}", timeout_message(&minutes)));
            Ok(1)
        }
    }
}

/// Builds the definition's template with this rpack (`build -machine-readable`) and returns the
/// AMI built in `region`; the build's own messages are shown as they come.
async fn local_build(
    ui: &dyn Ui,
    checked: &check::Checked,
    vars: &TemplateVars,
    region: &str,
) -> Result<String> {
    use tokio::io::AsyncBufReadExt;
    let exe = std::env::current_exe().context("locating the rpack executable")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("build").arg("-machine-readable");
    for f in &vars.files {
        cmd.arg(format!("-var-file={f}"));
    }
    for (k, v) in &vars.vars {
        cmd.arg(format!("-var={k}={v}"));
    }
    cmd.arg(&checked.template_path)
        .stdout(std::process::Stdio::piped());
    ui.say(&format!(
        "Building the platform AMI locally from {}",
        checked.template_path.display()
    ));
    let mut child = cmd.spawn().context("starting rpack build")?;
    let stdout = child.stdout.take().context("rpack build stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut amis = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let f: Vec<&str> = line.splitn(6, ',').collect();
        if f.len() >= 4 && f[2] == "ui" {
            let text = f[3..].join(",");
            let text = text
                .split_once(',')
                .map(|(_, t)| t)
                .unwrap_or(&text)
                .replace("%!(PACKER_COMMA)", ",")
                .replace("\\n", "\n");
            ui.say(&text);
        } else if f.len() >= 6 && f[2] == "artifact" && f[4] == "id" {
            amis.extend(f[5].split(',').map(str::to_string));
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!(
            "the local build of {} failed",
            checked.template_path.display()
        );
    }
    amis.iter()
        .find_map(|a| {
            a.split_once(':')
                .filter(|(r, _)| *r == region)
                .map(|(_, ami)| ami.to_string())
        })
        .with_context(|| {
            format!(
                "the local build produced no AMI in {region} (artifacts: {})",
                amis.join(", ")
            )
        })
}

/// The definition EB's builder gets after a local build: platform.yaml as is, and a template
/// whose amazon-ebs builder starts from `ami` with no provisioners of the user's, so EB's
/// builder only adds its bootstrap.
fn thin_bundle(
    checked: &check::Checked,
    ami: &str,
    region: &str,
    dir: &Path,
    yaml_text: Option<&str>,
) -> Result<()> {
    let raw = crate::limits::read_text(&checked.template_path, "template")?;
    let tpl: serde_json::Value = serde_json::from_str(&raw)
        .with_context(|| format!("reading {}", checked.template_path.display()))?;
    let builder = tpl["builders"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "amazon-ebs"))
        .context("the template has no amazon-ebs builder")?;
    let mut thin = serde_json::Map::new();
    for k in [
        "type",
        "name",
        "instance_type",
        "ssh_username",
        "ssh_pty",
        "ssh_timeout",
        "ami_description",
    ] {
        if let Some(v) = builder.get(k) {
            thin.insert(k.into(), v.clone());
        }
    }
    thin.insert("region".into(), region.into());
    thin.insert("source_ami".into(), ami.into());
    thin.insert(
        "ami_name".into(),
        "{{user `platform_name`}}-{{user `platform_version`}}-{{timestamp}}".into(),
    );
    thin.insert(
        "tags".into(),
        serde_json::json!({"eb_platform_name": "{{user `platform_name`}}", "eb_platform_version": "{{user `platform_version`}}", "eb_platform_arn": "{{user `platform_arn`}}", "rpack_base_ami": ami}),
    );
    let mut variables = tpl["variables"].as_object().cloned().unwrap_or_default();
    variables.insert(
        "platform_name".into(),
        "{{env `AWS_EB_PLATFORM_NAME`}}".into(),
    );
    variables.insert(
        "platform_version".into(),
        "{{env `AWS_EB_PLATFORM_VERSION`}}".into(),
    );
    variables.insert(
        "platform_arn".into(),
        "{{env `AWS_EB_PLATFORM_ARN`}}".into(),
    );
    let doc = serde_json::json!({
        "description": format!("Thin Elastic Beanstalk platform template: starts from {ami}, built locally by rpack"),
        "variables": variables,
        "builders": [thin],
        "provisioners": [{"type": "shell", "inline": [format!("echo 'platform AMI built by rpack from {}'", checked.definition.template)]}]
    });
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("platform.yaml"),
        yaml_text.unwrap_or(&checked.yaml_text),
    )?;
    std::fs::write(
        dir.join(&checked.definition.template),
        serde_json::to_string_pretty(&doc)?,
    )?;
    Ok(())
}

// --- publish --------------------------------------------------------------------------------

async fn publish(ui: &dyn Ui, region: Option<String>, m: &ArgMatches) -> Result<i32> {
    let (mut ws, api, name) = open_platform(region).await?;
    let yaml_text =
        crate::limits::read_text(&ws.root.join("platform.yaml"), "platform definition")?;
    let def = yaml::parse_definition(&yaml_text)
        .map_err(|p| anyhow::anyhow!("platform.yaml is not valid:\n{p}"))?;
    let (ami, ver) = match m.get_one::<String>("ami") {
        Some(a) => (
            a.clone(),
            m.get_one::<String>("version")
                .cloned()
                .or_else(|| ws.config.global("platform_version"))
                .unwrap_or_else(|| "0.0.0".into()),
        ),
        None => {
            let arg = version_arg_or_workspace(&api, &mut ws, &name, m, false).await?;
            let (arn, d) = version_arn(&api, &name, &arg).await?;
            let d = match d {
                Some(d) => d,
                None => api.describe(&arn).await?,
            };
            let ami = d
                .custom_ami_list()
                .iter()
                .find(|a| a.virtualization_type() == Some("hvm"))
                .and_then(|a| a.image_id())
                .map(str::to_string);
            (
                ami.with_context(|| format!("{arn} has no AMI yet: pass --ami"))?,
                d.platform_version().unwrap_or_default().to_string(),
            )
        }
    };
    let stack = m.get_one::<String>("solution-stack").map(String::as_str);
    let platform_arn = m.get_one::<String>("platform-arn").map(String::as_str);
    if stack.is_none() == platform_arn.is_none() {
        bail!(
            "pass exactly one of --solution-stack (a managed platform's stack) or --platform-arn"
        );
    }
    let app = m.get_one::<String>("application").expect("required");
    let template = m
        .get_one::<String>("template-name")
        .cloned()
        .unwrap_or_else(|| format!("{name}-{}", ver.replace('.', "-")));
    let mut settings = vec![setting(
        "aws:autoscaling:launchconfiguration",
        "ImageId",
        &ami,
    )];
    for d in &def.option_definitions {
        settings.push(setting(
            "aws:elasticbeanstalk:application:environment",
            &d.option_name,
            d.default_value.as_deref().unwrap_or(""),
        ));
    }
    for s in &def.option_settings {
        settings.push(setting(&s.namespace, &s.option_name, &s.value));
    }
    let description = format!("{name} {ver}: custom AMI {ami} (rpack platform publish)");
    api.create_configuration_template(app, &template, platform_arn, stack, &description, settings)
        .await?;
    ui.say(&format!(
        "Created saved configuration '{template}' of application '{app}' with AMI {ami}."
    ));
    if let Some(env) = m.get_one::<String>("environment") {
        api.update_environment(env, &template).await?;
        ui.say(&format!(
            "Updating environment '{env}' to saved configuration '{template}'."
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_ebcli_rules() {
        let t = parse_tags("a=1, team = web ops,x/y=z:w").unwrap();
        let pairs: Vec<_> = t
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("team".into(), "web ops".into()),
                ("x/y".into(), "z:w".into())
            ]
        );
        assert!(parse_tags("novalue").is_err());
        assert!(parse_tags("a=b;c").is_err());
        assert!(parse_tags(&format!("{}=v", "k".repeat(128))).is_err());
    }

    #[test]
    fn ebp_flags_are_accepted() {
        let m = command()
            .try_get_matches_from(normalise(&[
                "create".into(),
                "-M".into(),
                "-ip".into(),
                "prof".into(),
                "--vpc.publicip".into(),
                "-var".into(),
                "a=b".into(),
            ]))
            .unwrap();
        let (_, c) = m.subcommand().unwrap();
        assert!(c.get_flag("major") && c.get_flag("vpc-publicip"));
        assert_eq!(
            c.get_one::<String>("instance-profile").map(String::as_str),
            Some("prof")
        );
        assert_eq!(
            template_vars(c).unwrap().vars,
            vec![("a".to_string(), "b".to_string())]
        );
    }
}
