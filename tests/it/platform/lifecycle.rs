//! The platform lifecycle: init, create, status, list, events, delete, version bumping,
//! validation before upload, --local-build and publish.

use super::*;

#[test]
fn init_create_status_list_events_delete() {
    let w = ws();
    let d = w.definition("p1");
    w.ok(&d, &["init", "p1", "-k", "my-key", "-r", REGION]);
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "application_name: Custom Platform Builder",
        "default_region: us-east-1",
        "workspace_type: Platform",
        "platform_name: p1",
        "default_ec2_keyname: my-key",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }

    // ebp 3.27.1 crashes on --tags (it validates the already converted list again).
    let out = w.ok(&d, &["create", "--tags", "team=web,env=ci"]);
    assert!(out.contains("createPlatform is starting."), "{out}");
    assert!(
        out.contains("Successfully created platform version 'p1/1.0.0'."),
        "{out}"
    );
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(
        config.contains("platform_version: 1.0.0")
            && config.contains("instance_profile: aws-elasticbeanstalk-custom-platform-ec2-role"),
        "{config}"
    );
    assert!(
        config.contains("environment: eb-custom-platform-builder-packer"),
        "{config}"
    );
    assert!(
        !d.join(".elasticbeanstalk/app_versions")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the local zip is deleted after upload"
    );

    let creates = w.create_requests();
    assert_eq!(creates.len(), 1);
    let p = &creates[0]["params"];
    assert_eq!(p["PlatformName"], "p1");
    assert_eq!(p["PlatformVersion"], "1.0.0");
    assert_eq!(p["PlatformDefinitionBundle.S3Bucket"], BUCKET);
    let key = p["PlatformDefinitionBundle.S3Key"].as_str().unwrap();
    assert!(key.starts_with("p1/app-") && key.ends_with(".zip"), "{key}");
    assert_eq!(
        p["OptionSettings.member.1.OptionName"],
        "IamInstanceProfile"
    );
    assert_eq!(p["OptionSettings.member.2.OptionName"], "EC2KeyName");
    assert_eq!(p["OptionSettings.member.2.Value"], "my-key");
    assert_eq!(p["OptionSettings.member.3.Value"], "enhanced");
    assert_eq!(
        p["OptionSettings.member.4.Value"],
        "aws-elasticbeanstalk-service-role"
    );
    assert_eq!(
        (&p["Tags.member.1.Key"], &p["Tags.member.1.Value"]),
        (&"team".into(), &"web".into())
    );
    assert_eq!(
        (&p["Tags.member.2.Key"], &p["Tags.member.2.Value"]),
        (&"env".into(), &"ci".into())
    );
    assert_eq!(
        sorted(&creates[0]["bundle_files"]),
        vec![
            "./",
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
    let actions = w.actions();
    for a in [
        "CreateInstanceProfile",
        "CreateRole",
        "AttachRolePolicy",
        "AddRoleToInstanceProfile",
        "CreateStorageLocation",
        "PutObject",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not in {actions:?}");
    }

    let status = w.ok(&d, &["status"]);
    assert!(
        status.contains("Status: Ready")
            && status.contains("Maintainer: rpack tests")
            && status.contains("AMI: ami-"),
        "{status}"
    );
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/p1/1.0.0");
    assert_eq!(w.ok(&d, &["list"]).trim(), format!("{arn}  Status: Ready"));
    let events = w.ok(&d, &["events"]);
    let first = events.lines().next().unwrap();
    assert!(
        first.ends_with("INFO    createPlatform is starting."),
        "{events}"
    );
    assert!(
        events
            .lines()
            .last()
            .unwrap()
            .contains("Successfully created platform version 'p1/1.0.0'."),
        "{events}"
    );

    let logs = w.ok(&d, &["logs"]);
    assert!(
        logs.contains(
            "build.rb: Creating CloudWatch log group '/aws/elasticbeanstalk/platform/p1'."
        ),
        "{logs}"
    );
    assert!(
        logs.contains("==> HVM AMI builder: Creating the AMI: p1"),
        "{logs}"
    );
    assert!(
        logs.contains("build.rb: Successfully built AMI(s): 'ami-"),
        "{logs}"
    );

    // Without --force it asks (and there is no answer here).
    let out = w.fails(&d, &["delete", "1.0.0"]);
    assert!(out.contains(&format!("The platform \"{arn}\" and all associated resources will be deleted.\nTo confirm, type the platform arn: ")), "{out}");
    assert!(
        !w.actions().iter().any(|a| a == "DeletePlatformVersion"),
        "nothing deleted without an answer"
    );
    let out = w.ok(&d, &["delete", "1.0.0", "--force"]);
    assert!(
        out.contains("Successfully deleted platform version 'p1/1.0.0'."),
        "{out}"
    );
    assert_eq!(w.ok(&d, &["list"]).trim(), "");
}

#[test]
fn versions_bump_like_ebp_and_failed_versions_count() {
    let w = ws();
    let d = w.definition("bump");
    w.ok(&d, &["init", "bump"]);
    let created = |args: &[&str]| {
        let out = w.ok(&d, args);
        let line = out
            .lines()
            .find(|l| l.contains("Successfully created platform version"))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        line.split("'bump/")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(created(&["create"]), "1.0.0");
    assert_eq!(created(&["create"]), "1.0.1");
    assert_eq!(created(&["create", "-p"]), "1.0.2");
    assert_eq!(created(&["create", "-m"]), "1.1.0");
    assert_eq!(created(&["create", "-M", "-p"]), "2.0.1");
    assert_eq!(created(&["create", "-M", "-m"]), "3.1.0");
    assert_eq!(created(&["create", "7.0.0", "-M"]), "7.0.0");
    let out = w.fails(&d, &["create", "7.0"]);
    assert!(out.contains("Invalid version format"), "{out}");

    // A bundle without platform.yaml fails on EB's side; the failed version still counts.
    std::fs::write(d.join(".ebignore"), "platform.yaml\n").unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("Failed to create platform version 'bump/7.0.1'."),
        "{out}"
    );
    assert!(out.contains("cannot find platform.yaml in bundle"), "{out}");
    std::fs::remove_file(d.join(".ebignore")).unwrap();
    assert_eq!(created(&["create"]), "7.0.2");
    let list = w.ok(&d, &["list", "-s", "Failed"]);
    assert_eq!(
        list.trim(),
        format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/bump/7.0.1  Status: Failed")
    );
    // `use` selects a version for status/events; `status X` looks one up without selecting it.
    let out = w.ok(&d, &["use", "bump/1.0.1"]);
    assert!(
        out.contains("Version: 1.0.1") && out.contains("Status: Ready"),
        "{out}"
    );
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(config.contains("platform_version: 1.0.1"), "{config}");
    assert!(w.ok(&d, &["status"]).contains("Version: 1.0.1"));
    let out = w.ok(&d, &["status", "7.0.1"]);
    assert!(out.contains("Status: Failed"), "{out}");
    let out = w.ok(&d, &["delete", "--cleanup", "--force"]);
    assert!(
        out.contains("Successfully deleted platform version 'bump/7.0.1'."),
        "{out}"
    );
}

#[test]
fn invalid_definitions_stop_before_any_upload() {
    let w = ws();
    let d = w.definition("bad");
    w.ok(&d, &["init", "bad"]);
    std::fs::write(
        d.join("platform.yaml"),
        PLATFORM_YAML
            .replace("type: packer", "type: chef")
            .replace("custom:nodejs", "nodejs"),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("platform.yaml:3: provisioner.type: must be packer, not \"chef\""),
        "{out}"
    );
    assert!(
        out.contains("platform.yaml:10: option_definitions[0].namespace:"),
        "{out}"
    );

    std::fs::write(d.join("platform.yaml"), PLATFORM_YAML).unwrap();
    std::fs::write(d.join("custom_platform.json"), template("eu-west-1")).unwrap();
    std::fs::write(d.join("builder/builder.sh"), "#!/bin/bash\r\necho hi\r\n").unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("builds in region \"eu-west-1\", but the platform is created in us-east-1"),
        "{out}"
    );
    assert!(
        out.contains("builder/builder.sh:1: the script has Windows (CRLF) line ends"),
        "{out}"
    );

    // The source AMI must exist in the EB region (DescribeImages there).
    std::fs::write(d.join("builder/builder.sh"), "#!/bin/bash\necho hi\n").unwrap();
    std::fs::write(
        d.join("custom_platform.json"),
        template(REGION).replace(SOURCE_AMI, "ami-0000000000deadbee"),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("custom_platform.json:11: builders[0].source_ami: ami-0000000000deadbee does not exist in us-east-1"), "{out}");
    let describes: Vec<Value> = w
        .requests()
        .into_iter()
        .filter(|r| r["action"] == "DescribeImages")
        .collect();
    assert_eq!(describes.len(), 1, "{describes:?}");
    assert_eq!(describes[0]["region"], REGION);
    assert_eq!(describes[0]["params"]["ImageId.1"], "ami-0000000000deadbee");
    let mut tpl: Value = serde_json::from_str(&template(REGION)).unwrap();
    let b = tpl["builders"][0].as_object_mut().unwrap();
    b.remove("source_ami");
    b.insert(
        "source_ami_filter".into(),
        serde_json::json!({"filters": {"name": "no-such-image-*"}, "owners": ["137112412989"]}),
    );
    std::fs::write(
        d.join("custom_platform.json"),
        serde_json::to_string_pretty(&tpl).unwrap(),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("builders[0].source_ami_filter: no image in us-east-1 matches {name: no-such-image-*} (owners: 137112412989)"), "{out}");

    std::fs::remove_file(d.join("custom_platform.json")).unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("custom_platform.json does not exist"), "{out}");
    let actions = w.actions();
    for a in [
        "PutObject",
        "CreatePlatformVersion",
        "CreateStorageLocation",
        "CreateInstanceProfile",
    ] {
        assert!(!actions.iter().any(|x| x == a), "{a} was sent: {actions:?}");
    }
}

