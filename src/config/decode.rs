//! [`Decoder`] turns one plugin object (plus its overrides, later wins) into typed values.
//!
//! Contract used by every plugin's `config.rs`:
//! ```ignore
//! let mut d = Decoder::new(&raws, &ctx, "amazon-ebs", &["ami_description", "tags"]);
//! let ami_name = d.string("ami_name");          // rendered, weakly typed, key marked as known
//! let regions = d.string_list("ami_regions");   // list, or comma-separated string
//! let filter = d.object("source_ami_filter", |d| Filter { owners: d.string_list("owners"), .. });
//! if ami_name.is_none() { d.error("ami_name", "ami_name must be specified"); }
//! d.finish()?;  // unknown keys (Packer's message) + every type/render/value error, in order
//! ```
//! Keys named `type`, starting with `packer_`, or (at the top level) `only`/`except`/`override`/
//! `pause_before`/`max_retries`/`timeout` for provisioners are handled by the caller.
//! Strings of keys in `no_render` are syntax-checked only (rendered later with build data).

use std::path::PathBuf;
use std::time::Duration;

use crate::template::interp::Context;
use crate::template::json::{Node, Object, Pos};

/// One configuration problem: Packer's message, the key path (`source_ami_filter.owners`) and
/// where in the template it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
    pub key: Option<String>,
    pub pos: Option<Pos>,
}

/// Decodes one plugin configuration. See the module docs.
pub struct Decoder<'a> {
    pub(crate) raws: Vec<&'a Object>,
    pub(crate) ctx: &'a Context,
    pub(crate) plugin: String,
    pub(crate) no_render: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) used: Vec<String>,
    pub(crate) errors: Vec<ConfigError>,
    /// Directory relative paths in the template are resolved against (the cwd, like Packer).
    pub base_dir: PathBuf,
}

impl<'a> Decoder<'a> {
    pub fn new(raws: &[&'a Object], ctx: &'a Context, plugin: &str, no_render: &[&str]) -> Self {
        Decoder {
            raws: raws.to_vec(),
            ctx,
            plugin: plugin.to_string(),
            no_render: no_render.iter().map(|s| s.to_string()).collect(),
            prefix: String::new(),
            used: Vec::new(),
            errors: Vec::new(),
            base_dir: PathBuf::from("."),
        }
    }

    /// The render context (for plugins that render values later themselves).
    pub fn ctx(&self) -> &Context {
        self.ctx
    }

    /// The raw node for `key` (last override wins), marking the key known.
    pub fn raw(&mut self, key: &str) -> Option<&'a Node> {
        self.used.push(key.to_string());
        self.raws.iter().rev().find_map(|o| o.get(key))
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        let _ = key;
        todo!("decode string")
    }
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        let _ = key;
        todo!("decode bool")
    }
    pub fn int(&mut self, key: &str) -> Option<i64> {
        let _ = key;
        todo!("decode int")
    }
    pub fn float(&mut self, key: &str) -> Option<f64> {
        let _ = key;
        todo!("decode float")
    }
    /// A Go duration string (`"5m"`, `"1h5m2s"`) or a number of nanoseconds.
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        let _ = key;
        todo!("decode duration")
    }
    /// A list of strings; a single string is split on commas (Packer's weak decoding).
    pub fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        let _ = key;
        todo!("decode string list")
    }
    pub fn string_map(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let _ = key;
        todo!("decode string map")
    }
    /// A nested object decoded by `f` (unknown nested keys are reported with the full path).
    pub fn object<T>(&mut self, key: &str, f: impl FnOnce(&mut Decoder<'a>) -> T) -> Option<T> {
        let _ = (key, f);
        todo!("decode object")
    }
    /// A list of objects, each decoded by `f`.
    pub fn object_list<T>(&mut self, key: &str, f: impl FnMut(&mut Decoder<'a>) -> T) -> Option<Vec<T>> {
        let _ = (key, f);
        todo!("decode object list")
    }
    /// Records a problem about `key` (its position is looked up).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let _ = (key, message.into());
        todo!("record error")
    }
    /// Unknown-key errors first (Packer: `unknown configuration key: '"x"'`), then every other error.
    pub fn finish(self) -> Result<(), Vec<ConfigError>> {
        todo!("finish")
    }
}
