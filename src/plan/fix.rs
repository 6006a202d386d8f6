//! `packer fix`: Packer 1.6.6's 34 fixers, run in its order over the template as Go decodes it
//! (`map[string]interface{}`), with mapstructure's decoding rules where they show (a missing
//! `builders` comes out as `null`, a single provisioner object is lifted into a list).
//!
//! Where a Packer fixer would panic on an unexpected type (`comm-config` on a builder without a
//! string `type`, `docker-tag-tags` on a non-string tag, …), rpack skips the builder or reports
//! an error instead of crashing.

use std::collections::BTreeMap;

use crate::gocompat::json::GoValue;
use crate::template::json::{Node, Value};
use crate::template::parse::mapstructure_errors;

type Map = BTreeMap<String, GoValue>;
type Fixer = fn(&mut Map) -> Result<(), String>;

/// The fixers in Packer 1.6.6's order, with the synopsis `packer fix -h` prints.
pub const FIXERS: &[(&str, &str, Fixer)] = &[
    ("iso-md5", "Replaces \"iso_md5\" in builders with \"iso_checksum\"", iso_md5),
    ("createtime", "Replaces \".CreateTime\" in builder configs with \"{{timestamp}}\"", createtime),
    ("virtualbox-gaattach", "Updates VirtualBox builders using \"guest_additions_attach\" to use \"guest_additions_mode\"", virtualbox_gaattach),
    ("pp-vagrant-override", "Fixes provider-specific overrides for Vagrant post-processor", pp_vagrant_override),
    ("virtualbox-rename", "Updates \"virtualbox\" builders to \"virtualbox-iso\"", virtualbox_rename),
    ("vmware-rename", "Updates \"vmware\" builders to \"vmware-iso\"", vmware_rename),
    ("parallels-headless", "Removes unused \"headless\" from Parallels builders", parallels_headless),
    ("parallels-deprecations", "Removes deprecated \"parallels_tools_host_path\" from Parallels builders and changes \"guest_os_distribution\" to \"guest_os_type\".", parallels_deprecations),
    ("sshkeypath", "Updates builders using \"ssh_key_path\" to use \"ssh_private_key_file\"", sshkeypath),
    ("sshdisableagent", "Updates builders using \"ssh_disable_agent\" to use \"ssh_disable_agent_forwarding\"", sshdisableagent),
    ("scaleway-access-key", "Updates builders using \"access_key\" to use \"organization_id\"", scaleway_access_key),
    ("manifest-filename", "Updates \"manifest\" post-processor so any \"filename\" field is renamed to \"output\".", manifest_filename),
    ("amazon-shutdown_behavior", "Changes \"shutdown_behaviour\" to \"shutdown_behavior\" in Amazon builders.", amazon_shutdown_behavior),
    ("amazon-enhanced-networking", "Replaces \"enhanced_networking\" in builders with \"ena_support\"", amazon_enhanced_networking),
    ("amazon-private-ip", "Replaces `\"ssh_private_ip\": true` in amazon builders with `\"ssh_interface\": \"private_ip\"`", amazon_private_ip),
    ("amazon-temp-sec-cidrs", "Replaces \"temporary_security_group_source_cidr\" (string) with \"temporary_security_group_source_cidrs\" (list of strings)", amazon_temp_sec_cidrs),
    ("docker-email", "Removes \"login_email\" from the Docker builder.", docker_email),
    ("docker-tag-tags", "Updates \"docker\" post-processor so any \"tag\" field is renamed to \"tags\".", docker_tag_tags),
    ("powershell-escapes", "Removes PowerShell escapes from user env vars and elevated username and password strings", powershell_escapes),
    ("vmware-compaction", "Adds \"skip_compaction = true\" to \"vmware-iso\" builders with incompatible disk_type_id", vmware_compaction),
    ("hyperv-deprecations", "Removes the deprecated \"vhd_temp_path\" setting from Hyper-V ISO builder templates", hyperv_deprecations),
    ("hyperv-vmxc-typo", "Fixes a typo replacing \"clone_from_vmxc_path\" with \"clone_from_vmcx_path\" in Hyper-V VMCX builder templates", hyperv_vmxc_typo),
    ("hyperv-cpu-and-ram", "Replaces \"cpu\" with \"cpus\" and \"ram_size\" with \"memory\"in Hyper-V VMCX builder templates", hyperv_cpu_and_ram),
    ("clean-image-name", "Replaces /clean_(image|ami)_name/ in builder configs with \"clean_resource_name\"", clean_image_name),
    ("spot-price-auto-product", "Removes the deprecated \"spot_price_auto_product\" setting from Amazon builder templates", spot_price_auto_product),
    ("qemu-disk-size", "Updates \"disk_size\" from int to string in QEMU builders.", qemu_disk_size),
    ("galaxy-command", "Replaces \"galaxycommand\" in ansible-local provisioner configs with \"galaxy_command\"", galaxy_command),
    ("comm-config", "Remove ssh prefixes from communicator port forwarding configuration (host_port_min, host_port_max, skip_nat_mapping)", comm_config),
    ("ssh-wait-timeout", "Replaces \"ssh_wait_timeout\" with \"ssh_timeout\"", ssh_wait_timeout),
    ("vsphere-iso-net-disk", "Removes deprecated network and disk fields from \"vsphere-iso\" builder", vsphere_iso_net_disk),
    ("iso-checksum-type-and-url", "Puts content of potential \"iso_checksum_url\" and \"iso_checksum_url\" in \"iso_checksum\"", iso_checksum_type_and_url),
    ("qemu-host-port", "Updates ssh_host_port_min and ssh_host_port_max to host_port_min and host_port_max", qemu_host_port),
    ("azure-exclude_from_latest", "Changes \"exlude_from_latest\" to \"exclude_from_latest\" in Azure builders.", azure_exclude_from_latest),
    ("proxmox-type", "Updates the builder type proxmox to proxmox-iso", proxmox_type),
];

