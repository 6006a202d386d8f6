//! amazon-ebssurrogate's `use_create_image` (the current plugin's): after the stop, the original
//! root and the volumes omitted from the artifact are detached, the `ami_root_device` volume is
//! attached as the root, and CreateImage images the instance (with `run_tags` unless
//! `skip_ami_run_tags`) — no snapshots of rpack's own, no RegisterImage. The detached volumes
//! that were to go with the instance are deleted.

use std::sync::Arc;

use rpack::builders::amazon_ebs::TrueHook;
use serde_json::json;

use crate::ebs::{leftovers, stack, REGION};
use crate::ebssurrogate::{build, config, mappings, spec_tags};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_create_image_swaps_the_root_volume_and_images_the_instance() {
    let st = stack();
    let devices = json!([
        {"device_name": "/dev/xvdf", "volume_size": 2, "volume_type": "gp2",
         "delete_on_termination": true, "encrypted": true, "kms_key_id": "alias/rpack-surrogate"},
        {"device_name": "/dev/xvdh", "volume_size": 3, "delete_on_termination": true,
         "omit_from_artifact": true}
    ]);
    let cfg = config(
        &st,
        json!({"use_create_image": true, "run_tags": {"Role": "surrogate"},
               "launch_block_device_mappings": devices}),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    assert_eq!(art.builder_id(), "mitchellh.amazon.ebssurrogate");
    let ami = art.amis[REGION].clone();
    let ui = o.lines.join("\n");

    assert_eq!(st.proxy.count("CreateSnapshot"), 0, "{ui}");
    assert_eq!(st.proxy.count("RegisterImage"), 0, "{ui}");
    // The root's source device and the omitted device are detached (and the original root,
    // which moto's DescribeInstances does not list), each by its own DetachVolume.
    for line in [
        "Detaching Root EBS Device Name: /dev/xvdf, Volume ID: ",
        "Detaching Omitted EBS Device Name: /dev/xvdh, Volume ID: ",
    ] {
        assert!(ui.contains(line), "{line}: {ui}");
    }
    let detaches = st.proxy.requests_of("DetachVolume");
    assert_eq!(
        detaches.len(),
        ui.matches("Detaching ").count(),
        "{detaches:#?}"
    );
    let attach = st.proxy.requests_of("AttachVolume");
    assert_eq!(attach.len(), 1, "{attach:#?}");
    assert_eq!(attach[0]["Device"], "/dev/xvda");
    assert!(
        ui.contains("Attaching Root EBS Device Name /dev/xvda, Volume ID: "),
        "{ui}"
    );
    let modify = st
        .proxy
        .requests_of("ModifyInstanceAttribute")
        .into_iter()
        .find(|r| r.contains_key("BlockDeviceMapping.1.DeviceName"))
        .expect("the root's DeleteOnTermination restored");
    assert_eq!(modify["BlockDeviceMapping.1.DeviceName"], "/dev/xvda");
    assert_eq!(
        modify["BlockDeviceMapping.1.Ebs.DeleteOnTermination"],
        "true"
    );

    // CreateImage: the source device under the root's name, without the KMS key CreateImage
    // does not take, no omitted device; run_tags on the image and its snapshots in the call.
    let creates = st.proxy.requests_of("CreateImage");
    assert_eq!(creates.len(), 1, "{creates:#?}");
    let maps = mappings(&creates[0]);
    assert_eq!(maps.keys().collect::<Vec<_>>(), ["/dev/xvda"], "{maps:#?}");
    let root = &maps["/dev/xvda"];
    assert_eq!(root["Ebs.VolumeSize"], "2");
    assert_eq!(root["Ebs.Encrypted"], "true");
    assert!(!root.contains_key("Ebs.KmsKeyId"), "{root:#?}");
    for rt in ["image", "snapshot"] {
        let tags = spec_tags(&creates[0], rt);
        assert_eq!(
            tags.get("Role").map(String::as_str),
            Some("surrogate"),
            "{rt}"
        );
        assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id), "{rt}");
    }

    // Only the AMI and its snapshots are left: the detached volumes went in the cleanup.
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(
        left.iter()
            .all(|l| l.contains(" image ") || l.contains(" snapshot ")),
        "{left:#?}\nUI:\n{ui}"
    );
    assert!(left.contains(&format!("{REGION} image {ami}")), "{left:#?}");
    art.destroy().await.unwrap();

    // skip_ami_run_tags: the run tags stay off the AMI (the build id still rides along).
    st.proxy.reset_counts();
    let cfg = config(
        &st,
        json!({"use_create_image": true, "skip_ami_run_tags": true,
               "run_tags": {"Role": "surrogate"}}),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    let creates = st.proxy.requests_of("CreateImage");
    assert_eq!(creates.len(), 1, "{creates:#?}");
    let tags = spec_tags(&creates[0], "image");
    assert_eq!(tags.get("Role"), None, "{tags:?}");
    assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id));
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains("Skipping attaching run tags to AMI...")));
    art.destroy().await.unwrap();
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(left.is_empty(), "{left:#?}");
}
