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
    for b in list.iter_mut() {
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
    for item in list.iter_mut() {
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

fn iso_md5(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        if let Some(GoValue::String(md5)) = b.get("iso_md5").cloned() {
            b.remove("iso_md5");
            b.insert("iso_checksum".into(), GoValue::String(md5));
            b.insert("iso_checksum_type".into(), GoValue::String("md5".into()));
        }
        Ok(())
    })
}

fn createtime(input: &mut Map) -> Result<(), String> {
    let re = regex::Regex::new(r"\{\{[\t\n\x0C\r ]*\.CreateTime[\t\n\x0C\r ]*\}\}")
        .expect("fixed pattern");
    each_builder(input, |b| {
        for key in ["ami_name", "bundle_prefix", "snapshot_name"] {
            if let Some(GoValue::String(s)) = b.get_mut(key) {
                *s = re.replace_all(s, "{{timestamp}}").into_owned();
            }
        }
        Ok(())
    })
}

fn virtualbox_gaattach(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "virtualbox",
        |b| {
            if let Some(GoValue::Bool(attach)) = b.get("guest_additions_attach").cloned() {
                b.remove("guest_additions_attach");
                let mode = if attach { "attach" } else { "upload" };
                b.insert("guest_additions_mode".into(), GoValue::String(mode.into()));
            }
            Ok(())
        },
    )
}

fn pp_vagrant_override(input: &mut Map) -> Result<(), String> {
    pps_of(input, "vagrant", |pp| {
        let mut overrides = Map::new();
        for name in ["aws", "digitalocean", "virtualbox", "vmware"] {
            if let Some(v) = pp.remove(name) {
                overrides.insert(name.into(), v);
            }
        }
        if !overrides.is_empty() {
            pp.insert("override".into(), GoValue::Object(overrides));
        }
        Ok(())
    })
}

fn virtualbox_rename(input: &mut Map) -> Result<(), String> {
    rename_type(input, "virtualbox", "virtualbox-iso")?;
    weak_list(input, "provisioners", |p| {
        let merged = match p.get("override") {
            None => return Ok(()),
            Some(GoValue::Object(o)) => o.clone(),
            Some(GoValue::Null) => Map::new(),
            // WeakDecode merges a list of maps into one map.
            Some(GoValue::Array(items)) => {
                let mut m = Map::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        GoValue::Object(o) => m.extend(o.clone()),
                        other => {
                            return Err(mapstructure_errors(&[format!(
                                "'[{i}]' expected a map, got '{}'",
                                other.kind()
                            )]))
                        }
                    }
                }
                m
            }
            Some(other) => {
                return Err(mapstructure_errors(&[format!(
                    "'' expected a map, got '{}'",
                    other.kind()
                )]))
            }
        };
        if merged.contains_key("virtualbox") {
            let mut o = merged;
            rename(&mut o, "virtualbox", "virtualbox-iso");
            p.insert("override".into(), GoValue::Object(o));
        }
        Ok(())
    })
}

fn rename_type(input: &mut Map, from: &str, to: &str) -> Result<(), String> {
    builders_of(
        input,
        |t| t == from,
        |b| {
            b.insert("type".into(), GoValue::String(to.into()));
            Ok(())
        },
    )
}

fn vmware_rename(input: &mut Map) -> Result<(), String> {
    rename_type(input, "vmware", "vmware-iso")
}

fn proxmox_type(input: &mut Map) -> Result<(), String> {
    rename_type(input, "proxmox", "proxmox-iso")
}

fn parallels(t: &str) -> bool {
    t == "parallels-iso" || t == "parallels-pvm"
}

fn parallels_headless(input: &mut Map) -> Result<(), String> {
    builders_of(input, parallels, |b| {
        b.remove("headless");
        Ok(())
    })
}

fn parallels_deprecations(input: &mut Map) -> Result<(), String> {
    builders_of(input, parallels, |b| {
        b.remove("parallels_tools_host_path");
        rename(b, "guest_os_distribution", "guest_os_type");
        Ok(())
    })
}

/// `old` (when of the kind `keep` accepts) becomes `new` unless `new` is set; `old` goes.
fn superseded(b: &mut Map, old: &str, new: &str, keep: fn(&GoValue) -> bool) {
    match b.get(old) {
        Some(v) if keep(v) => {
            let v = v.clone();
            b.entry(new.into()).or_insert(v);
            b.remove(old);
        }
        _ => {}
    }
}

