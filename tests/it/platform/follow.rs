//! Following a create (builder log streaming), the interactive prompts, and transcripts.

use super::*;

/// create streams the builder's log beside its events (as ebp does); `events -f` and
/// `logs --stream` follow a version that is still being built until it is ready.
#[test]
fn create_streams_the_builder_log_and_followers_stop_when_the_version_is_final() {
    let w = ws();
    let d = w.definition("stream");
    w.ok(&d, &["init", "stream"]);
    let out = w.ok(&d, &["create"]);
    let banner = out
        .find("============= 1.0.0 - /aws/elasticbeanstalk/platform/stream ==============")
        .unwrap_or_else(|| panic!("no log banner:\n{out}"));
    for line in [
        "build.rb: Creating CloudWatch log group '/aws/elasticbeanstalk/platform/stream'.",
        "build.rb: Invoking 'packer build'...",
        "==> HVM AMI builder: Creating the AMI: stream",
        "build.rb: Successfully built AMI(s): 'ami-",
    ] {
        assert!(out[banner..].contains(line), "{line} not streamed:\n{out}");
    }
    let done = out
        .find("Successfully created platform version 'stream/1.0.0'.")
        .unwrap();
    assert!(
        out.rfind("build.rb: Successfully built AMI(s)").unwrap() < done,
        "the whole log before the final event:\n{out}"
    );
    let logs: Vec<&str> = w
        .requests()
        .iter()
        .filter(|r| r["service"] == "logs")
        .filter_map(|r| r["action"].as_str())
        .map(|_| "logs")
        .collect();
    assert!(!logs.is_empty(), "CloudWatch Logs was read");

    // A version still building: both followers start now and end when it is Ready.
    w.knobs(serde_json::json!({"build_seconds": 3.0}));
    w.ok(&d, &["create", "--timeout", "0"]);
    assert!(w.ok(&d, &["status"]).contains("Status: Creating"));
    let started = Instant::now();
    let events = w.spawn(&d, &["events", "-f"]);
    let logs = w.spawn(&d, &["logs", "--stream"]);
    let (events, logs) = (
        finish(events, Duration::from_secs(30)),
        finish(logs, Duration::from_secs(30)),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "they followed the build: {:?}",
        started.elapsed()
    );
    let (e, l) = (text(&events), text(&logs));
    assert!(events.status.success() && logs.status.success(), "{e}\n{l}");
    assert!(
        e.contains("createPlatform is starting.")
            && e.trim_end()
                .ends_with("Successfully created platform version 'stream/1.0.1'."),
        "{e}"
    );
    assert_eq!(
        e.matches("createPlatform is starting.").count(),
        1,
        "each event once: {e}"
    );
    assert!(
        l.contains("build.rb: Downloading EB bootstrap script")
            && l.contains("build.rb: Successfully built AMI(s): 'ami-"),
        "{l}"
    );
    assert_eq!(
        l.matches("Invoking 'packer build'").count(),
        1,
        "each line once: {l}"
    );
    // A final version: nothing to wait for.
    let started = Instant::now();
    w.ok(&d, &["events", "-f", "1.0.0"]);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// ebp's prompts, answered on stdin: `init` without a name (region, name, key pair),
/// `init -i` picking an existing platform and a new key pair, `use` without a platform, and
/// delete/cleanup asking to type the ARN or name.
#[test]
fn prompts_for_init_use_and_delete() {
    let w = ws();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ec2 = crate::support::client(w.moto.endpoint(), REGION);
    rt.block_on(ec2.create_key_pair().key_name("kp-one").send())
        .unwrap();

    let d = w.definition("iplat");
    let (ok, out) = w.answering(&d, &["init"], "1\n\ny\n1\n");
    assert!(ok, "{out}");
    for shown in [
        "Select a default region\n1) us-east-1 : US East (N. Virginia)\n2) us-west-1 : US West (N. California)\n",
        "34) ap-southeast-5 : Asia Pacific (Malaysia)\n(default is 3): \n",
        "Enter Platform Name\n(default is \"iplat\"): ",
        "Would you like to be able to log into your platform packer environment?\n(Y/n): ",
        "Select a keypair.\n1) kp-one\n2) [ Create new KeyPair ]\n(default is 1): ",
    ] {
        assert!(out.contains(shown), "{shown:?} not in:\n{out}");
    }
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "default_region: us-east-1",
        "platform_name: iplat",
        "default_ec2_keyname: kp-one",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }
    w.ok(&d, &["create"]);

    // init -i elsewhere: the existing platform, then a new key pair.
    let o = w.definition("other");
    let (ok, out) = w.answering(&o, &["init", "-i", "-r", REGION], "1\ny\n2\n\n");
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "Select a platform to use\n1) iplat\n2) [ Create new Platform ]\n(default is 2): "
        ),
        "{out}"
    );
    assert!(
        out.contains("Type a keypair name.\n(Default is aws-eb): "),
        "{out}"
    );
    assert!(
        !out.contains("Select a default region"),
        "--region was given: {out}"
    );
    let config = std::fs::read_to_string(o.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "platform_name: iplat",
        "platform_version: 1.0.0",
        "default_ec2_keyname: aws-eb",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }
    let key = std::fs::read_to_string(w.dir.join(".ssh/aws-eb")).unwrap();
    assert!(
        key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{key}"
    );
    let pairs = rt.block_on(ec2.describe_key_pairs().send()).unwrap();
    assert!(
        pairs
            .key_pairs()
            .iter()
            .any(|k| k.key_name() == Some("aws-eb")),
        "imported: {pairs:?}"
    );

    // use without a platform: the list again, or a new name.
    let (ok, out) = w.answering(&o, &["use"], "1\n");
    assert!(
        ok && out.contains("Setting workspace platform version to:")
            && out.contains("Version: 1.0.0"),
        "{out}"
    );
    let (ok, out) = w.answering(&o, &["use"], "2\n\n");
    assert!(ok, "{out}");
    assert!(
        out.contains("Enter Platform Name\n(default is \"other\"): ")
            && out.contains("New platform \"other\""),
        "{out}"
    );
    let config = std::fs::read_to_string(o.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(
        config.contains("platform_name: other") && config.contains("platform_version: null"),
        "{config}"
    );

    // delete asks for the ARN; a wrong answer deletes nothing.
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/iplat/1.0.0");
    let (ok, out) = w.answering(&d, &["delete", "1.0.0"], "iplat\n");
    assert!(!ok && out.contains("Names do not match. Exiting."), "{out}");
    assert!(!w.actions().iter().any(|a| a == "DeletePlatformVersion"));
    let (ok, out) = w.answering(&d, &["delete", "1.0.0"], &format!("{arn}\n"));
    assert!(
        ok && out.contains("Successfully deleted platform version 'iplat/1.0.0'."),
        "{out}"
    );

    // --cleanup asks for the platform name. (1.0.0 is gone, so the failed version is 1.0.0.)
    std::fs::write(d.join(".ebignore"), "platform.yaml\n").unwrap();
    w.fails(&d, &["create"]);
    let (ok, out) = w.answering(&d, &["delete", "--cleanup"], "iplat\n");
    assert!(ok, "{out}");
    assert!(out.contains("Failed platform versions for \"iplat\" will be removed.\nTo confirm, type the platform name: "), "{out}");
    assert!(
        out.contains("Successfully deleted platform version 'iplat/1.0.0'."),
        "{out}"
    );
}

/// The transcripts of `rpack platform init`, `status`, `list` and `events` around a `create`,
/// as a person sees them, against moto's EB custom-platform API. (`create` itself interleaves
/// events and builder log lines as the polls find them, so its own output is not pinned.)
#[test]
fn transcripts_of_init_status_list_and_events() {
    let w = ws();
    let d = w.definition("snap");
    let mut all = String::new();
    for args in [
        &["init", "snap", "-k", "my-key", "-r", REGION][..],
        &["create"][..],
        &["status"][..],
        &["list"][..],
        &["events"][..],
    ] {
        let out = w.rpack(&d, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        if args[0] == "create" {
            continue;
        }
        all.push_str(&format!(
            "$ rpack platform {}\n{}",
            args.join(" "),
            crate::support::transcript::transcript(&out)
        ));
    }
    let filters = crate::support::transcript::filters(&w.dir);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(p, r)| (p.as_str(), *r)).collect();
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("transcripts_platform_init_status_list_events", all);
    });
}
