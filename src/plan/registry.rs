//! Plugin type name → configuration decoder, for builders, provisioners and post-processors.
//!
//! Each decoder reads every key of its object through a [`Decoder`], which then reports unknown
//! keys and every other problem. Type names are spelled as in Packer.

use crate::builders::{amazon_ebs, amazon_ebssurrogate, amazon_ebsvolume, file, null};
use crate::decoder::{ConfigError, Decoder};
use crate::post_processors::{self, PostProcessor};
use crate::provisioners::{self, Provisioner};
use crate::template::hcl2::plugin_keys::{Family, PluginKeys, Unknown};
use crate::template::interp::Context;
use crate::template::json::Object;
use crate::template::parse::{POST_PROCESSOR_COMMON_KEYS, PROVISIONER_COMMON_KEYS};

/// One configured builder.
#[derive(Clone)]
pub enum BuilderConfig {
    AmazonEbs(Box<amazon_ebs::config::Config>),
    AmazonEbsVolume(Box<amazon_ebsvolume::VolumeConfig>),
    AmazonEbsSurrogate(Box<amazon_ebssurrogate::SurrogateConfig>),
    /// Boxed like `AmazonEbs`: its communicator configuration dwarfs `File`.
    Null(Box<null::Config>),
    File(file::Config),
}

/// Builder types rpack knows.
pub const BUILDER_KINDS: &[&str] = &[
    "amazon-ebs",
    "amazon-ebsvolume",
    "amazon-ebssurrogate",
    "null",
    "file",
];

pub fn builder_known(kind: &str) -> bool {
    BUILDER_KINDS.contains(&kind)
}
pub fn provisioner_known(kind: &str) -> bool {
    provisioners::KINDS.contains(&kind)
}
pub fn post_processor_known(kind: &str) -> bool {
    post_processors::KINDS.contains(&kind)
}

/// A decoded plugin with the warnings it produced.
#[derive(Clone)]
pub struct Decoded<T> {
    pub value: T,
    pub warnings: Vec<String>,
}

/// Keys `packer fix` rewrites that Packer 1.6.6 rejects in every plugin's configuration (except
/// shell-local's, which decodes without the plugin type) with "Deprecated configuration key"
/// instead of "unknown configuration key" — observed by running Packer 1.6.6 on each. A key the
/// plugin still reads (`ssh_wait_timeout` in builders) is not affected: only unknown keys are.
const DEPRECATED_EVERYWHERE: &[&str] = &[
    "iso_checksum_type",
    "iso_checksum_url",
    "iso_md5",
    "ssh_disable_agent",
    "ssh_host_port_max",
    "ssh_host_port_min",
    "ssh_key_path",
    "ssh_skip_nat_mapping",
    "ssh_wait_timeout",
];

/// The same for amazon-ebs alone (its fixers: shutdown_behavior, enhanced-networking,
/// private-ip, temp-sec-cidrs, clean-image-name).
const AMAZON_DEPRECATED: &[&str] = &[
    "clean_ami_name",
    "enhanced_networking",
    "shutdown_behaviour",
    "ssh_private_ip",
    "temporary_security_group_source_cidr",
];

/// Decodes a builder of a known type from its object and overrides (later wins).
pub fn decode_builder(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
) -> Result<Decoded<BuilderConfig>, Vec<ConfigError>> {
    builder(kind, raws, ctx, false)
}