fn sshkeypath(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        superseded(b, "ssh_key_path", "ssh_private_key_file", |v| {
            matches!(v, GoValue::String(_))
        });
        Ok(())
    })
}

fn sshdisableagent(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        superseded(
            b,
            "ssh_disable_agent",
            "ssh_disable_agent_forwarding",
            |v| matches!(v, GoValue::Bool(_)),
        );
        Ok(())
    })
}

fn scaleway_access_key(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "scaleway",
        |b| {
            superseded(b, "access_key", "organization_id", |v| {
                matches!(v, GoValue::String(_))
            });
            Ok(())
        },
    )
}

fn manifest_filename(input: &mut Map) -> Result<(), String> {
    pps_of(input, "manifest", |pp| {
        if let Some(GoValue::String(_)) = pp.get("filename") {
            rename(pp, "filename", "output");
        }
        Ok(())
    })
}

fn amazon_shutdown_behavior(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        rename(b, "shutdown_behaviour", "shutdown_behavior");
        Ok(())
    })
}

fn amazon_enhanced_networking(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        if let Some(GoValue::Bool(_)) = b.get("enhanced_networking") {
            rename(b, "enhanced_networking", "ena_support");
        }
        Ok(())
    })
}

fn amazon_private_ip(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        if b.contains_key("ssh_interface") {
            return Ok(());
        }
        let private = match b.get("ssh_private_ip") {
            None => return Ok(()),
            Some(GoValue::Bool(v)) => *v,
            Some(GoValue::String(s)) => crate::gocompat::strconv::parse_bool(s).ok_or_else(|| {
                format!(
                    "ssh_private_ip is not a boolean, strconv.ParseBool: parsing {}: invalid syntax",
                    crate::gocompat::strconv::quote(s)
                )
            })?,
            Some(other) => {
                return Err(format!(
                    "ssh_private_ip is not a boolean or a string but a {}",
                    other.kind()
                ))
            }
        };
        b.remove("ssh_private_ip");
        let iface = if private { "private_ip" } else { "public_ip" };
        b.insert("ssh_interface".into(), GoValue::String(iface.into()));
        Ok(())
    })
}

fn amazon_temp_sec_cidrs(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        if let Some(GoValue::String(cidr)) = b.get("temporary_security_group_source_cidr").cloned()
        {
            b.remove("temporary_security_group_source_cidr");
            b.insert(
                "temporary_security_group_source_cidrs".into(),
                GoValue::Array(vec![GoValue::String(cidr)]),
            );
        }
        Ok(())
    })
}

fn docker_email(input: &mut Map) -> Result<(), String> {
    if matches!(input.get("post-processors"), None | Some(GoValue::Null)) {
        return Ok(());
    }
    each_builder(input, |b| {
        b.remove("login_email");
        Ok(())
    })?;
    each_pp(input, |pp| {
        pp.remove("login_email");
        Ok(())
    })
}

/// A docker-tag `tag`/`tags` value as tags: a list of strings, or a comma-separated string.
fn tag_list(v: Option<&GoValue>, out: &mut Vec<String>) -> Result<(), String> {
    match v {
        Some(GoValue::Array(items)) => {
            for item in items {
                match item {
                    GoValue::String(s) => out.push(s.clone()),
                    other => {
                        return Err(format!(
                            "docker-tag: a tag must be a string, not a {}",
                            other.kind()
                        ))
                    }
                }
            }
        }
        Some(GoValue::String(s)) => out.extend(
            s.split(',')
                .map(|t| t.trim_matches(is_go_space).to_string()),
        ),
        _ => {}
    }
    Ok(())
}

/// Go's `unicode.IsSpace` (what `strings.TrimSpace` trims).
fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

fn docker_tag_tags(input: &mut Map) -> Result<(), String> {
    if matches!(input.get("post-processors"), None | Some(GoValue::Null)) {
        return Ok(());
    }
    pps_of(input, "docker-tag", |pp| {
        let mut all = Vec::new();
        tag_list(pp.get("tag"), &mut all)?;
        tag_list(pp.get("tags"), &mut all)?;
        let mut seen = std::collections::HashSet::new();
        let tags: Vec<GoValue> = all
            .into_iter()
            .filter(|t| seen.insert(t.clone()))
            .map(GoValue::String)
            .collect();
        pp.remove("tag");
        pp.insert("tags".into(), GoValue::Array(tags));
        Ok(())
    })
}

