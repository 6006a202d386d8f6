//! Bundles: git and .ebignore rules, submodules, multipart uploads and the size limit; the
//! instance type, VPC and timeout a create sends.

use super::*;

#[test]
fn bundles_follow_git_and_ebignore_rules() {
    let w = ws();
    // git: only what HEAD has; the uncommitted file is left out, with a warning.
    let d = w.definition("gitp");
    git(&d, &["init", "-q"]);
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    git(
        &d,
        &["add", "platform.yaml", "custom_platform.json", "builder"],
    );
    git(&d, &["commit", "-q", "-m", "definition"]);
    w.ok(&d, &["init", "gitp"]);
    let gi = std::fs::read_to_string(d.join(".gitignore")).unwrap();
    assert!(
        gi.contains("# Elastic Beanstalk Files\n.elasticbeanstalk/*\n"),
        "{gi}"
    );
    let out = w.ok(&d, &["create"]);
    assert!(out.contains("You have uncommitted changes"), "{out}");
    let c = &w.create_requests()[0];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec![
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
    let key = c["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap();
    assert!(
        key.starts_with("gitp/app-") && key.len() > "gitp/app-261128_000000000000.zip".len(),
        "a git label has the describe part: {key}"
    );

    // .ebignore wins over git and is gitwildmatch.
    let e = w.definition("ebi");
    std::fs::write(e.join("big.log"), "x").unwrap();
    std::fs::create_dir_all(e.join("builder/tmp")).unwrap();
    std::fs::write(e.join("builder/tmp/a"), "x").unwrap();
    std::fs::write(e.join("builder/keep.sh~"), "x").unwrap();
    std::fs::write(e.join(".ebignore"), "*.log\nbuilder/tmp/\n").unwrap();
    w.ok(&e, &["init", "ebi"]);
    w.ok(&e, &["create"]);
    let c = &w.create_requests()[1];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec![
            "./",
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
}

/// create's builder-environment options reach CreatePlatformVersion as ebp sends them; the
/// wait gives up after --timeout minutes with ebp's message, and --timeout 0 does not wait.
#[test]
fn create_sends_instance_type_and_vpc_and_honours_timeout() {
    let w = ws();
    let d = w.definition("opts");
    w.ok(&d, &["init", "opts", "-k", "builder-key"]);
    w.ok(
        &d,
        &[
            "create",
            "-i",
            "c5.large",
            "--vpc.id",
            "vpc-0123",
            "--vpc.subnets",
            "subnet-a,subnet-b",
            "--vpc.publicip",
            "-ip",
            "my-profile",
        ],
    );
    let p = &w.create_requests()[0]["params"];
    let settings: Vec<(String, String, String)> = (1..)
        .map_while(|i| {
            let ns = p.get(format!("OptionSettings.member.{i}.Namespace"))?;
            Some((
                ns.as_str()?.to_string(),
                p[format!("OptionSettings.member.{i}.OptionName")]
                    .as_str()?
                    .to_string(),
                p[format!("OptionSettings.member.{i}.Value")]
                    .as_str()?
                    .to_string(),
            ))
        })
        .collect();
    let s = |ns: &str, n: &str, v: &str| (ns.to_string(), n.to_string(), v.to_string());
    assert_eq!(
        settings,
        vec![
            s(
                "aws:autoscaling:launchconfiguration",
                "IamInstanceProfile",
                "my-profile"
            ),
            s(
                "aws:autoscaling:launchconfiguration",
                "EC2KeyName",
                "builder-key"
            ),
            s(
                "aws:autoscaling:launchconfiguration",
                "InstanceType",
                "c5.large"
            ),
            s("aws:ec2:vpc", "VPCId", "vpc-0123"),
            s("aws:ec2:vpc", "Subnets", "subnet-a,subnet-b"),
            s("aws:ec2:vpc", "AssociatePublicIpAddress", "true"),
            s(
                "aws:elasticbeanstalk:healthreporting:system",
                "SystemType",
                "enhanced"
            ),
            s(
                "aws:elasticbeanstalk:environment",
                "ServiceRole",
                "aws-elasticbeanstalk-service-role"
            ),
        ]
    );
    assert!(
        !w.actions().iter().any(|a| a == "CreateInstanceProfile"),
        "a profile of the user's own is not created"
    );

    // A build that outlasts --timeout.
    w.knobs(serde_json::json!({"build_seconds": 120}));
    let started = Instant::now();
    let out = w.fails(&d, &["create", "--timeout", "0.02"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up after about 1.2 s, took {:?}",
        started.elapsed()
    );
    assert!(out.contains("ERROR: rpack timed out after 0.02 minute(s). The operation might still be running. To keep viewing events, run 'rpack platform events -f'."), "{out}");
    assert!(
        out.contains("createPlatform is starting."),
        "events were shown while waiting: {out}"
    );
    // --timeout 0: ebp does not wait at all.
    let started = Instant::now();
    let out = w.ok(&d, &["create", "--timeout", "0"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!out.contains("createPlatform is starting."), "{out}");
    assert!(w.ok(&d, &["status"]).contains("Status: Creating"));
    let out = w.fails(&d, &["create", "--timeout", "soon"]);
    assert!(out.contains("is not a number of minutes"), "{out}");
}

/// An archive of 7 MiB or more goes up in parts, as ebcli uploads it; the object in S3 is the
/// archive. Past the size limit nothing is uploaded and the error names the limit and folder.
#[test]
fn big_bundles_upload_in_parts_and_the_size_limit_names_the_folder() {
    let w = ws();
    let d = w.definition("big");
    let blob = noise(8 * 1024 * 1024 + 4321, 7);
    std::fs::write(d.join("builder/payload.bin"), &blob).unwrap();
    w.ok(&d, &["init", "big"]);
    w.ok(&d, &["create"]);
    let reqs = w.requests();
    let s3: Vec<&str> = reqs
        .iter()
        .filter(|r| r["service"] == "s3")
        .filter_map(|r| r["action"].as_str())
        .filter(|a| *a != "ListObjects")
        .collect();
    assert_eq!(
        s3,
        [
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPart",
            "CompleteMultipartUpload"
        ],
        "{s3:?}"
    );
    let key = w.create_requests()[0]["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let object = rt.block_on(async {
        w.s3()
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
    });
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(object.to_vec())).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("builder/payload.bin").unwrap(), &mut got).unwrap();
    assert!(
        got == blob,
        "the uploaded archive holds the payload byte for byte"
    );
    assert!(
        w.ok(&d, &["status"]).contains("Status: Ready"),
        "EB read the multipart object"
    );

    // The limit (lowered through the test seam; the real one is 512 MiB, see bundle.rs).
    w.moto.reset();
    let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
    c.args(["platform", "create"]).current_dir(&d);
    w.env(&mut c);
    let o = c
        .env(
            "RPACK_PLATFORM_MAX_BUNDLE_BYTES",
            (4 * 1024 * 1024).to_string(),
        )
        .output()
        .unwrap();
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "the platform definition archive of {} is larger than 4 MiB (4194304 bytes)",
            d.display()
        )),
        "{out}"
    );
    let actions = w.actions();
    for a in [
        "PutObject",
        "CreateMultipartUpload",
        "CreatePlatformVersion",
        "CreateStorageLocation",
    ] {
        assert!(!actions.iter().any(|x| x == a), "{a} was sent: {actions:?}");
    }
    assert!(
        !d.join(".elasticbeanstalk/app_versions")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "no partial archive is left"
    );
}

