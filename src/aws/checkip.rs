//! This host's public IP address as the outside world sees it, for
//! `temporary_security_group_source_public_ip`: one GET to a checkip-style service that answers
//! with the bare address as text. AWS's `https://checkip.amazonaws.com` by default;
//! `RPACK_CHECKIP_URL` points the lookup elsewhere (an IPv6-capable service, a local stand-in
//! in tests). The answer must be a single IPv4 or IPv6 address, else the build stops with an
//! error naming the URL.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use http_body_util::{BodyExt as _, Empty, Limited};

/// Where the address is looked up unless [`URL_ENV`] says otherwise (Packer's choice).
pub const DEFAULT_URL: &str = "https://checkip.amazonaws.com";
/// Overrides [`DEFAULT_URL`].
pub const URL_ENV: &str = "RPACK_CHECKIP_URL";
/// An address is at most 45 characters; a longer answer is an error page, not an address.
const MAX_BODY: usize = 1024;
/// One tiny request: a service that has not answered by then will not, and the build should
/// say so rather than hang before anything was created.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The lookup URL: `RPACK_CHECKIP_URL` when set and not empty, else [`DEFAULT_URL`].
pub fn url() -> String {
    std::env::var(URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// Asks `url` for this host's public address.
pub async fn public_ip(url: &str) -> anyhow::Result<IpAddr> {
    let what = || format!("checking this host's public IP at {url}");
    let body = tokio::time::timeout(TIMEOUT, fetch(url))
        .await
        .map_err(|_| anyhow!("no answer within {}s", TIMEOUT.as_secs()))
        .and_then(|r| r)
        .with_context(what)?;
    parse_answer(&body).with_context(what)
}

/// The address in a checkip answer: one IPv4/IPv6 address, surrounding whitespace ignored;
/// the unspecified address (`0.0.0.0`, `::`) is refused (it would open the port to everyone).
pub fn parse_answer(body: &str) -> anyhow::Result<IpAddr> {
    let text = body.trim();
    let ip: IpAddr = text.parse().map_err(|_| {
        anyhow!(
            "the answer {:?} is not an IPv4 or IPv6 address",
            shorten(text)
        )
    })?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    if ip.is_unspecified() {
        bail!("the answer {ip} is the unspecified address, not a public one");
    }
    Ok(ip)
}

/// The one-address CIDR for `ip`: `/32` for IPv4, `/128` for IPv6.
pub fn host_cidr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

fn shorten(s: &str) -> String {
    const SHOWN: usize = 60;
    if s.chars().count() <= SHOWN {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(SHOWN).collect::<String>())
    }
}

async fn fetch(url: &str) -> anyhow::Result<String> {
    let uri: http::Uri = url.parse().map_err(|e| anyhow!("not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) {
        bail!("not an http(s) URL");
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .context("loading the system's root certificates")?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<bytes::Bytes>>(https);
    let req = http::Request::get(uri)
        .header(
            http::header::USER_AGENT,
            concat!("rpack/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::new())
        .context("building the request")?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| anyhow!("{}", error_chain(&e)))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("reading the answer: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        bail!("HTTP {status}: {}", shorten(text.trim()));
    }
    Ok(text)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_single_addresses() {
        assert_eq!(
            parse_answer("203.0.113.7\n").unwrap().to_string(),
            "203.0.113.7"
        );
        assert_eq!(
            parse_answer(" 2001:db8::7 ").unwrap().to_string(),
            "2001:db8::7"
        );
        // An IPv4-mapped IPv6 answer is the IPv4 address.
        assert_eq!(
            parse_answer("::ffff:203.0.113.7").unwrap().to_string(),
            "203.0.113.7"
        );
        for bad in [
            "",
            "203.0.113.7 198.51.100.1",
            "<html>blocked</html>",
            "203.0.113.7/32",
            "0.0.0.0",
            "::",
        ] {
            assert!(parse_answer(bad).is_err(), "{bad:?} accepted");
        }
        let e = parse_answer("<html>blocked</html>")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the answer \"<html>blocked</html>\" is not an IPv4 or IPv6 address"
        );
    }

    #[test]
    fn cidrs_cover_exactly_one_address() {
        assert_eq!(host_cidr("203.0.113.7".parse().unwrap()), "203.0.113.7/32");
        assert_eq!(host_cidr("2001:db8::7".parse().unwrap()), "2001:db8::7/128");
    }

    #[tokio::test]
    async fn unreachable_service_names_the_url() {
        // Port 9 on loopback: nothing listens (discard service is not run here).
        let e = public_ip("http://127.0.0.1:9/").await.unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.starts_with("checking this host's public IP at http://127.0.0.1:9/: "),
            "{text}"
        );
        let e = public_ip("ftp://127.0.0.1/").await.unwrap_err();
        assert!(format!("{e:#}").contains("not an http(s) URL"));
    }
}
