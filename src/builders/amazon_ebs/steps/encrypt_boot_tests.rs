use super::*;
use crate::builders::amazon_ebs::context::SourceDevice;

fn source() -> SourceImage {
    SourceImage {
        id: "ami-src".into(),
        root_device_name: Some("/dev/xvda".into()),
        ebs_devices: vec![
            SourceDevice {
                device_name: "/dev/xvda".into(),
                snapshot_id: Some("snap-root".into()),
                volume_size: Some(8),
                delete_on_termination: true,
                encrypted: false,
            },
            SourceDevice {
                device_name: "/dev/xvdf".into(),
                snapshot_id: Some("snap-data".into()),
                volume_size: Some(20),
                delete_on_termination: false,
                encrypted: false,
            },
        ],
        ..Default::default()
    }
}

fn config(key: Option<&str>) -> Config {
    let mut c = Config::default();
    c.ami.encrypt_boot = Some(true);
    c.ami.kms_key_id = key.map(str::to_string);
    c
}

fn device(name: &str) -> BlockDevice {
    BlockDevice {
        device_name: name.into(),
        ..Default::default()
    }
}

fn copy_reason_of(cfg: &Config, src: &SourceImage) -> String {
    match decide(cfg, src) {
        BootEncryption::Copy { reason } => reason,
        other => panic!("expected the copy path, got {other:?}"),
    }
}

#[test]
fn encrypt_boot_launches_encrypted_with_the_key() {
    assert_eq!(
        decide(&config(Some("alias/k")), &source()),
        BootEncryption::Launch {
            kms_key_id: Some("alias/k".into())
        }
    );
    assert_eq!(
        decide(&config(None), &source()),
        BootEncryption::Launch { kms_key_id: None }
    );
}

#[test]
fn without_encrypt_boot_or_without_an_ami_nothing_is_decided() {
    let mut c = config(None);
    c.ami.encrypt_boot = Some(false);
    assert_eq!(decide(&c, &source()), BootEncryption::Off);
    c.ami.encrypt_boot = None;
    assert_eq!(decide(&c, &source()), BootEncryption::Off);
    let mut c = config(None);
    c.ami.skip_create_ami = true;
    assert_eq!(decide(&c, &source()), BootEncryption::Off);
}

#[test]
fn an_explicitly_unencrypted_launch_device_keeps_the_copy_path() {
    let mut c = config(None);
    c.block_devices.launch_block_device_mappings = vec![BlockDevice {
        encrypted: Some(false),
        volume_size: Some(30),
        ..device("/dev/xvda")
    }];
    assert_eq!(
        copy_reason_of(&c, &source()),
        "launch_block_device_mappings: /dev/xvda has `encrypted: false`"
    );
    // no_device and instance-store entries are not volumes: they do not matter.
    c.block_devices.launch_block_device_mappings = vec![
        BlockDevice {
            no_device: true,
            encrypted: Some(false),
            ..device("/dev/xvdf")
        },
        BlockDevice {
            virtual_name: Some("ephemeral0".into()),
            encrypted: Some(false),
            ..device("/dev/xvdb")
        },
    ];
    assert!(matches!(
        decide(&c, &source()),
        BootEncryption::Launch { .. }
    ));
}

#[test]
fn a_device_key_other_than_kms_key_id_keeps_the_copy_path() {
    let mut c = config(Some("alias/final"));
    c.block_devices.launch_block_device_mappings = vec![BlockDevice {
        encrypted: Some(true),
        kms_key_id: Some("alias/other".into()),
        ..device("/dev/xvdg")
    }];
    assert_eq!(
        copy_reason_of(&c, &source()),
        "launch_block_device_mappings: /dev/xvdg is encrypted with KMS key alias/other, the AMI is to be encrypted with KMS key alias/final"
    );
    let mut c = config(None);
    c.block_devices.launch_block_device_mappings = vec![BlockDevice {
        encrypted: Some(true),
        kms_key_id: Some("alias/other".into()),
        ..device("/dev/xvdg")
    }];
    assert!(copy_reason_of(&c, &source()).ends_with("with the account's default EBS key"));
    // The same key as kms_key_id is fine.
    let mut c = config(Some("alias/final"));
    c.block_devices.launch_block_device_mappings = vec![BlockDevice {
        encrypted: Some(true),
        kms_key_id: Some("alias/final".into()),
        ..device("/dev/xvdg")
    }];
    assert!(matches!(
        decide(&c, &source()),
        BootEncryption::Launch { .. }
    ));
}

#[test]
fn ami_mappings_adding_snapshots_or_skipping_the_build_region_keep_the_copy_path() {
    let mut c = config(None);
    c.block_devices.ami_block_device_mappings = vec![BlockDevice {
        snapshot_id: Some("snap-extra".into()),
        ..device("/dev/xvdh")
    }];
    assert_eq!(
        copy_reason_of(&c, &source()),
        "ami_block_device_mappings: /dev/xvdh adds snapshot snap-extra, which only a copy encrypts"
    );
    // A resize of the root in the AMI's mapping is no reason.
    c.block_devices.ami_block_device_mappings = vec![BlockDevice {
        volume_size: Some(40),
        delete_on_termination: true,
        ..device("/dev/xvda")
    }];
    assert!(matches!(
        decide(&c, &source()),
        BootEncryption::Launch { .. }
    ));
    let mut c = config(None);
    c.ami.skip_save_build_region = true;
    assert!(copy_reason_of(&c, &source()).starts_with("skip_save_build_region"));
}