/// include_git_submodules: the submodule's committed files join the git archive, as ebcli adds
/// each submodule's `git archive HEAD`.
#[test]
fn git_submodules_are_bundled_when_configured() {
    let w = ws();
    let lib = w.dir.join("hooks-lib");
    std::fs::create_dir_all(lib.join("hooks")).unwrap();
    std::fs::write(lib.join("hooks/10-nginx.sh"), "#!/bin/bash\necho nginx\n").unwrap();
    git(&lib, &["init", "-q"]);
    git(&lib, &["add", "."]);
    git(&lib, &["commit", "-q", "-m", "hooks"]);
    let d = w.definition("subm");
    git(&d, &["init", "-q"]);
    git(&d, &["add", "."]);
    git(
        &d,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            lib.to_str().unwrap(),
            "builder/lib",
        ],
    );
    git(&d, &["commit", "-q", "-m", "definition"]);
    w.ok(&d, &["init", "subm"]);
    git(&d, &["add", ".gitignore"]);
    git(&d, &["commit", "-q", "-m", "ignore eb files"]);

    w.ok(&d, &["create"]);
    let without = sorted(&w.create_requests()[0]["bundle_files"]);
    assert!(
        without.contains(&"builder/lib/".to_string())
            && !without.iter().any(|f| f.ends_with("10-nginx.sh")),
        "{without:?}"
    );

    let config = d.join(".elasticbeanstalk/config.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("global:\n", "global:\n  include_git_submodules: true\n", 1),
    )
    .unwrap();
    w.ok(&d, &["create"]);
    let with = sorted(&w.create_requests()[1]["bundle_files"]);
    for f in [
        "builder/lib/",
        "builder/lib/hooks/",
        "builder/lib/hooks/10-nginx.sh",
        "platform.yaml",
        ".gitmodules",
    ] {
        assert!(with.contains(&f.to_string()), "{f} missing from {with:?}");
    }
    assert_eq!(
        with.iter().filter(|f| *f == "builder/lib/").count(),
        1,
        "the submodule folder once: {with:?}"
    );
}