/// PowerShell's escapes removed: `` `$ `` `` `" `` ``` `` ``` `` `' `` lose the backtick.
fn ps_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if let Some(&n) = chars.peek() {
                if matches!(n, '$' | '"' | '`' | '\'') {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

fn powershell_escapes(input: &mut Map) -> Result<(), String> {
    weak_list(input, "provisioners", |p| {
        if p.get("type").and_then(GoValue::as_str) != Some("powershell") {
            return Ok(());
        }
        // Packer decodes the list before changing anything and drops every change of this
        // provisioner when it is not a list of strings.
        let env = match p.get("environment_vars") {
            None => None,
            Some(GoValue::Null) => Some(Vec::new()),
            Some(GoValue::Array(items))
                if items.iter().all(|i| matches!(i, GoValue::String(_))) =>
            {
                Some(
                    items
                        .iter()
                        .filter_map(GoValue::as_str)
                        .map(|s| GoValue::String(ps_unescape(s)))
                        .collect(),
                )
            }
            Some(_) => return Ok(()),
        };
        for key in ["elevated_user", "elevated_password"] {
            match p.get_mut(key) {
                None => {}
                Some(GoValue::String(s)) => *s = ps_unescape(s),
                Some(other) => {
                    return Err(format!(
                        "powershell: {key} must be a string, not a {}",
                        other.kind()
                    ))
                }
            }
        }
        if let Some(env) = env {
            p.insert("environment_vars".into(), GoValue::Array(env));
        }
        Ok(())
    })
}

fn vmware_compaction(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "vmware-iso",
        |b| {
            if b.get("remote_type").and_then(GoValue::as_str) != Some("esx5") {
                return Ok(());
            }
            match b.get("disk_type_id") {
                None => {
                    b.insert("disk_type_id".into(), GoValue::String("zeroedthick".into()));
                }
                Some(GoValue::String(id)) if id != "thin" => {}
                Some(_) => return Ok(()),
            }
            match b.get("skip_compaction") {
                None => {
                    b.insert("skip_compaction".into(), GoValue::Bool(true));
                }
                Some(GoValue::Bool(false)) => {
                    b.insert("skip_compaction".into(), GoValue::Bool(true));
                }
                Some(_) => {}
            }
            Ok(())
        },
    )
}

fn hyperv_deprecations(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "hyperv-iso",
        |b| {
            b.remove("vhd_temp_path");
            Ok(())
        },
    )
}

fn hyperv_vmxc_typo(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "hyperv-vmcx",
        |b| {
            rename(b, "clone_from_vmxc_path", "clone_from_vmcx_path");
            Ok(())
        },
    )
}

fn hyperv_cpu_and_ram(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "hyperv-vmcx" || t == "hyperv-iso",
        |b| {
            rename(b, "cpu", "cpus");
            rename(b, "ram_size", "memory");
            Ok(())
        },
    )
}

fn clean_name(s: &str) -> String {
    s.replace("clean_image_name", "clean_resource_name")
        .replace("clean_ami_name", "clean_resource_name")
}

