//! `{{aws_secretsmanager}}` for variable defaults: the Secrets Manager lookup the template layer
//! calls through its `Context::secrets` hook.

use std::sync::Arc;

use crate::template::interp::SecretsLookup;
use crate::template::json;

/// `aws_secretsmanager` backed by the AWS SDK (default credential chain and region). Only
/// called when a variable default uses the function.
pub fn secrets_lookup() -> SecretsLookup {
    Arc::new(|name: &str, key: Option<&str>| {
        let name = name.to_string();
        let key = key.map(str::to_string);
        let run = async move {
            let conf = crate::aws::sdk_config().load().await;
            let client = aws_sdk_secretsmanager::Client::new(&conf);
            let out = client
                .get_secret_value()
                .secret_id(&name)
                .send()
                .await
                .map_err(|e| {
                    crate::aws::error::AwsError::from_sdk(
                        format!("reading secret {name:?} from AWS Secrets Manager"),
                        &e,
                    )
                    .to_string()
                })?;
            let secret = out
                .secret_string()
                .ok_or_else(|| format!("secret {name:?} has no string value"))?
                .to_string();
            // Secrets Manager values are secrets wherever they end up (rpack extension).
            crate::ui::secrets::register(&secret);
            match key {
                None => Ok(secret),
                Some(k) => {
                    let node = json::parse_allowing_duplicates(&secret)
                        .map_err(|e| format!("secret {name:?} is not a JSON object: {e}"))?;
                    match node
                        .as_object()
                        .and_then(|o| o.get(&k))
                        .and_then(|n| n.as_str())
                    {
                        Some(v) => {
                            crate::ui::secrets::register(v);
                            Ok(v.to_string())
                        }
                        None => Err(format!("secret {name:?} has no key {k:?}")),
                    }
                }
            }
        };
        // Called from synchronous rendering, possibly inside a runtime: use a separate thread.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(run)
        })
        .join()
        .unwrap_or_else(|_| Err("secrets lookup panicked".into()))
    })
}
