use super::*;
use crate::gocompat::json::fix_output;

fn fixed(src: &str) -> Result<String, String> {
    let root = crate::template::json::parse_allowing_duplicates(src).unwrap();
    fix(decode(&root)?).map(|v| fix_output(&v))
}

fn compact(src: &str) -> String {
    fixed(src)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn the_fixers_are_packers_34_in_its_order() {
    assert_eq!(FIXERS.len(), 34);
    assert_eq!(FIXERS[0].0, "iso-md5");
    assert_eq!(FIXERS[33].0, "proxmox-type");
    let names: Vec<&str> = FIXERS.iter().map(|f| f.0).collect();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("clean-image-name") < at("ssh-wait-timeout"));
    assert!(at("iso-md5") < at("iso-checksum-type-and-url"));
}

#[test]
fn amazon_fixers_rewrite_what_packer_rewrites() {
    let src = r#"{"builders":[{"type":"amazon-ebs","ssh_wait_timeout":"5m","shutdown_behaviour":"stop",
      "enhanced_networking":true,"ssh_private_ip":"true","temporary_security_group_source_cidr":"1.2.3.4/32",
      "spot_price_auto_product":"Linux/UNIX","ssh_key_path":"k","ami_name":"x {{.CreateTime}} {{isotime | clean_ami_name}}",
      "tags":{"a":"{{clean_image_name `b`}}"}}]}"#;
    assert_eq!(
        compact(src),
        r#"{"builders":[{"ami_name":"x{{timestamp}}{{isotime|clean_resource_name}}","ena_support":true,"shutdown_behavior":"stop","ssh_interface":"private_ip","ssh_private_key_file":"k","ssh_timeout":"5m","tags":{"a":"{{clean_resource_name`b`}}"},"temporary_security_group_source_cidrs":["1.2.3.4/32"],"type":"amazon-ebs"}]}"#
    );
}

#[test]
fn missing_builders_become_null_and_lone_provisioners_a_list() {
    assert_eq!(compact("{}"), r#"{"builders":null}"#);
    assert_eq!(
        compact(r#"{"builders":[{"type":"null"}],"provisioners":{"type":"shell"}}"#),
        r#"{"builders":[{"type":"null"}],"provisioners":[{"type":"shell"}]}"#
    );
}

#[test]
fn decode_errors_are_mapstructures() {
    assert_eq!(
        fixed(r#"{"builders":"x"}"#).unwrap_err(),
        "1 error(s) decoding:\n\n* 'Builders': source data must be an array or slice, got string"
    );
    assert_eq!(
        fixed(r#"{"builders":["x",1]}"#).unwrap_err(),
        "2 error(s) decoding:\n\n* 'Builders[0]' expected a map, got 'string'\n* 'Builders[1]' expected a map, got 'float64'"
    );
    assert_eq!(
        fixed("[1]").unwrap_err(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    assert_eq!(
        fixed(r#"{"builders":[{"type":"amazon-ebs","ssh_private_ip":"x"}]}"#).unwrap_err(),
        "ssh_private_ip is not a boolean, strconv.ParseBool: parsing \"x\": invalid syntax"
    );
}

#[test]
fn other_builders_and_post_processors() {
    let src = r#"{"builders":[
      {"type":"virtualbox","guest_additions_attach":false,"ssh_host_port_min":1,"host_port_max":2,"ssh_host_port_max":3,"ssh_skip_nat_mapping":true},
      {"type":"vmware-iso","remote_type":"esx5"},
      {"type":"qemu","disk_size":1000.7,"ssh_host_port_min":5,"iso_md5":"abc"},
      {"type":"vsphere-iso","network":"n","networkCard":"c","disk_size":5,"storage":[{"x":1}]},
      {"type":"proxmox","iso_checksum":"x","iso_checksum_url":"http://u"}],
      "provisioners":[{"type":"powershell","elevated_user":"a`$b","environment_vars":["X=`\"y`\"","Z=``"]},
        {"type":"ansible-local","galaxycommand":"g"},{"type":"shell","override":{"virtualbox":{"a":1}}}],
      "post-processors":[{"type":"manifest","filename":"m.json"},[{"type":"docker-tag","tag":"a, b","tags":["b","c"],"login_email":"e"}],
        {"type":"vagrant","aws":{"x":1}}]}"#;
    assert_eq!(
        compact(src),
        concat!(
            r#"{"builders":[{"guest_additions_mode":"upload","host_port_max":2,"host_port_min":1,"skip_nat_mapping":true,"type":"virtualbox-iso"},"#,
            r#"{"disk_type_id":"zeroedthick","remote_type":"esx5","skip_compaction":true,"type":"vmware-iso"},"#,
            r#"{"disk_size":"1000M","host_port_min":5,"iso_checksum":"md5:abc","type":"qemu"},"#,
            r#"{"network_adapters":[{"network":"n","network_card":"c"}],"storage":[{"disk_size":5},{"x":1}],"type":"vsphere-iso"},"#,
            r#"{"iso_checksum":"file:http://u","type":"proxmox-iso"}],"#,
            r#""post-processors":[{"output":"m.json","type":"manifest"},[{"tags":["a","b","c"],"type":"docker-tag"}],{"override":{"aws":{"x":1}},"type":"vagrant"}],"#,
            r#""provisioners":[{"elevated_user":"a$b","environment_vars":["X=\"y\"","Z=`"],"type":"powershell"},"#,
            r#"{"galaxy_command":"g","type":"ansible-local"},{"override":{"virtualbox-iso":{"a":1}},"type":"shell"}]}"#
        )
    );
}