fn builder(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
    keys_only: bool,
) -> Result<Decoded<BuilderConfig>, Vec<ConfigError>> {
    let no_render: &[&str] = match kind {
        "amazon-ebs" => amazon_ebs::config::NO_RENDER,
        "amazon-ebsvolume" => amazon_ebsvolume::config::NO_RENDER,
        "amazon-ebssurrogate" => amazon_ebssurrogate::config::NO_RENDER,
        _ => &[],
    };
    let mut d = Decoder::new(raws, ctx, kind, no_render);
    d.keys_only = keys_only;
    d.deprecated(DEPRECATED_EVERYWHERE);
    d.mark_known(&["name"]);
    let (value, warnings) = match kind {
        "amazon-ebs" => {
            d.deprecated(AMAZON_DEPRECATED);
            (
                BuilderConfig::AmazonEbs(Box::new(amazon_ebs::config::decode(&mut d))),
                Vec::new(),
            )
        }
        "amazon-ebsvolume" => {
            d.deprecated(AMAZON_DEPRECATED);
            (
                BuilderConfig::AmazonEbsVolume(Box::new(amazon_ebsvolume::config::decode(&mut d))),
                Vec::new(),
            )
        }
        "amazon-ebssurrogate" => {
            d.deprecated(AMAZON_DEPRECATED);
            (
                BuilderConfig::AmazonEbsSurrogate(Box::new(amazon_ebssurrogate::config::decode(
                    &mut d,
                ))),
                Vec::new(),
            )
        }
        "null" => (
            BuilderConfig::Null(Box::new(null::decode(&mut d))),
            Vec::new(),
        ),
        "file" => {
            let c = file::decode(&mut d);
            let w = c.warnings.clone();
            (BuilderConfig::File(c), w)
        }
        other => unreachable!("decode_builder called for unknown builder type {other}"),
    };
    d.finish()?;
    Ok(Decoded { value, warnings })
}

/// Decodes a provisioner of a known type (base object, then the override for this build).
pub fn decode_provisioner(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
) -> Result<Decoded<Provisioner>, Vec<ConfigError>> {
    provisioner(kind, raws, ctx, false)
}

fn provisioner(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
    keys_only: bool,
) -> Result<Decoded<Provisioner>, Vec<ConfigError>> {
    let mut d = Decoder::new(raws, ctx, kind, provisioners::no_render(kind));
    d.keys_only = keys_only;
    if kind != "shell-local" {
        d.deprecated(DEPRECATED_EVERYWHERE);
    }
    d.mark_known(PROVISIONER_COMMON_KEYS);
    let value = Provisioner::decode(kind, &mut d).expect("caller checked the provisioner type");
    d.finish()?;
    let warnings = value.warnings();
    Ok(Decoded { value, warnings })
}

/// Decodes a post-processor of a known type.
pub fn decode_post_processor(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
) -> Result<Decoded<PostProcessor>, Vec<ConfigError>> {
    post_processor(kind, raws, ctx, false)
}

fn post_processor(
    kind: &str,
    raws: &[&Object],
    ctx: &Context,
    keys_only: bool,
) -> Result<Decoded<PostProcessor>, Vec<ConfigError>> {
    let mut d = Decoder::new(raws, ctx, kind, post_processors::no_render(kind));
    d.keys_only = keys_only;
    match kind {
        "shell-local" => {}
        "manifest" => {
            d.deprecated(DEPRECATED_EVERYWHERE);
            d.deprecated(&["filename"]);
        }
        _ => d.deprecated(DEPRECATED_EVERYWHERE),
    }
    d.mark_known(POST_PROCESSOR_COMMON_KEYS);
    let value =
        PostProcessor::decode(kind, &mut d).expect("caller checked the post-processor type");
    d.finish()?;
    let warnings = value.warnings();
    Ok(Decoded { value, warnings })
}

/// The keys each plugin accepts, as its own decoder reads them (every key it does not read is
/// unknown to it): HCL2 templates check plugin bodies with this when they load.
pub struct Keys;

