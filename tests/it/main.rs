//! rpack's integration tests: one test binary (linking the AWS SDK once), one module per area.
//! `support` is the test stack (moto, proxy, sshd, EC2 state helpers); run everything with
//! `scripts/test.sh`, which installs the stack's dependencies first.

mod support;

mod stack;
mod ssh;
mod scripts;
mod ebs;
mod cli;
mod build;
mod platform;
mod ebs_more;
mod slow;