fn clean_image_name(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        for (key, v) in b.iter_mut() {
            match v {
                GoValue::String(s) => *s = clean_name(s),
                GoValue::Object(m) => {
                    for inner in m.values_mut() {
                        if let GoValue::String(s) = inner {
                            *s = clean_name(s);
                        }
                    }
                }
                other if key == "image_labels" => {
                    return Err(format!(
                        "clean-image-name: image_labels must be a map, not a {}",
                        other.kind()
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    })
}

fn spot_price_auto_product(input: &mut Map) -> Result<(), String> {
    let kinds = [
        "amazon-ebs",
        "amazon-ebssurrogate",
        "amazon-ebsvolume",
        "amazon-instance",
    ];
    builders_of(
        input,
        |t| kinds.contains(&t),
        |b| {
            b.remove("spot_price_auto_product");
            Ok(())
        },
    )
}

fn qemu_disk_size(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "qemu",
        |b| {
            if let Some(GoValue::Number(f)) = b.get("disk_size").cloned() {
                // Go's int(f): truncation toward zero.
                let n = f.trunc() as i64;
                b.insert("disk_size".into(), GoValue::String(format!("{n}M")));
            }
            Ok(())
        },
    )
}

fn galaxy_command(input: &mut Map) -> Result<(), String> {
    weak_list(input, "provisioners", |p| {
        if p.get("type").and_then(GoValue::as_str) != Some("ansible-local") {
            return Ok(());
        }
        if p.contains_key("galaxy_command") {
            p.remove("galaxycommand");
        } else if let Some(GoValue::String(_)) = p.get("galaxycommand") {
            rename(p, "galaxycommand", "galaxy_command");
        }
        Ok(())
    })
}

/// The WeakDecode fixers' walk over builders that are already a list (an earlier fixer has
/// refused anything else): `f` on each map.
fn builder_maps(input: &mut Map, mut f: impl FnMut(&mut Map)) {
    if let Some(GoValue::Array(items)) = input.get_mut("builders") {
        for item in items.iter_mut() {
            if let GoValue::Object(m) = item {
                f(m);
            }
        }
    }
}

/// `old` goes; its value moves to `new` unless `new` is set.
fn prefer_new(b: &mut Map, old: &str, new: &str) {
    if b.contains_key(new) {
        b.remove(old);
    } else {
        rename(b, old, new);
    }
}

fn comm_config(input: &mut Map) -> Result<(), String> {
    builder_maps(input, |b| {
        // Packer panics on a builder without a string type; rpack leaves it alone.
        if !b
            .get("type")
            .and_then(GoValue::as_str)
            .is_some_and(|t| t.starts_with("virtualbox"))
        {
            return;
        }
        prefer_new(b, "ssh_host_port_min", "host_port_min");
        prefer_new(b, "ssh_host_port_max", "host_port_max");
        if b.contains_key("skip_nat_mapping") {
            b.remove("ssh_skip_nat_mapping");
        } else if let Some(GoValue::Bool(_)) = b.get("ssh_skip_nat_mapping") {
            rename(b, "ssh_skip_nat_mapping", "skip_nat_mapping");
        }
    });
    Ok(())
}

fn ssh_wait_timeout(input: &mut Map) -> Result<(), String> {
    builder_maps(input, |b| {
        if b.contains_key("ssh_timeout") {
            b.remove("ssh_wait_timeout");
        } else if let Some(GoValue::String(_)) = b.get("ssh_wait_timeout") {
            rename(b, "ssh_wait_timeout", "ssh_timeout");
        }
    });
    Ok(())
}

/// Gathers `keys` (old name, new name) of `b` into one map put first in the list `list_key`.
fn gather(b: &mut Map, keys: &[(&str, &str)], list_key: &str) -> Result<(), String> {
    let mut item = Map::new();
    let mut found = false;
    for (old, new) in keys {
        if let Some(v) = b.remove(*old) {
            item.insert((*new).into(), v);
            found = true;
        }
    }
    if !found {
        return Ok(());
    }
    let mut list = vec![GoValue::Object(item)];
    match b.get(list_key) {
        None => {}
        Some(GoValue::Array(existing)) => list.extend(existing.iter().cloned()),
        Some(other) => {
            return Err(format!(
                "vsphere-iso-net-disk: {list_key} must be a list, not a {}",
                other.kind()
            ))
        }
    }
    b.insert(list_key.into(), GoValue::Array(list));
    Ok(())
}

fn vsphere_iso_net_disk(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "vsphere-iso",
        |b| {
            gather(
                b,
                &[
                    ("network", "network"),
                    ("networkCard", "network_card"),
                    ("network_card", "network_card"),
                ],
                "network_adapters",
            )?;
            gather(
                b,
                &[
                    ("disk_size", "disk_size"),
                    ("disk_thin_provisioned", "disk_thin_provisioned"),
                    ("disk_eagerly_scrub", "disk_eagerly_scrub"),
                ],
                "storage",
            )
        },
    )
}

fn iso_checksum_type_and_url(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        let text = |b: &Map, k: &str| b.get(k).and_then(GoValue::as_str).unwrap_or("").to_string();
        let url = text(b, "iso_checksum_url");
        let kind = text(b, "iso_checksum_type");
        let mut checksum = text(b, "iso_checksum");
        b.remove("iso_checksum_url");
        b.remove("iso_checksum_type");
        if checksum.is_empty() && url.is_empty() {
            return Ok(());
        }
        if !url.is_empty() {
            checksum = format!("file:{url}");
        } else if !kind.is_empty() {
            checksum = format!("{kind}:{checksum}");
        }
        b.insert("iso_checksum".into(), GoValue::String(checksum));
        Ok(())
    })
}

fn qemu_host_port(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "qemu",
        |b| {
            rename(b, "ssh_host_port_min", "host_port_min");
            rename(b, "ssh_host_port_max", "host_port_max");
            Ok(())
        },
    )
}

fn azure_exclude_from_latest(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t.starts_with("azure-chroot"),
        |b| {
            if let Some(GoValue::Object(d)) = b.get_mut("shared_image_destination") {
                rename(d, "exlude_from_latest", "exclude_from_latest");
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests;
