//! The plugin types Packer 1.6.6 ships built in, so that a type rpack does not implement is
//! reported as such ("not implemented by rpack") and not as a typo. A name Packer does not know
//! either keeps Packer's `Unknown builder x` wording.
//!
//! The lists are upstream Packer v1.6.6's `command/plugin.go`; Debian's build of 1.6.6 leaves
//! out a few (hyperone, linode, osc-*, ucloud-*, yandex*), which it then calls unknown.

use crate::template::json::Pos;

pub const BUILDERS: &[&str] = &[
    "alicloud-ecs",
    "amazon-chroot",
    "amazon-ebs",
    "amazon-ebssurrogate",
    "amazon-ebsvolume",
    "amazon-instance",
    "azure-arm",
    "azure-chroot",
    "azure-dtl",
    "cloudstack",
    "digitalocean",
    "docker",
    "file",
    "googlecompute",
    "hcloud",
    "hyperone",
    "hyperv-iso",
    "hyperv-vmcx",
    "jdcloud",
    "linode",
    "lxc",
    "lxd",
    "ncloud",
    "null",
    "oneandone",
    "openstack",
    "oracle-classic",
    "oracle-oci",
    "osc-bsu",
    "osc-bsusurrogate",
    "osc-bsuvolume",
    "osc-chroot",
    "parallels-iso",
    "parallels-pvm",
    "profitbricks",
    "proxmox",
    "proxmox-clone",
    "proxmox-iso",
    "qemu",
    "scaleway",
    "tencentcloud-cvm",
    "triton",
    "ucloud-uhost",
    "vagrant",
    "virtualbox-iso",
    "virtualbox-ovf",
    "virtualbox-vm",
    "vmware-iso",
    "vmware-vmx",
    "vsphere-clone",
    "vsphere-iso",
    "yandex",
];

pub const PROVISIONERS: &[&str] = &[
    "ansible",
    "ansible-local",
    "azure-dtlartifact",
    "breakpoint",
    "chef-client",
    "chef-solo",
    "converge",
    "file",
    "inspec",
    "powershell",
    "puppet-masterless",
    "puppet-server",
    "salt-masterless",
    "shell",
    "shell-local",
    "sleep",
    "windows-restart",
    "windows-shell",
];

pub const POST_PROCESSORS: &[&str] = &[
    "alicloud-import",
    "amazon-import",
    "artifice",
    "checksum",
    "compress",
    "digitalocean-import",
    "docker-import",
    "docker-push",
    "docker-save",
    "docker-tag",
    "exoscale-import",
    "googlecompute-export",
    "googlecompute-import",
    "manifest",
    "shell-local",
    "ucloud-import",
    "vagrant",
    "vagrant-cloud",
    "vsphere",
    "vsphere-template",
    "yandex-export",
    "yandex-import",
];

/// What kind of plugin a message is about.
#[derive(Clone, Copy)]
pub enum Plugin {
    Builder,
    Provisioner,
    PostProcessor,
}

impl Plugin {
    fn word(self) -> &'static str {
        match self {
            Plugin::Builder => "builder",
            Plugin::Provisioner => "provisioner",
            Plugin::PostProcessor => "post-processor",
        }
    }

    fn packer_builtins(self) -> &'static [&'static str] {
        match self {
            Plugin::Builder => BUILDERS,
            Plugin::Provisioner => PROVISIONERS,
            Plugin::PostProcessor => POST_PROCESSORS,
        }
    }
}

/// For a type rpack does not implement but Packer 1.6.6 has built in: one line naming the
/// occurrence (`provisioner 2`), its position and what rpack implements instead (`implemented`
/// comes from the registry). `None` when Packer does not know the type either.
pub fn not_implemented(
    plugin: Plugin,
    occurrence: &str,
    kind: &str,
    file: &str,
    pos: Pos,
    implemented: &[&str],
) -> Option<String> {
    if !plugin.packer_builtins().contains(&kind) {
        return None;
    }
    Some(format!(
        "{occurrence}: {} type {} (a Packer 1.6.6 built-in) is not implemented by rpack ({file}:{}:{}); rpack implements: {}",
        plugin.word(),
        crate::template::json::go_quote(kind),
        pos.line,
        pos.col,
        implemented.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_packer_builtins_get_the_not_implemented_message() {
        let pos = Pos {
            offset: 0,
            line: 4,
            col: 15,
            file: 0,
        };
        assert_eq!(
            not_implemented(Plugin::Provisioner, "provisioner 1", "chef-solo", "t.json", pos, &["shell", "file"]).unwrap(),
            "provisioner 1: provisioner type \"chef-solo\" (a Packer 1.6.6 built-in) is not implemented by rpack (t.json:4:15); rpack implements: shell, file"
        );
        assert_eq!(
            not_implemented(
                Plugin::Provisioner,
                "provisioner 1",
                "chef-sollo",
                "t.json",
                pos,
                &[]
            ),
            None
        );
        assert!(
            not_implemented(Plugin::Builder, "builder 0", "docker", "t.json", pos, &[]).is_some()
        );
        assert!(not_implemented(
            Plugin::PostProcessor,
            "post-processor 0.0",
            "vagrant",
            "t.json",
            pos,
            &[]
        )
        .is_some());
    }
}
