//! `cleanup [BUILD-ID] [--older-than D] [--region R]… [--endpoint-url URL] [--yes]`.

use clap::{Arg, ArgAction, Command};

use super::{args, Output};
use crate::ledger::sweep::{self, Options};
use crate::ui::Secrets;

pub(super) const HELP: &str = "Usage: rpack cleanup [options] [BUILD-ID]

  Lists, and with --yes deletes, the cloud resources that interrupted or crashed
  rpack builds left behind: instances, key pairs, security groups, instance
  profiles, and the AMIs and snapshots of builds that did not finish. It reads
  the builds' ledgers and, for builds without a ledger on this machine, the
  rpack:build-id tags in each region.

Options:

  --yes                  Delete (without it, only list what would be deleted).
  --older-than=DURATION  Only builds started at least this long ago (30m, 2h, 72h).
  --region=REGION        Region to scan for tagged resources (repeatable; default all).
  --endpoint-url=URL     EC2/IAM endpoint (default: the build's, or AWS_ENDPOINT_URL).
";

pub(super) fn command() -> Command {
    Command::new("cleanup")
        .no_binary_name(true)
        .disable_help_flag(true)
        .arg(Arg::new("yes").long("yes").action(ArgAction::SetTrue))
        .arg(Arg::new("older-than").long("older-than").num_args(1))
        .arg(
            Arg::new("region")
                .long("region")
                .num_args(1)
                .action(ArgAction::Append),
        )
        .arg(Arg::new("endpoint-url").long("endpoint-url").num_args(1))
        .arg(Arg::new("build-id").num_args(0..=1))
}

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    let m = match command().try_get_matches_from(args::normalise(rest)) {
        Ok(m) => m,
        Err(e) => {
            ui.say(HELP);
            ui.error(&e.to_string());
            return 1;
        }
    };
    let older_than = match m
        .get_one::<String>("older-than")
        .map(|s| sweep::parse_age(s))
        .transpose()
    {
        Ok(v) => v,
        Err(e) => {
            ui.error(&format!("{e:#}"));
            return 1;
        }
    };
    let opts = Options {
        build_id: m.get_one::<String>("build-id").cloned(),
        older_than,
        yes: m.get_flag("yes"),
        regions: m
            .get_many::<String>("region")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
        endpoint_url: m.get_one::<String>("endpoint-url").cloned(),
    };
    let Some(rt) = crate::runtime(&*ui) else {
        return 1;
    };
    match rt.block_on(sweep::run(&opts, &*ui)) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&format!("Error: {e:#}"));
            1
        }
    }
}
