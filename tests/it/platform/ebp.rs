//! Parity with the real EB CLI (`ebp`) on the same moto, and paged listings with lingering
//! deleting versions.

use super::*;

/// EB requests as a set for comparing two clients: time stamps and request ids differ from
/// run to run, and how often a wait polls does not matter.
fn request_set(reqs: &[Value]) -> std::collections::BTreeSet<String> {
    reqs.iter()
        .filter(|r| r["service"] == "elasticbeanstalk")
        .map(|r| {
            // Sorted keys: the order of parameters on the wire does not matter.
            let mut p: std::collections::BTreeMap<String, Value> = r["params"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            for (k, placeholder) in [("StartTime", "<time>"), ("RequestId", "<request id>")] {
                if p.contains_key(k) {
                    p.insert(k.into(), placeholder.into());
                }
            }
            format!(
                "{} {}",
                r["action"].as_str().unwrap_or(""),
                serde_json::to_string(&p).unwrap()
            )
        })
        .collect()
}

/// ebp against the same moto: the requests it sends and its bundle, next to rpack's, for
/// init/create (with -i and --vpc.*)/list/status/events/delete.
#[test]
fn ebp_parity() {
    let ebp = venv().join("bin/ebp");
    assert!(
        ebp.is_file(),
        "{} is missing: run scripts/test-deps.sh",
        ebp.display()
    );
    let w = ws();
    let run_ebp = |dir: &Path, args: &[&str]| {
        let mut c = Command::new(&ebp);
        c.args(args)
            .arg("--endpoint-url")
            .arg(w.moto.endpoint())
            .current_dir(dir)
            .env("HOME", &w.dir)
            .stdin(std::process::Stdio::null());
        w.env(&mut c);
        let o = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "ebp {args:?} failed:\n{text}");
        text
    };
    // The requests a command sends.
    let sent = |run: &mut dyn FnMut()| {
        let before = w.requests().len();
        run();
        w.requests()[before..].to_vec()
    };
    let create_flags = [
        "-i",
        "t3.large",
        "--vpc.id",
        "vpc-0abc",
        "--vpc.subnets",
        "subnet-1,subnet-2",
        "--vpc.publicip",
    ];
    // Both sides see the same EB: deletion takes a moment, as on AWS.
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));

    let e = w.definition("ebp-side");
    run_ebp(&e, &["init", "twin", "-k", "kp"]);
    let ebp_config = std::fs::read_to_string(e.join(".elasticbeanstalk/config.yml")).unwrap();
    let out = run_ebp(
        &e,
        &[&["create", "--timeout", "1"][..], &create_flags].concat(),
    );
    assert!(
        out.contains("Successfully created platform version"),
        "{out}"
    );
    let mut listed = String::new();
    let ebp_list = sent(&mut || listed = run_ebp(&e, &["list"]));
    assert!(
        listed.contains("platform/twin/1.0.0  Status: Ready"),
        "{listed}"
    );
    let ebp_requests = w.requests();
    let ebp_status = sent(&mut || {
        run_ebp(&e, &["status"]);
    });
    let ebp_status_v = sent(&mut || {
        run_ebp(&e, &["status", "1.0.0"]);
    });
    let ebp_events = sent(&mut || {
        run_ebp(&e, &["events"]);
    });
    let ebp_delete = sent(&mut || {
        let out = run_ebp(&e, &["delete", "1.0.0", "--force"]);
        assert!(
            out.contains("Successfully deleted platform version 'twin/1.0.0'."),
            "{out}"
        );
    });
    w.moto.reset();
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));

    let r = w.definition("rpack-side");
    w.ok(&r, &["init", "twin", "-k", "kp"]);
    let rpack_config = std::fs::read_to_string(r.join(".elasticbeanstalk/config.yml")).unwrap();
    w.ok(&r, &[&["create"][..], &create_flags].concat());
    let rpack_list = sent(&mut || assert_eq!(w.ok(&r, &["list"]).trim(), listed.trim()));
    let rpack_requests = w.requests();
    let rpack_status = sent(&mut || {
        w.ok(&r, &["status"]);
    });
    let rpack_status_v = sent(&mut || {
        w.ok(&r, &["status", "1.0.0"]);
    });
    let rpack_events = sent(&mut || {
        w.ok(&r, &["events"]);
    });
    let rpack_delete = sent(&mut || {
        let out = w.ok(&r, &["delete", "1.0.0", "--force"]);
        assert!(
            out.contains("Successfully deleted platform version 'twin/1.0.0'."),
            "{out}"
        );
    });

    // The same config.yml keys (values may differ only in order of writing).
    let keys = |t: &str| {
        let mut k: Vec<String> = t
            .lines()
            .filter(|l| l.starts_with("  ") && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().trim().to_string())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    assert_eq!(
        keys(&rpack_config),
        keys(&ebp_config),
        "ebp:\n{ebp_config}\nrpack:\n{rpack_config}"
    );

    // The mutating calls, in order (reads like DescribeEvents polls differ in number).
    let mutating = |reqs: &[Value]| -> Vec<String> {
        reqs.iter()
            .filter_map(|r| r["action"].as_str())
            .filter(|a| {
                ["Create", "Attach", "Add", "Put", "Delete", "Update"]
                    .iter()
                    .any(|p| a.starts_with(p))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(mutating(&rpack_requests), mutating(&ebp_requests));
    assert_eq!(
        mutating(&ebp_requests),
        [
            "CreateInstanceProfile",
            "CreateRole",
            "AttachRolePolicy",
            "AttachRolePolicy",
            "AddRoleToInstanceProfile",
            "CreateStorageLocation",
            "PutObject",
            "CreatePlatformVersion"
        ]
    );

    let create = |reqs: &[Value]| {
        reqs.iter()
            .find(|r| r["action"] == "CreatePlatformVersion")
            .cloned()
            .unwrap()
    };
    let (a, b) = (create(&ebp_requests), create(&rpack_requests));
    let mut pa = a["params"].as_object().unwrap().clone();
    let mut pb = b["params"].as_object().unwrap().clone();
    // The key carries a time-stamped label, different on every run.
    for p in [&mut pa, &mut pb] {
        let key = p.remove("PlatformDefinitionBundle.S3Key").unwrap();
        assert!(key.as_str().unwrap().starts_with("twin/app-"), "{key}");
    }
    assert_eq!(pb, pa, "CreatePlatformVersion parameters");
    assert_eq!(
        pa["OptionSettings.member.3.OptionName"], "InstanceType",
        "-i reached ebp's request: {pa:?}"
    );
    assert_eq!(
        sorted(&b["bundle_files"]),
        sorted(&a["bundle_files"]),
        "bundle file lists"
    );

    // list, status, events and delete: the same EB requests with the same parameters.
    assert_eq!(request_set(&rpack_list), request_set(&ebp_list), "list");
    assert_eq!(
        request_set(&rpack_status),
        request_set(&ebp_status),
        "status"
    );
    assert_eq!(
        request_set(&rpack_status_v),
        request_set(&ebp_status_v),
        "status 1.0.0"
    );
    assert_eq!(
        request_set(&rpack_events),
        request_set(&ebp_events),
        "events"
    );
    // The one deliberate difference: ebcli's private DeleteResources=true parameter, which the
    // public service model lacks.
    let ebp_deletes: Vec<&Value> = ebp_delete
        .iter()
        .filter(|r| r["action"] == "DeletePlatformVersion")
        .collect();
    assert_eq!(ebp_deletes.len(), 1);
    assert_eq!(ebp_deletes[0]["params"]["DeleteResources"], "true");
    let ebp_delete: Vec<Value> = ebp_delete
        .into_iter()
        .map(|mut r| {
            if let Some(p) = r["params"].as_object_mut() {
                p.remove("DeleteResources");
            }
            r
        })
        .collect();
    assert_eq!(
        request_set(&rpack_delete),
        request_set(&ebp_delete),
        "delete"
    );
    assert!(
        request_set(&rpack_delete)
            .iter()
            .any(|r| r.starts_with("DescribeEvents") && r.contains("<time>")),
        "the delete was waited for: {:?}",
        request_set(&rpack_delete)
    );
}

/// moto's EB answers like AWS: DeletePlatformVersion leaves the version `Deleting` for a while
/// (listed, still counted by version bumping) before it is gone; ListPlatformVersions pages
/// (MaxRecords/NextToken, checked against botocore's model) and rpack follows every page.
#[test]
fn deleting_versions_linger_and_listings_are_paged() {
    let w = ws();
    w.knobs(serde_json::json!({"page_size": 2}));
    let d = w.definition("pg");
    w.ok(&d, &["init", "pg"]);
    w.ok(&d, &["create"]);
    // Four more versions straight through the API, from the bundle rpack uploaded.
    let bundle = w.create_requests()[0]["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eb = w.eb();
    let location = aws_sdk_elasticbeanstalk::types::S3Location::builder()
        .s3_bucket(BUCKET)
        .s3_key(&bundle)
        .build();
    for v in ["1.0.1", "1.0.2", "1.0.3", "1.0.4"] {
        rt.block_on(
            eb.create_platform_version()
                .platform_name("pg")
                .platform_version(v)
                .platform_definition_bundle(location.clone())
                .send(),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));

    let arn = |v: &str| format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/pg/{v}");
    let before = w.requests().len();
    let listed = w.ok(&d, &["list"]);
    let want: Vec<String> = ["1.0.4", "1.0.3", "1.0.2", "1.0.1", "1.0.0"]
        .iter()
        .map(|v| format!("{}  Status: Ready", arn(v)))
        .collect();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        want,
        "every page, sorted like ebp"
    );
    let lists: Vec<Value> = w.requests()[before..]
        .iter()
        .filter(|r| r["action"] == "ListPlatformVersions")
        .cloned()
        .collect();
    assert_eq!(lists.len(), 3, "5 versions, 2 a page: {lists:?}");
    assert!(lists[0]["params"].get("NextToken").is_none());
    assert!(
        lists[1]["params"]["NextToken"].is_string() && lists[2]["params"]["NextToken"].is_string()
    );

    // The model's limits and the token's binding to its request.
    let first = rt
        .block_on(eb.list_platform_versions().max_records(3).send())
        .unwrap();
    assert_eq!(first.platform_summary_list().len(), 3);
    let token = first.next_token().unwrap().to_string();
    let rest = rt
        .block_on(
            eb.list_platform_versions()
                .max_records(3)
                .next_token(&token)
                .send(),
        )
        .unwrap();
    assert_eq!(rest.platform_summary_list().len(), 2);
    assert!(rest.next_token().is_none());
    let e = rt
        .block_on(
            eb.list_platform_versions()
                .max_records(2)
                .next_token(&token)
                .send(),
        )
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("InvalidParameterValue"),
        "a token only continues its own request: {e:?}"
    );
    let e = rt
        .block_on(eb.list_platform_versions().max_records(0).send())
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("ValidationError"),
        "PlatformMaxRecords has min 1: {e:?}"
    );

    // Deleting: answered and listed as such, then gone; it still counts when bumping. (Long
    // enough here for the checks below to see it on a loaded machine.)
    w.knobs(serde_json::json!({"delete_seconds": 4.0}));
    let out = rt
        .block_on(
            eb.delete_platform_version()
                .platform_arn(arn("1.0.4"))
                .send(),
        )
        .unwrap();
    assert_eq!(
        out.platform_summary()
            .unwrap()
            .platform_status()
            .unwrap()
            .as_str(),
        "Deleting"
    );
    assert!(w
        .ok(&d, &["list"])
        .contains(&format!("{}  Status: Deleting", arn("1.0.4"))));
    let out = w.ok(&d, &["status", "1.0.4"]);
    assert!(out.contains("Status: Deleting"), "{out}");
    let created = w.ok(&d, &["create"]);
    assert!(
        created.contains("Successfully created platform version 'pg/1.0.5'."),
        "{created}"
    );
    // rpack's delete waits until the version is gone.
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));
    let started = Instant::now();
    let out = w.ok(&d, &["delete", "1.0.3", "--force"]);
    assert!(
        out.contains("Deleting platform version 'pg/1.0.3'.")
            && out.contains("Successfully deleted platform version 'pg/1.0.3'."),
        "{out}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the delete took its time on the EB side"
    );
    let listed = w.ok(&d, &["list"]);
    assert!(!listed.contains("pg/1.0.3"), "{listed}");
    // 1.0.4 goes too, once its time is up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.ok(&d, &["list"]).contains("pg/1.0.4") {
        assert!(Instant::now() < deadline, "1.0.4 is never deleted");
        std::thread::sleep(Duration::from_millis(250));
    }
    let state = w.state();
    let status_of = |v: &str| {
        state["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["PlatformVersion"] == v)
            .unwrap()["PlatformStatus"]
            .clone()
    };
    assert_eq!(status_of("1.0.3"), "Deleted");
    assert_eq!(status_of("1.0.4"), "Deleted");
    let out = w.fails(&d, &["status", "1.0.3"]);
    assert!(
        out.contains("No such version exists for the current platform."),
        "{out}"
    );
}
