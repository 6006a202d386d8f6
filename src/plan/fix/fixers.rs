//! The fixers themselves, one function each, in Packer 1.6.6's order (see [`super::FIXERS`]).

use super::{
    amazon, builders_of, each_builder, each_pp, mapstructure_errors, pps_of, rename, weak_list,
    GoValue, Map,
};

pub(super) fn iso_md5(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        if let Some(GoValue::String(md5)) = b.get("iso_md5").cloned() {
            b.remove("iso_md5");
            b.insert("iso_checksum".into(), GoValue::String(md5));
            b.insert("iso_checksum_type".into(), GoValue::String("md5".into()));
        }
        Ok(())
    })
}

pub(super) fn createtime(input: &mut Map) -> Result<(), String> {
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

pub(super) fn virtualbox_gaattach(input: &mut Map) -> Result<(), String> {
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

pub(super) fn pp_vagrant_override(input: &mut Map) -> Result<(), String> {
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

pub(super) fn virtualbox_rename(input: &mut Map) -> Result<(), String> {
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

pub(super) fn rename_type(input: &mut Map, from: &str, to: &str) -> Result<(), String> {
    builders_of(
        input,
        |t| t == from,
        |b| {
            b.insert("type".into(), GoValue::String(to.into()));
            Ok(())
        },
    )
}

pub(super) fn vmware_rename(input: &mut Map) -> Result<(), String> {
    rename_type(input, "vmware", "vmware-iso")
}

pub(super) fn proxmox_type(input: &mut Map) -> Result<(), String> {
    rename_type(input, "proxmox", "proxmox-iso")
}

pub(super) fn parallels(t: &str) -> bool {
    t == "parallels-iso" || t == "parallels-pvm"
}

pub(super) fn parallels_headless(input: &mut Map) -> Result<(), String> {
    builders_of(input, parallels, |b| {
        b.remove("headless");
        Ok(())
    })
}

pub(super) fn parallels_deprecations(input: &mut Map) -> Result<(), String> {
    builders_of(input, parallels, |b| {
        b.remove("parallels_tools_host_path");
        rename(b, "guest_os_distribution", "guest_os_type");
        Ok(())
    })
}

/// `old` (when of the kind `keep` accepts) becomes `new` unless `new` is set; `old` goes.
pub(super) fn superseded(b: &mut Map, old: &str, new: &str, keep: fn(&GoValue) -> bool) {
    match b.get(old) {
        Some(v) if keep(v) => {
            let v = v.clone();
            b.entry(new.into()).or_insert(v);
            b.remove(old);
        }
        _ => {}
    }
}

pub(super) fn sshkeypath(input: &mut Map) -> Result<(), String> {
    each_builder(input, |b| {
        superseded(b, "ssh_key_path", "ssh_private_key_file", |v| {
            matches!(v, GoValue::String(_))
        });
        Ok(())
    })
}

pub(super) fn sshdisableagent(input: &mut Map) -> Result<(), String> {
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

pub(super) fn scaleway_access_key(input: &mut Map) -> Result<(), String> {
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

pub(super) fn manifest_filename(input: &mut Map) -> Result<(), String> {
    pps_of(input, "manifest", |pp| {
        if let Some(GoValue::String(_)) = pp.get("filename") {
            rename(pp, "filename", "output");
        }
        Ok(())
    })
}

pub(super) fn amazon_shutdown_behavior(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        rename(b, "shutdown_behaviour", "shutdown_behavior");
        Ok(())
    })
}

pub(super) fn amazon_enhanced_networking(input: &mut Map) -> Result<(), String> {
    builders_of(input, amazon, |b| {
        if let Some(GoValue::Bool(_)) = b.get("enhanced_networking") {
            rename(b, "enhanced_networking", "ena_support");
        }
        Ok(())
    })
}

pub(super) fn amazon_private_ip(input: &mut Map) -> Result<(), String> {
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

pub(super) fn amazon_temp_sec_cidrs(input: &mut Map) -> Result<(), String> {
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

pub(super) fn docker_email(input: &mut Map) -> Result<(), String> {
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
pub(super) fn tag_list(v: Option<&GoValue>, out: &mut Vec<String>) -> Result<(), String> {
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
pub(super) fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

pub(super) fn docker_tag_tags(input: &mut Map) -> Result<(), String> {
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
pub(super) fn ps_unescape(s: &str) -> String {
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

pub(super) fn powershell_escapes(input: &mut Map) -> Result<(), String> {
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

pub(super) fn vmware_compaction(input: &mut Map) -> Result<(), String> {
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

pub(super) fn hyperv_deprecations(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "hyperv-iso",
        |b| {
            b.remove("vhd_temp_path");
            Ok(())
        },
    )
}

pub(super) fn hyperv_vmxc_typo(input: &mut Map) -> Result<(), String> {
    builders_of(
        input,
        |t| t == "hyperv-vmcx",
        |b| {
            rename(b, "clone_from_vmxc_path", "clone_from_vmcx_path");
            Ok(())
        },
    )
}

pub(super) fn hyperv_cpu_and_ram(input: &mut Map) -> Result<(), String> {
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

pub(super) fn clean_name(s: &str) -> String {
    s.replace("clean_image_name", "clean_resource_name")
        .replace("clean_ami_name", "clean_resource_name")
}

pub(super) fn clean_image_name(input: &mut Map) -> Result<(), String> {
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

pub(super) fn spot_price_auto_product(input: &mut Map) -> Result<(), String> {
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

pub(super) fn qemu_disk_size(input: &mut Map) -> Result<(), String> {
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

pub(super) fn galaxy_command(input: &mut Map) -> Result<(), String> {
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
pub(super) fn builder_maps(input: &mut Map, mut f: impl FnMut(&mut Map)) {
    if let Some(GoValue::Array(items)) = input.get_mut("builders") {
        for item in items.iter_mut() {
            if let GoValue::Object(m) = item {
                f(m);
            }
        }
    }
}

/// `old` goes; its value moves to `new` unless `new` is set.
pub(super) fn prefer_new(b: &mut Map, old: &str, new: &str) {
    if b.contains_key(new) {
        b.remove(old);
    } else {
        rename(b, old, new);
    }
}

pub(super) fn comm_config(input: &mut Map) -> Result<(), String> {
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

pub(super) fn ssh_wait_timeout(input: &mut Map) -> Result<(), String> {
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
pub(super) fn gather(b: &mut Map, keys: &[(&str, &str)], list_key: &str) -> Result<(), String> {
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

pub(super) fn vsphere_iso_net_disk(input: &mut Map) -> Result<(), String> {
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

pub(super) fn iso_checksum_type_and_url(input: &mut Map) -> Result<(), String> {
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

pub(super) fn qemu_host_port(input: &mut Map) -> Result<(), String> {
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

pub(super) fn azure_exclude_from_latest(input: &mut Map) -> Result<(), String> {
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
