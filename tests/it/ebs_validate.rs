//! amazon-ebssurrogate and amazon-ebsvolume (issue #17): `rpack validate` side by side with
//! Packer 1.6.6's `packer validate` on good and bad templates, JSON and HCL2.

/// `rpack validate` and Packer 1.6.6's `packer validate` agree on amazon-ebssurrogate
/// templates: the exit code and every error Packer lists.
#[test]
fn surrogate_validate_agrees_with_packer_1_6_6() {
    let b = r#""type":"amazon-ebssurrogate","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","skip_credential_validation":true"#;
    let root = r#""launch_block_device_mappings":[{"device_name":"/dev/xvdf"}],"ami_root_device":{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda"}"#;
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "good",
            format!(
                r#"{{"builders":[{{{b},"ami_name":"surrogate-{{{{timestamp}}}}","ami_virtualization_type":"hvm","run_volume_tags":{{"a":"b"}},"tags":{{"R":"{{{{ .BuildRegion }}}}"}},
                "launch_block_device_mappings":[{{"device_name":"/dev/xvdf","volume_size":8,"volume_type":"gp2","delete_on_termination":true}},{{"device_name":"/dev/xvdg","volume_size":1,"omit_from_artifact":true}}],
                "ami_block_device_mappings":[{{"device_name":"/dev/sdb","virtual_name":"ephemeral0"}}],
                "ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda","delete_on_termination":true,"volume_size":16,"volume_type":"gp2"}},"ami_architecture":"arm64"}}]}}"#
            ),
            vec![],
        ),
        (
            "no-root-device",
            format!(r#"{{"builders":[{{{b},"ami_name":"surrogate"}}]}}"#),
            vec![
                "source_device_name for the root_device must be specified",
                "device_name for the root_device must be specified",
                "ami_virtualization_type is required.",
                "no volume with name '' is found",
            ],
        ),
        (
            "root-device-checks",
            format!(
                r#"{{"builders":[{{{b},"ami_name":"surrogate","ami_virtualization_type":"hvm","ami_architecture":"i386","ami_block_device_mappings":[{{"volume_size":1}}],
                "launch_block_device_mappings":[{{"device_name":"/dev/xvdf","omit_from_artifact":true,"volume_type":"gp2","throughput":300}}],
                "ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda","volume_type":"gp2","iops":-5,"volume_size":-1}}}}]}}"#
            ),
            vec![
                "The `device_name` must be specified for every device in the block device mapping.",
                "Throughput is not available for device /dev/xvdf",
                "iops may not be specified for a gp2 volume",
                "iops must be greater than 0",
                "volume_size must be greater than 0",
                r#"You cannot set "omit_from_artifact": "true" for the root volume."#,
                r#"The only valid ami_architecture values are "x86_64" and "arm64""#,
            ],
        ),
        (
            "unknown-keys",
            r#"{"builders":[{"type":"amazon-ebssurrogate","ami_name":"x*y","no_ephemeral":true,"skip_create_ami":true,"ebs_volumes":[],
               "launch_block_device_mappings":[{"device_name":"/dev/xvdf"}],"ami_root_device":{"source_device_name":"/dev/xvdg","device_name":"/dev/xvda"}}]}"#
                .to_string(),
            vec![
                r#"unknown configuration key: '"ebs_volumes"'"#,
                r#"unknown configuration key: '"no_ephemeral"'"#,
                r#"unknown configuration key: '"skip_create_ami"'"#,
            ],
        ),
        (
            "deprecated-keys",
            format!(
                r#"{{"builders":[{{{b},"ami_name":"surrogate","ami_virtualization_type":"hvm","enhanced_networking":true,"shutdown_behaviour":"stop","ssh_wait_timeout":"5m",{root}}}]}}"#
            ),
            vec![
                "Deprecated configuration key: 'enhanced_networking'.",
                "Deprecated configuration key: 'shutdown_behaviour'.",
            ],
        ),
        (
            "kms-checks-and-no-spot-check",
            format!(
                r#"{{"builders":[{{{b},"ami_name":"surrogate","ami_virtualization_type":"hvm","spot_price":"auto","ena_support":true,"kms_key_id":"alias/k",
                "launch_block_device_mappings":[{{"device_name":"/dev/xvdf","kms_key_id":"k","encrypted":false}}],"ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda"}}}}]}}"#
            ),
            vec![
                "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
                "The device /dev/xvdf, must also have `encrypted: true` when setting a kms_key_id.",
            ],
        ),
        (
            "run-keys",
            format!(
                r#"{{"builders":[{{"type":"amazon-ebssurrogate","ami_name":"surrogate","ami_virtualization_type":"paravirtual",{root}}}]}}"#
            ),
            vec![
                "A source_ami or source_ami_filter must be specified",
                "either instance_type or spot_instance_types must be specified",
            ],
        ),
        (
            "hcl2.pkr.hcl",
            r#"source "amazon-ebssurrogate" "x" {
  region                  = "us-east-1"
  source_ami              = "ami-1"
  instance_type           = "t2.micro"
  ssh_username            = "u"
  ami_name                = "surrogate"
  ami_virtualization_type = "hvm"
  launch_block_device_mappings {
    device_name = "/dev/xvdf"
    volume_size = 8
  }
  ami_root_device {
    source_device_name = "/dev/xvdh"
    device_name        = "/dev/xvda"
  }
}
build { sources = ["source.amazon-ebssurrogate.x"] }
"#
            .to_string(),
            vec!["no volume with name '/dev/xvdh' is found"],
        ),
        (
            "hcl2-good.pkr.hcl",
            r#"source "amazon-ebssurrogate" "x" {
  region                     = "us-east-1"
  source_ami                 = "ami-1"
  instance_type              = "t2.micro"
  ssh_username               = "u"
  skip_credential_validation = true
  ami_name                   = "surrogate"
  ami_virtualization_type    = "hvm"
  launch_block_device_mappings {
    device_name           = "/dev/xvdf"
    volume_size           = 8
    delete_on_termination = true
  }
  launch_block_device_mappings {
    device_name        = "/dev/xvdg"
    volume_size        = 1
    omit_from_artifact = true
  }
  ami_root_device {
    source_device_name = "/dev/xvdf"
    device_name        = "/dev/xvda"
  }
  run_volume_tag {
    name  = "k"
    value = "v"
  }
}
build { sources = ["source.amazon-ebssurrogate.x"] }
"#
            .to_string(),
            vec![],
        ),
    ];
    agree_with_packer(cases);
}

