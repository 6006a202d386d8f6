//! A minimal blocking HTTP/1.1 client for the stack's own control calls (moto's reset API, the
//! proxy's control endpoint). One request per connection; enough for loopback servers we run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A response: status code and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
}

/// Sends `method path` with `body` to `endpoint` ("http://127.0.0.1:PORT").
pub(crate) fn request(endpoint: &str, method: &str, path: &str, body: &str) -> Result<Response> {
    let addr = endpoint
        .strip_prefix("http://")
        .with_context(|| format!("endpoint {endpoint} is not http://host:port"))?
        .trim_end_matches('/');
    let what = || format!("{method} {endpoint}{path}");
    let mut stream =
        TcpStream::connect(addr).with_context(|| format!("connecting for {}", what()))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .with_context(|| format!("sending {}", what()))?;
    stream
        .write_all(body.as_bytes())
        .with_context(|| format!("sending {}", what()))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to {}", what()))?;
    parse_response(&raw).with_context(|| format!("parsing the answer to {}", what()))
}

pub(crate) fn get(endpoint: &str, path: &str) -> Result<Response> {
    request(endpoint, "GET", path, "")
}

pub(crate) fn post(endpoint: &str, path: &str, body: &str) -> Result<Response> {
    request(endpoint, "POST", path, body)
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("no end of headers in {} bytes", raw.len());
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            bail!("truncated chunk")
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
