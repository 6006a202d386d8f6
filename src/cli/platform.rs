//! `rpack platform init|create|status|list|delete|events|logs|use|publish`: the `ebp` commands
//! with their arguments, prompts and workspace (`.elasticbeanstalk/config.yml`), plus `create
//! --local-build` (rpack builds the AMI, EB only registers it) and `publish` (a saved
//! configuration using the AMI on a managed platform, the path AWS still supports).
//!
//! The requests match ebp's (the ebp_parity integration test compares them) except where ebp
//! is wrong: `--tags` works, platform.yaml is not rewritten for the healthd settings,
//! DeletePlatformVersion goes without ebcli's private `DeleteResources` parameter, and
//! `events -f`/`logs --stream` stop once the version is Ready, Failed or deleted.

use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::Output;
use crate::platform::create::parse_minutes;
use crate::platform::{
    self, CreateOptions, DeleteOptions, Global, InitOptions, ListOptions, PublishOptions,
};
use crate::ui::{Secrets, Ui};

pub(super) const HELP: &str = "Usage: rpack platform <command> [options]

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

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui: Arc<dyn Ui> = Arc::from(out.ui(Secrets::default()));
    if rest.is_empty()
        || rest
            .iter()
            .any(|a| matches!(a.as_str(), "-h" | "--help" | "-help"))
    {
        ui.say(HELP.trim_end());
        return i32::from(rest.is_empty());
    }
    let m = match command().try_get_matches_from(normalise(rest)) {
        Ok(m) => m,
        Err(e) => {
            ui.say(HELP.trim_end());
            ui.error(e.to_string().trim_end());
            return 1;
        }
    };
    let global = Global {
        region: m.get_one::<String>("region").cloned(),
        profile: m.get_one::<String>("profile").cloned(),
        endpoint_url: m.get_one::<String>("endpoint-url").cloned(),
    };
    let Some(rt) = crate::runtime(&*ui) else {
        return 1;
    };
    let (name, sub) = m.subcommand().expect("subcommand_required");
    let version = sub
        .try_get_one::<String>("version")
        .ok()
        .flatten()
        .map(String::as_str);
    let g = &global;
    let result = rt.block_on(async {
        match name {
            "init" => platform::init(&*ui, g, &init_options(sub)).await,
            "create" => platform::create(ui.clone(), g, &create_options(sub)).await,
            "status" => platform::status(&*ui, g, version).await,
            "list" => platform::list(&*ui, g, &list_options(sub)).await,
            "delete" => platform::delete(&*ui, g, &delete_options(sub)).await,
            "events" => platform::events(&*ui, g, version, sub.get_flag("follow")).await,
            "use" => {
                let p = sub.get_one::<String>("platform").map(String::as_str);
                platform::use_platform(&*ui, g, p).await
            }
            "logs" => platform::logs(&*ui, g, version, sub.get_flag("stream")).await,
            "publish" => platform::publish(&*ui, g, &publish_options(sub)).await,
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

fn string(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_one::<String>(id).cloned()
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

fn init_options(m: &ArgMatches) -> InitOptions {
    InitOptions {
        name: string(m, "name"),
        interactive: m.get_flag("interactive"),
        keyname: string(m, "keyname"),
    }
}

fn create_options(m: &ArgMatches) -> CreateOptions {
    CreateOptions {
        version: string(m, "version"),
        major: m.get_flag("major"),
        minor: m.get_flag("minor"),
        patch: m.get_flag("patch"),
        instance_type: string(m, "instance-type"),
        instance_profile: string(m, "instance-profile"),
        vpc_id: string(m, "vpc-id"),
        vpc_subnets: string(m, "vpc-subnets"),
        vpc_publicip: m.get_flag("vpc-publicip"),
        timeout: string(m, "timeout"),
        tags: string(m, "tags"),
        local_build: m.get_flag("local-build"),
        vars: strings(m, "var"),
        var_files: strings(m, "var-file"),
    }
}

fn list_options(m: &ArgMatches) -> ListOptions {
    ListOptions {
        all: m.get_flag("all"),
        status: string(m, "status"),
    }
}

fn delete_options(m: &ArgMatches) -> DeleteOptions {
    DeleteOptions {
        version: string(m, "version"),
        cleanup: m.get_flag("cleanup"),
        all: m.get_flag("all"),
        force: m.get_flag("force"),
    }
}

fn publish_options(m: &ArgMatches) -> PublishOptions {
    PublishOptions {
        version: string(m, "version"),
        application: string(m, "application").expect("clap requires --application"),
        template_name: string(m, "template-name"),
        ami: string(m, "ami"),
        solution_stack: string(m, "solution-stack"),
        platform_arn: string(m, "platform-arn"),
        environment: string(m, "environment"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(create_options(c).vars, vec!["a=b".to_string()]);
    }
}