#[test]
fn a_source_without_a_known_ebs_root_keeps_the_copy_path() {
    let mut src = source();
    src.root_device_name = None;
    assert!(copy_reason_of(&config(None), &src).contains("names no root device"));
    let mut src = source();
    src.ebs_devices.remove(0);
    assert!(copy_reason_of(&config(None), &src).contains("is not an EBS device"));
    // ...unless the template maps the root itself.
    let mut c = config(None);
    c.block_devices.launch_block_device_mappings = vec![BlockDevice {
        volume_size: Some(10),
        ..device("/dev/xvda")
    }];
    assert!(matches!(decide(&c, &src), BootEncryption::Launch { .. }));
}

#[test]
fn launch_devices_encrypt_the_templates_and_the_amis_volumes() {
    let mut c = config(Some("alias/k"));
    c.block_devices.launch_block_device_mappings = vec![
        BlockDevice {
            volume_type: Some("gp3".into()),
            delete_on_termination: true,
            ..device("/dev/xvda")
        },
        BlockDevice {
            volume_size: Some(5),
            ..device("/dev/xvdz")
        },
        BlockDevice {
            virtual_name: Some("ephemeral0".into()),
            ..device("/dev/xvdb")
        },
    ];
    let src = source();
    let enc = decide(&c, &src);
    let got = launch_devices(&c, &src, &enc);
    let names: Vec<&str> = got.iter().map(|b| b.device_name.as_str()).collect();
    assert_eq!(names, ["/dev/xvda", "/dev/xvdz", "/dev/xvdb", "/dev/xvdf"]);
    // The template's root mapping: encrypted with the key, the AMI's size spelled out.
    assert_eq!(got[0].encrypted, Some(true));
    assert_eq!(got[0].kms_key_id.as_deref(), Some("alias/k"));
    assert_eq!(got[0].volume_size, Some(8));
    assert_eq!(got[0].volume_type.as_deref(), Some("gp3"));
    // A new volume of the template: encrypted, its own size.
    assert_eq!(
        (got[1].encrypted, got[1].volume_size),
        (Some(true), Some(5))
    );
    // Instance store stays as it is.
    assert_eq!(got[2].encrypted, None);
    // The AMI's data volume the template does not map: encrypted, as in the AMI.
    assert_eq!(
        got[3],
        BlockDevice {
            delete_on_termination: false,
            encrypted: Some(true),
            kms_key_id: Some("alias/k".into()),
            volume_size: Some(20),
            ..device("/dev/xvdf")
        }
    );
    // The copy path launches with the template's mappings unchanged.
    let copy = BootEncryption::Copy { reason: "x".into() };
    assert_eq!(
        launch_devices(&c, &src, &copy),
        c.block_devices.launch_block_device_mappings
    );
}

#[test]
fn no_ephemeral_suppression_wins_over_an_ami_device_of_the_same_name() {
    let mut c = config(None);
    c.block_devices.no_ephemeral = true;
    let src = source();
    let got = launch_devices(&c, &src, &decide(&c, &src));
    // /dev/xvdf is one of the suppressed instance-store names: left to the no-device entry.
    let names: Vec<&str> = got.iter().map(|b| b.device_name.as_str()).collect();
    assert_eq!(names, ["/dev/xvda"]);
    assert!(got[0].delete_on_termination);
    assert_eq!(got[0].kms_key_id, None);
}

#[test]
fn kms_failures_are_told_from_other_launch_failures() {
    let kms = [
        "Error waiting for instance (i-1) to become ready: the instance is terminated (Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state)",
        "Error waiting for instance (i-1) to become ready: the instance is shutting-down (Client.InternalError: Client error on launch)",
        "launching an instance: UnauthorizedOperation: not authorized to perform: kms:CreateGrant",
    ];
    for t in kms {
        assert!(kms_launch_failure(&anyhow::anyhow!("{t}")), "{t}");
    }
    let other = [
        "launching an instance: InsufficientInstanceCapacity: no capacity",
        "Error waiting for instance (i-1) to become ready: the instance is terminated (Client.UserInitiatedShutdown: User initiated shutdown)",
    ];
    for t in other {
        assert!(!kms_launch_failure(&anyhow::anyhow!("{t}")), "{t}");
    }
}

#[test]
fn the_announcement_names_the_path() {
    assert_eq!(announcement(&BootEncryption::Off), None);
    assert_eq!(
        announcement(&BootEncryption::Launch { kms_key_id: None }).unwrap(),
        "encrypt_boot: launching with encrypted EBS volumes (the account's default EBS key); CreateImage makes the encrypted AMI, no copy"
    );
    assert_eq!(
        announcement(&BootEncryption::Copy {
            reason: "why".into()
        })
        .unwrap(),
        "encrypt_boot: encrypting by copying the AMI, as Packer does (why)"
    );
}