/// The template as Go's `json.Decoder` fills a `map[string]interface{}`; the error is Go's
/// (`json: cannot unmarshal array into Go value of type map[string]interface {}`).
pub fn decode(root: &Node) -> Result<Map, String> {
    match to_go(root)? {
        GoValue::Object(m) => Ok(m),
        GoValue::Null => Err("the template is null, not a JSON object".into()),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            match other {
                GoValue::Array(_) => "array",
                GoValue::String(_) => "string",
                GoValue::Number(_) => "number",
                _ => "bool",
            }
        )),
    }
}

fn to_go(n: &Node) -> Result<GoValue, String> {
    Ok(match &n.value {
        Value::Null => GoValue::Null,
        Value::Bool(b) => GoValue::Bool(*b),
        Value::Number(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() => GoValue::Number(f),
            _ => {
                return Err(format!(
                    "json: cannot unmarshal number {s} into Go value of type float64"
                ))
            }
        },
        Value::String(s) => GoValue::String(s.clone()),
        Value::Array(items) => GoValue::Array(items.iter().map(to_go).collect::<Result<_, _>>()?),
        // A repeated key: the later value wins, as in Go.
        Value::Object(o) => GoValue::Object(
            o.entries
                .iter()
                .map(|(k, _, v)| Ok((k.clone(), to_go(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Runs every fixer in order; the error is the first fixer's, as `Error fixing: …` shows it.
pub fn fix(mut input: Map) -> Result<GoValue, String> {
    for (_, _, f) in FIXERS {
        f(&mut input)?;
    }
    Ok(GoValue::Object(input))
}

/// `mapstructure.Decode(input, &struct{ Builders []map[string]interface{} })`, `f` on each
/// builder, then `input["builders"] = tpl.Builders` (a missing list becomes `null`).
fn each_builder(
    input: &mut Map,
    mut f: impl FnMut(&mut Map) -> Result<(), String>,
) -> Result<(), String> {
    let mut list = match input.remove("builders") {
        None | Some(GoValue::Null) => {
            input.insert("builders".into(), GoValue::Null);
            return Ok(());
        }
        Some(GoValue::Array(items)) => items,
        Some(other) => {
            let kind = other.kind();
            input.insert("builders".into(), other);
            return Err(mapstructure_errors(&[format!(
                "'Builders': source data must be an array or slice, got {kind}"
            )]));
        }
    };
    let errs: Vec<String> = list
        .iter()
        .enumerate()
        .filter(|(_, b)| !matches!(b, GoValue::Object(_) | GoValue::Null))
        .map(|(i, b)| format!("'Builders[{i}]' expected a map, got '{}'", b.kind()))
        .collect();
    if !errs.is_empty() {
        input.insert("builders".into(), GoValue::Array(list));
        return Err(mapstructure_errors(&errs));
    }
    let mut res = Ok(());
    for b in &mut list {
        if let GoValue::Object(m) = b {
            res = res.and_then(|()| f(m));
        }
    }
    input.insert("builders".into(), GoValue::Array(list));
    res
}

/// `each_builder` for builders whose `type` is a string accepted by `want`.
fn builders_of(
    input: &mut Map,
    want: impl Fn(&str) -> bool,
    mut f: impl FnMut(&mut Map) -> Result<(), String>,
) -> Result<(), String> {
    each_builder(input, |b| match b.get("type").and_then(GoValue::as_str) {
        Some(t) if want(t) => f(b),
        _ => Ok(()),
    })
}

/// `mapstructure.WeakDecode` of a list into `[]interface{}` (a lone value is lifted into a
/// list, an empty map is an empty list), `f` on each map element, and the list written back
/// when it is not empty.
fn weak_list(
    input: &mut Map,
    key: &str,
    mut f: impl FnMut(&mut Map) -> Result<(), String>,
) -> Result<(), String> {
    let mut list = match input.get(key) {
        None | Some(GoValue::Null) => return Ok(()),
        Some(GoValue::Array(items)) => items.clone(),
        Some(GoValue::Object(m)) if m.is_empty() => return Ok(()),
        Some(other) => vec![other.clone()],
    };
    for item in &mut list {
        if let GoValue::Object(m) = item {
            f(m)?;
        }
    }
    if !list.is_empty() {
        input.insert(key.into(), GoValue::Array(list));
    }
    Ok(())
}

/// Every post-processor definition (a lone map, or maps inside a sequence), when
/// `post-processors` is set; Packer's `ppList`.
fn each_pp(
    input: &mut Map,
    mut f: impl FnMut(&mut Map) -> Result<(), String>,
) -> Result<(), String> {
    match input.get_mut("post-processors") {
        None | Some(GoValue::Null) => Ok(()),
        Some(GoValue::Array(items)) => {
            for item in items.iter_mut() {
                match item {
                    GoValue::Object(m) => f(m)?,
                    GoValue::Array(inner) => {
                        for i in inner.iter_mut() {
                            if let GoValue::Object(m) = i {
                                f(m)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Some(other) => Err(mapstructure_errors(&[format!(
            "'post-processors': source data must be an array or slice, got {}",
            other.kind()
        )])),
    }
}

fn pps_of(
    input: &mut Map,
    kind: &str,
    mut f: impl FnMut(&mut Map) -> Result<(), String>,
) -> Result<(), String> {
    each_pp(input, |pp| match pp.get("type").and_then(GoValue::as_str) {
        Some(t) if t == kind => f(pp),
        _ => Ok(()),
    })
}

/// Moves `from` to `to` when present.
fn rename(m: &mut Map, from: &str, to: &str) {
    if let Some(v) = m.remove(from) {
        m.insert(to.into(), v);
    }
}

fn amazon(t: &str) -> bool {
    t.starts_with("amazon-")
}

mod fixers;
use fixers::{
    amazon_enhanced_networking, amazon_private_ip, amazon_shutdown_behavior, amazon_temp_sec_cidrs,
    azure_exclude_from_latest, clean_image_name, comm_config, createtime, docker_email,
    docker_tag_tags, galaxy_command, hyperv_cpu_and_ram, hyperv_deprecations, hyperv_vmxc_typo,
    iso_checksum_type_and_url, iso_md5, manifest_filename, parallels_deprecations,
    parallels_headless, powershell_escapes, pp_vagrant_override, proxmox_type, qemu_disk_size,
    qemu_host_port, scaleway_access_key, spot_price_auto_product, ssh_wait_timeout,
    sshdisableagent, sshkeypath, virtualbox_gaattach, virtualbox_rename, vmware_compaction,
    vmware_rename, vsphere_iso_net_disk,
};

#[cfg(test)]
mod tests;
