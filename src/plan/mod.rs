//! The build plan: from a template and the user's variables to the checked builds `validate`
//! reports on and `build` runs (Packer's `GetConfig` + `GetBuilds`).
//!
//! [`load`] reads the template and the variable inputs, [`check()`] decodes every plugin's
//! configuration through [`registry`] and collects every problem as a [`Diag`]; [`fixable`]
//! adds what `packer fix` would still rewrite.

mod check;
pub mod datasources;
pub mod describe;
mod diag;
pub mod fix;
pub mod fixable;
pub mod load;
pub mod registry;
mod sensitive;

use std::collections::BTreeMap;

use crate::template::interp::Context;
use crate::template::parse::Template;

pub use crate::post_processors::PlannedPostProcessor;
pub use crate::provisioners::PlannedProvisioner;
pub use check::check;
pub(crate) use check::min_version_error;
pub use diag::{Diag, Severity};
pub use load::{load, Loaded};
pub use registry::BuilderConfig;

/// One build: a builder with its provisioners and post-processor chains.
#[derive(Clone)]
pub struct Build {
    /// The rendered name (what `-only`/`-except` match and the UI prints).
    pub name: String,
    /// The name as written (what provisioner `only`/`except`/`override` match).
    pub raw_name: String,
    /// The name the build's plugins see (`{{build_name}}`, `PACKER_BUILD_NAME`, the manifest's
    /// `name`): `name` for JSON, the source's name for HCL2 (as in Packer).
    pub plugin_name: String,
    pub builder_kind: String,
    pub builder: BuilderConfig,
    pub provisioners: Vec<PlannedProvisioner>,
    pub error_cleanup: Option<PlannedProvisioner>,
    pub post_processors: Vec<Vec<PlannedPostProcessor>>,
}

/// What the command line selects and sets.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub only: Vec<String>,
    pub except: Vec<String>,
    /// References to undefined user variables are errors (`-strict`, `RPACK_STRICT=1`) instead
    /// of warnings.
    pub strict: bool,
    /// Report references to undefined user variables at all (not when called as `packer`,
    /// whose output stays Packer's).
    pub report_undefined: bool,
}

/// The result of checking a template: the builds that are fully valid, and every problem.
#[derive(Default)]
pub struct Checked {
    pub builds: Vec<Build>,
    pub diags: Vec<Diag>,
    /// Resolved user variables.
    pub user_vars: BTreeMap<String, String>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }
}

/// The context every render starts from: template path, Packer version, start time.
pub fn base_context(tpl: &Template) -> Context {
    Context {
        template_path: tpl.path.clone(),
        packer_version: Some(crate::PACKER_COMPAT_VERSION.to_string()),
        init_time: Some(chrono::Utc::now().timestamp()),
        ..Context::default()
    }
}