#[test]
fn local_build_makes_the_ami_and_registers_a_thin_bundle() {
    let w = ws();
    let sshd = Sshd::start_ec2(w.moto.endpoint());
    let d = w.definition("local");
    let tpl = serde_json::json!({
        "variables": {"platform_name": "{{env `AWS_EB_PLATFORM_NAME`}}", "platform_version": "{{env `AWS_EB_PLATFORM_VERSION`}}", "platform_arn": "{{env `AWS_EB_PLATFORM_ARN`}}"},
        "builders": [{
            "type": "amazon-ebs", "name": "HVM AMI builder", "region": REGION,
            "custom_endpoint_ec2": w.moto.endpoint(), "skip_region_validation": true,
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"}, "owners": ["137112412989"], "most_recent": true},
            "instance_type": "t3.micro", "ssh_username": sshd.user(), "ssh_host": sshd.host(), "ssh_port": sshd.port(), "ssh_timeout": "60s",
            "ami_name": "{{user `platform_name`}}-{{user `platform_version`}}-{{timestamp}}",
            "tags": {"eb_platform_arn": "{{user `platform_arn`}}"}
        }],
        "provisioners": [{"type": "shell", "inline": ["echo \"platform=$EB_NAME\""], "environment_vars": ["EB_NAME={{user `platform_name`}}/{{user `platform_version`}}"]}]
    });
    std::fs::write(
        d.join("custom_platform.json"),
        serde_json::to_string_pretty(&tpl).unwrap(),
    )
    .unwrap();
    w.ok(&d, &["init", "local"]);
    let out = w.ok(&d, &["create", "--local-build"]);
    assert!(
        out.contains("platform=local/1.0.0"),
        "AWS_EB_PLATFORM_* reach the template:\n{out}"
    );
    assert!(
        out.contains("Successfully created platform version 'local/1.0.0'."),
        "{out}"
    );

    let built = w.state()["platforms"][0]["source_ami"]
        .as_str()
        .expect("the thin template names the built AMI")
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ec2 = crate::support::client(w.moto.endpoint(), REGION);
    let image = rt
        .block_on(ec2.describe_images().image_ids(&built).send())
        .unwrap();
    let tags = image.images()[0].tags();
    assert!(
        tags.iter().any(|t| t.key() == Some("eb_platform_arn")
            && t.value()
                == Some(&format!(
                    "arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/local/1.0.0"
                ))),
        "{tags:?}"
    );
    let c = &w.create_requests()[0];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec!["./", "custom_platform.json", "platform.yaml"]
    );
    let status = w.ok(&d, &["status"]);
    assert!(status.contains("Status: Ready"), "{status}");
}

