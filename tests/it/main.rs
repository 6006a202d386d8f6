//! rpack's integration tests: one test binary (linking the AWS SDK once), one module per area.
//! `support` is the test stack (moto, proxy, sshd, EC2 state helpers); run everything with
//! `scripts/test.sh`, which installs the stack's dependencies first.

mod support;

mod aws_errors;
mod build;
mod cli;
mod cli_more;
mod cm;
mod cm_cancel;
mod console_tty;
mod dist;
mod ebs;
mod ebs_faults;
mod ebs_more;
mod ebsvolume;
mod encrypt_boot;
mod encrypt_boot_bench;
mod env_var_positions;
mod fidelity;
mod fmt;
mod hcl2;
mod hcl2_console;
mod hcl2_corpus;
mod hcl2_data;
mod hcl2_equiv;
mod hcl2_inspect;
mod hcl2_stack;
mod hcl2_upgrade;
mod host_key;
mod host_key_inject;
mod hostile;
mod interrupt;
mod parity;
mod parity_ipv6;
mod parity_protect;
mod parity_tags;
mod persona;
mod persona_streams;
mod platform;
mod plugin_keys;
mod scripts;
mod secrets;
mod short_secrets;
mod slow;
mod ssh;
mod ssh_certificates;
mod ssh_explain;
mod ssh_proxy;
mod ssh_tunnels;
mod ssm;
mod ssm_ansible;
mod ssm_build;
mod ssm_spot;
mod stack;
mod temp_key;
