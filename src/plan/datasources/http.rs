//! Packer's `http` data source: one request (`url`, `method`, `request_headers`,
//! `request_body`) whose answer gives `body` and the response headers. An answer outside 2xx is
//! an error, in Packer's words. rpack bounds the body (`RPACK_MAX_VALUE_MIB`) and the wait.

use std::time::Duration;

use hcl::{Map, Value};
use http_body_util::{BodyExt as _, Full, Limited};

use super::{string_map, Job};
use crate::decoder::Decoder;

const METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
/// A server that has not answered by then will not; the load should say so, not hang.
const TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn configure(d: &mut Decoder<'_>) -> Job {
    let url = d.string("url").unwrap_or_default();
    let mut method = d.string("method").unwrap_or_default();
    let headers = d.string_map("request_headers").unwrap_or_default();
    let body = d.string("request_body").unwrap_or_default();
    if url.is_empty() {
        d.error_general("the `url` must be specified");
    }
    if method.is_empty() {
        method = "GET".into();
    }
    if !METHODS.contains(&method.as_str()) {
        d.error(
            "method",
            format!("the `method` must be one of [{}]", METHODS.join(" ")),
        );
    }
    Box::pin(async move {
        tokio::time::timeout(TIMEOUT, fetch(&url, &method, &headers, body))
            .await
            .map_err(|_| format!("{method} {url}: no answer within {}s", TIMEOUT.as_secs()))?
    })
}

async fn fetch(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: String,
) -> Result<Map<String, Value>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) {
        return Err(format!("Get {url:?}: unsupported protocol scheme"));
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<bytes::Bytes>>(https);
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("Error creating http request: {e}"))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("{method} {url:?}: {}", error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!(
            "HTTP request error. Response code: {}",
            status.as_u16()
        ));
    }
    let mut response_headers: Vec<(String, String)> = Vec::new();
    for name in resp.headers().keys() {
        let values: Vec<String> = resp
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        response_headers.push((canonical(name.as_str()), values.join(", ")));
    }
    let max = crate::limits::max_value();
    let bytes = Limited::new(resp.into_body(), max)
        .collect()
        .await
        .map_err(|e| format!("Error processing response body of call: {e} (limit {max} bytes, RPACK_MAX_VALUE_MIB)"))?
        .to_bytes();
    let mut m = Map::new();
    m.insert("url".into(), Value::String(url.to_string()));
    m.insert(
        "body".into(),
        Value::String(String::from_utf8_lossy(&bytes).into_owned()),
    );
    let headers = string_map(response_headers);
    m.insert("response_headers".into(), headers.clone());
    m.insert("request_headers".into(), headers);
    Ok(m)
}

/// Go's canonical header name (`content-type` → `Content-Type`), as Packer's map keys are.
pub(super) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        out.push(if up {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        up = c == '-';
    }
    out
}

/// hyper's errors say "client error (Connect)" and keep the cause in `source()`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}
