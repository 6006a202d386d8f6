//! The data sources that need the network, for HCL2 templates' `data` blocks: Packer's
//! `Configure` (the arguments decoded with Packer's weak typing, the plugins' checks and
//! messages) and `Execute`. The amazon ones use the builder's access configuration (the same
//! keys, credential chain, `assume_role`, `custom_endpoint_ec2` and `AWS_ENDPOINT_URL*`); `http`
//! is a plain HTTP(S) request. The template layer (`template::hcl2::data`) decides when they run.

mod amazon;
mod http;

use hcl::{Map, Value};

use crate::decoder::{ConfigError, Decoder};
use crate::template::hcl2::{DataError, DataSources};
use crate::template::interp::Context;
use crate::template::json::Object;

/// rpack's data sources.
pub struct Provider;

impl DataSources for Provider {
    fn run(
        &self,
        kind: &str,
        config: &Object,
        execute: bool,
    ) -> Result<Option<Map<String, Value>>, Vec<DataError>> {
        let ctx = Context::default();
        let mut d = Decoder::new(&[config], &ctx, kind, &[]);
        let job = match kind {
            "amazon-ami" => amazon::configure_ami(&mut d),
            "amazon-parameterstore" => amazon::configure_parameter(&mut d),
            "amazon-secretsmanager" => amazon::configure_secret(&mut d),
            "http" => http::configure(&mut d),
            other => {
                return Err(vec![(
                    format!("rpack has no data source named {other:?}"),
                    None,
                )])
            }
        };
        d.finish().map_err(errors)?;
        if !execute {
            return Ok(None);
        }
        block_on(job).map(Some).map_err(|e| vec![(e, None)])
    }
}

/// A configured data source, ready to execute.
type Job =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Map<String, Value>, String>> + Send>>;

fn errors(errs: Vec<ConfigError>) -> Vec<DataError> {
    errs.into_iter()
        .map(|e| {
            let msg = match &e.key {
                Some(k) if e.decode => format!("{k}: {}", e.message),
                _ => e.message.clone(),
            };
            (msg, e.pos)
        })
        .collect()
}

/// Runs `job` to completion on a thread of its own (template loading is synchronous and may
/// itself run inside a runtime).
fn block_on(job: Job) -> Result<Map<String, Value>, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(job)
    })
    .join()
    .unwrap_or_else(|_| Err("the data source panicked".into()))
}

fn string_map(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