/// `rpack validate` and Packer 1.6.6's `packer validate` agree on amazon-ebsvolume templates:
/// the exit code and every error Packer lists.
#[test]
fn volume_validate_agrees_with_packer_1_6_6() {
    let b = r#""type":"amazon-ebsvolume","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","skip_credential_validation":true"#;
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "good",
            format!(
                r#"{{"builders":[{{{b},"run_volume_tags":{{"a":"b"}},"ebs_volumes":[{{"device_name":"/dev/xvdf","volume_size":1,"tags":{{"a":"{{{{ .BuildRegion }}}}"}}}}]}}]}}"#
            ),
            vec![],
        ),
        ("no-volumes", format!(r#"{{"builders":[{{{b}}}]}}"#), vec![]),
        (
            "unknown-and-ami-keys",
            format!(r#"{{"builders":[{{{b},"ami_name":"x","bogus":1}}]}}"#),
            vec![
                r#"unknown configuration key: '"ami_name"'"#,
                r#"unknown configuration key: '"bogus"'"#,
            ],
        ),
        (
            "ami-side-keys",
            format!(
                r#"{{"builders":[{{{b},"tags":{{"a":"b"}},"launch_block_device_mappings":[]}}]}}"#
            ),
            vec![
                r#"unknown configuration key: '"launch_block_device_mappings"'"#,
                r#"unknown configuration key: '"tags"'"#,
            ],
        ),
        (
            "deprecated-keys",
            format!(
                r#"{{"builders":[{{{b},"enhanced_networking":true,"shutdown_behaviour":"stop","ssh_wait_timeout":"5m"}}]}}"#
            ),
            vec![
                "Deprecated configuration key: 'enhanced_networking'.",
                "Deprecated configuration key: 'shutdown_behaviour'.",
            ],
        ),
        (
            "volume-checks",
            format!(
                r#"{{"builders":[{{{b},"ebs_volumes":[{{"volume_size":1}},{{"device_name":"/dev/xvdg","volume_type":"gp2","throughput":200}}]}}]}}"#
            ),
            vec![
                "AMIMapping: The `device_name` must be specified for every device in the block device mapping.",
                "AMIMapping: Throughput is not available for device /dev/xvdg",
            ],
        ),
        (
            "spot-and-kms",
            format!(
                r#"{{"builders":[{{{b},"spot_price":"auto","ena_support":true,"ebs_volumes":[{{"device_name":"/dev/xvdf","kms_key_id":"k","encrypted":false}}]}}]}}"#
            ),
            vec![
                "AMIMapping: The device /dev/xvdf, must also have `encrypted: true` when setting a kms_key_id.",
                "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set.",
            ],
        ),
        (
            "run-keys",
            r#"{"builders":[{"type":"amazon-ebsvolume","ebs_volumes":[{"device_name":"/dev/xvdf","volume_type":"io1","volume_size":1,"iops":5000}]}]}"#.to_string(),
            vec![
                "A source_ami or source_ami_filter must be specified",
                "either instance_type or spot_instance_types must be specified",
                "AMIMapping: /dev/xvdf: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is 50:1 for io1 volumes",
            ],
        ),
        (
            "hcl2.pkr.hcl",
            r#"source "amazon-ebsvolume" "x" {
  region        = "us-east-1"
  source_ami    = "ami-1"
  instance_type = "t2.micro"
  ssh_username  = "u"
  ebs_volumes {
    device_name = "/dev/xvdf"
    volume_size = 1
    tags        = { a = "b" }
  }
  ebs_volumes {
    volume_size = 1
    tag {
      key   = "k"
      value = "v"
    }
  }
}
build { sources = ["source.amazon-ebsvolume.x"] }
"#
            .to_string(),
            vec!["AMIMapping: The `device_name` must be specified for every device in the block device mapping."],
        ),
    ];
    agree_with_packer(cases);
}

