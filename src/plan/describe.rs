//! A checked build as text, for comparing the plans two templates produce (the JSON template
//! and its `hcl2_upgrade` output): every decoded setting of the builder, the provisioners with
//! their common settings, the error-cleanup provisioner and the post-processor chains. The
//! build's name is left out (HCL2 names builds `type.name`), and so is the render context.

use std::fmt::Write;

use super::{Build, BuilderConfig};

/// The plan of one build, one `{:#?}` section per part.
pub fn describe(b: &Build) -> String {
    let mut out = format!("builder {}\n", b.builder_kind);
    match &b.builder {
        BuilderConfig::AmazonEbs(c) => {
            let _ = writeln!(out, "{:#?}", c.access);
            let _ = writeln!(out, "{:#?}", c.ami);
            let _ = writeln!(out, "{:#?}", c.block_devices);
            let _ = writeln!(out, "{:#?}", c.run);
            let _ = writeln!(out, "{:#?}", c.launch);
            let _ = writeln!(out, "{:#?}", c.ami_options);
            let _ = writeln!(out, "{:#?}", c.fast_launch);
            let _ = writeln!(out, "{:#?}", c.comm);
        }
        BuilderConfig::AmazonEbsVolume(c) => {
            let _ = writeln!(out, "{:#?}", c.base.access);
            let _ = writeln!(out, "{:#?}", c.base.ami);
            let _ = writeln!(out, "{:#?}", c.base.run);
            let _ = writeln!(out, "{:#?}", c.base.launch);
            let _ = writeln!(out, "{:#?}", c.base.comm);
            let _ = writeln!(out, "{:#?}", c.volumes);
        }
        BuilderConfig::AmazonEbsSurrogate(c) => {
            let _ = writeln!(out, "{:#?}", c.base.access);
            let _ = writeln!(out, "{:#?}", c.base.ami);
            let _ = writeln!(out, "{:#?}", c.base.block_devices);
            let _ = writeln!(out, "{:#?}", c.base.run);
            let _ = writeln!(out, "{:#?}", c.base.launch);
            let _ = writeln!(out, "{:#?}", c.base.ami_options);
            let _ = writeln!(out, "{:#?}", c.base.comm);
            let _ = writeln!(out, "{:#?}", c.launch_devices);
            let _ = writeln!(out, "{:#?}", c.root_device);
            let _ = writeln!(out, "{:?}", c.architecture);
        }
        BuilderConfig::Null(c) => {
            let _ = writeln!(out, "{c:#?}");
        }
        BuilderConfig::File(c) => {
            let _ = writeln!(out, "{c:#?}");
        }
    }
    for p in &b.provisioners {
        let _ = writeln!(out, "provisioner {p:#?}");
    }
    if let Some(p) = &b.error_cleanup {
        let _ = writeln!(out, "error-cleanup-provisioner {p:#?}");
    }
    for chain in &b.post_processors {
        let _ = writeln!(out, "post-processor chain {chain:#?}");
    }
    out
}