#[test]
fn publish_creates_a_saved_configuration_and_updates_the_environment() {
    let w = ws();
    let d = w.definition("pub");
    w.ok(&d, &["init", "pub"]);
    w.ok(&d, &["create"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eb = w.eb();
    rt.block_on(eb.create_application().application_name("web").send())
        .unwrap();
    rt.block_on(
        eb.create_environment()
            .application_name("web")
            .environment_name("web-prod")
            .solution_stack_name("64bit Amazon Linux 2023 v6.6.0 running Node.js 22")
            .send(),
    )
    .unwrap();

    let stack = "64bit Amazon Linux 2023 v6.6.0 running Node.js 22";
    let out = w.ok(
        &d,
        &[
            "publish",
            "--application",
            "web",
            "--solution-stack",
            stack,
            "--environment",
            "web-prod",
        ],
    );
    assert!(
        out.contains("Created saved configuration 'pub-1-0-0'"),
        "{out}"
    );
    let state = w.state();
    let t = &state["configuration_templates"][0];
    assert_eq!(t["TemplateName"], "pub-1-0-0");
    assert_eq!(t["SolutionStackName"], stack);
    let settings: Vec<(String, String, String)> = t["OptionSettings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Namespace"].as_str().unwrap().into(),
                s["OptionName"].as_str().unwrap().into(),
                s["Value"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let ami = state["platforms"][0]["CustomAmiList"][1]["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        settings,
        vec![
            (
                "aws:autoscaling:launchconfiguration".into(),
                "ImageId".into(),
                ami
            ),
            (
                "aws:elasticbeanstalk:application:environment".into(),
                "NodeVersion".into(),
                "22".into()
            ),
            (
                "aws:elasticbeanstalk:application:environment".into(),
                "NODE_ENV".into(),
                "production".into()
            ),
        ]
    );
    assert_eq!(
        state["environment_updates"][0]["EnvironmentName"],
        "web-prod"
    );
    assert_eq!(state["environment_updates"][0]["TemplateName"], "pub-1-0-0");

    // A platform an environment runs on cannot be deleted.
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/pub/1.0.0");
    rt.block_on(
        eb.create_environment()
            .application_name("web")
            .environment_name("on-custom")
            .platform_arn(&arn)
            .send(),
    )
    .unwrap();
    let out = w.fails(&d, &["delete", "1.0.0", "--force"]);
    assert!(
        out.contains("is in use by environment(s) on-custom"),
        "{out}"
    );
    assert!(
        !w.actions().iter().any(|a| a == "DeletePlatformVersion"),
        "refused before asking EB"
    );
}

#[test]
fn a_rejected_create_points_to_publish() {
    let w = ws();
    let d = w.definition("retired");
    w.ok(&d, &["init", "retired"]);
    let r = http::post(w.moto.endpoint(), "/moto-eb/reject-create", "").unwrap();
    assert_eq!(r.status, 200);
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("creating platform version retired/1.0.0 in us-east-1: ElasticBeanstalkServiceException:"), "{out}");
    assert!(out.contains("rpack platform publish"), "{out}");
}