/// Runs `rpack validate` and Packer 1.6.6's `packer validate` on each case (file name without
/// an extension: `.json`; the template; the errors Packer prints, none for a good template):
/// both must exit with the same code, print every listed error, and count the same number of
/// errors (unless Packer stopped at unknown keys, where rpack goes on to report every problem).
fn agree_with_packer(cases: Vec<(&str, String, Vec<&str>)>) {
    let packer = crate::fidelity::packer();
    let dir = tempfile::tempdir().unwrap();
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, text, errors) in cases {
        let file = if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.json")
        };
        std::fs::write(dir.path().join(&file), &text).unwrap();
        let theirs = crate::fidelity::run(&packer, dir.path(), &["validate", &file], &[]);
        let ours = crate::fidelity::run(
            std::path::Path::new(env!("CARGO_BIN_EXE_rpack")),
            dir.path(),
            &["validate", &file],
            &[],
        );
        let want = i32::from(!errors.is_empty());
        assert_eq!(theirs.code, want, "{name}: packer: {}", theirs.text);
        assert_eq!(
            ours.code, want,
            "{name}: rpack:\n{}\npacker:\n{}",
            ours.text, theirs.text
        );
        for e in errors {
            assert!(
                flat(&theirs.text).contains(e),
                "{name}: packer: {}",
                theirs.text
            );
            assert!(
                flat(&ours.text).contains(e),
                "{name}: rpack does not say {e:?}:\n{}",
                ours.text
            );
        }
        // Packer's count of errors ("N error(s) occurred"), so rpack adds none of its own.
        let count = |t: &str| {
            flat(t)
                .split(" error")
                .next()
                .and_then(|s| s.rsplit(' ').next().map(str::to_string))
        };
        // (Packer stops at unknown keys before its checks; rpack reports every problem.)
        if want == 1 && !theirs.text.contains("configuration key") {
            assert_eq!(
                count(&ours.text),
                count(&theirs.text),
                "{name}: rpack:\n{}\npacker:\n{}",
                ours.text,
                theirs.text
            );
        }
    }
}
