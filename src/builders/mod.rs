//! Builders (`amazon-ebs`, `null`): configuration and the ordered steps that create a machine
//! image. The shared runner lives in `crate::engine`.

pub mod amazon_ebs;
pub mod file;
pub mod null;
pub mod null_run;