impl PluginKeys for Keys {
    fn unknown(&self, family: Family, kind: &str, config: &Object) -> Option<Vec<Unknown>> {
        let ctx = Context::default();
        let raws = [config];
        let errs = match family {
            Family::Builder if builder_known(kind) => builder(kind, &raws, &ctx, true).err(),
            Family::Provisioner if provisioner_known(kind) => {
                provisioner(kind, &raws, &ctx, true).err()
            }
            Family::PostProcessor if post_processor_known(kind) => {
                post_processor(kind, &raws, &ctx, true).err()
            }
            _ => return None,
        };
        Some(
            errs.unwrap_or_default()
                .into_iter()
                .filter(|e| {
                    e.message.starts_with("unknown configuration key: ")
                        || e.message.starts_with("Deprecated configuration key: ")
                })
                .filter_map(|e| {
                    Some(Unknown {
                        path: e.key?,
                        pos: e.pos?,
                        suggestion: e.suggestion,
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::json::parse;

    fn errs(kind: &str, src: &str) -> Vec<String> {
        let node = parse(src).unwrap();
        let ctx = Context::default();
        let raws = [node.as_object().unwrap()];
        let res = if builder_known(kind) {
            decode_builder(kind, &raws, &ctx).map(|_| ())
        } else if provisioner_known(kind) && !post_processor_known(kind) {
            decode_provisioner(kind, &raws, &ctx).map(|_| ())
        } else {
            decode_post_processor(kind, &raws, &ctx).map(|_| ())
        };
        res.err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn post_processor_checks() {
        assert_eq!(
            errs(
                "checksum",
                r#"{"type":"checksum","checksum_types":["md5","bogus"]}"#
            ),
            ["Unrecognized checksum type: bogus"]
        );
        assert_eq!(
            errs(
                "manifest",
                r#"{"type":"manifest","bogus":1,"name":"m","only":["x"]}"#
            ),
            ["unknown configuration key: '\"bogus\"'"]
        );
        assert!(errs(
            "manifest",
            r#"{"type":"manifest","output":"{{.BuildName}}.json","strip_path":"true"}"#
        )
        .is_empty());
        assert_eq!(
            errs("shell-local", r#"{"type":"shell-local"}"#),
            ["Command, Inline, Script and Scripts options cannot all be empty."]
        );
    }

    #[test]
    fn file_builder_checks() {
        assert_eq!(errs("file", r#"{"type":"file"}"#), ["target required"]);
        assert_eq!(
            errs(
                "file",
                r#"{"type":"file","name":"x","target":"t","source":"s","content":"c"}"#
            ),
            ["Cannot specify source file AND content"]
        );
    }

    fn unknown(
        family: Family,
        kind: &str,
        src: &str,
    ) -> Option<Vec<(String, u32, Option<String>)>> {
        let node = parse(src).unwrap();
        Keys.unknown(family, kind, node.as_object().unwrap())
            .map(|u| {
                u.into_iter()
                    .map(|u| (u.path, u.pos.line, u.suggestion))
                    .collect()
            })
    }

    #[test]
    fn keys_are_the_plugins_own_decoders_keys() {
        assert_eq!(
            unknown(
                Family::Builder,
                "null",
                "{\"type\":\"null\",\"name\":\"n\",\"communicator\":\"none\",\n\"communicatr\":1,\n\"bogus\":2}"
            ),
            Some(vec![
                ("bogus".into(), 3, None),
                ("communicatr".into(), 2, Some("communicator".into()))
            ])
        );
        // Keys of nested blocks have their path; deprecated keys are unknown too.
        let ebs = unknown(
            Family::Builder,
            "amazon-ebs",
            "{\"type\":\"amazon-ebs\",\"region\":\"r\",\"source_ami_filter\":{\"owners\":[\"x\"],\n\"ownrs\":1},\"ssh_key_path\":\"k\"}",
        )
        .unwrap();
        assert!(
            ebs.contains(&("source_ami_filter.ownrs".into(), 2, Some("owners".into()))),
            "{ebs:?}"
        );
        assert!(ebs.iter().any(|u| u.0 == "ssh_key_path"), "{ebs:?}");
        // The common provisioner and post-processor keys are known; no program runs.
        assert_eq!(
            unknown(
                Family::Provisioner,
                "shell-local",
                "{\"type\":\"shell-local\",\"inline\":[\"x\"],\"only\":[\"a\"],\"pause_before\":\"1s\",\"max_retries\":2,\"timeout\":\"1m\"}"
            ),
            Some(vec![])
        );
        assert_eq!(
            unknown(
                Family::Provisioner,
                "ansible",
                "{\"type\":\"ansible\",\"playbook_file\":\"p.yml\",\"command\":\"/nonexistent/ansible-playbook\",\"bogus\":1}"
            ),
            Some(vec![("bogus".into(), 1, None)])
        );
        assert_eq!(
            unknown(
                Family::PostProcessor,
                "manifest",
                "{\"type\":\"manifest\",\"output\":\"m.json\",\"keep_input_artifact\":true,\"outptu\":1}"
            ),
            Some(vec![("outptu".into(), 1, Some("output".into()))])
        );
        // Unknown plugin types are reported elsewhere.
        assert_eq!(unknown(Family::Builder, "virtualbox-iso", "{}"), None);
        assert_eq!(unknown(Family::PostProcessor, "shell", "{}"), None);
    }
}
