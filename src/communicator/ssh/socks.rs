//! The SOCKS5 transport (`ssh_proxy_host`, `ssh_proxy_port`, `ssh_proxy_username`,
//! `ssh_proxy_password`): TCP to the proxy, the RFC 1928 greeting (with RFC 1929
//! username/password authentication when a username is set, as Packer's `proxy.SOCKS5` does),
//! then `CONNECT` to the target; the session runs over that same TCP stream. A host name is
//! sent to the proxy unresolved (the proxy resolves it), an IP address as one.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::transport::{tcp_connect, Link, Transport};
use crate::communicator::config::Proxy;
use crate::communicator::CommError;

/// Reaches `host:port` through the SOCKS5 proxy `proxy`.
pub(super) struct Socks {
    pub(super) proxy: Proxy,
    pub(super) host: String,
    pub(super) port: u16,
}

impl Transport for Socks {
    fn open(&self, timeout: Duration, _: &CancellationToken) -> Result<Link, CommError> {
        let paddr = format!("{}:{}", self.proxy.host, self.proxy.port);
        let mut s = tcp_connect(&self.proxy.host, self.proxy.port, timeout)
            .map_err(|e| CommError::Other(format!("SOCKS5 proxy {paddr}: {e}")))?;
        let io = |e: std::io::Error| CommError::Other(format!("SOCKS5 proxy {paddr}: {e}"));
        s.set_read_timeout(Some(timeout)).map_err(io)?;
        s.set_write_timeout(Some(timeout)).map_err(io)?;
        let auth = self
            .proxy
            .username
            .as_deref()
            .map(|u| (u, self.proxy.password.as_deref().unwrap_or("")));
        connect(&mut s, &self.host, self.port, auth).map_err(|e| {
            CommError::Other(format!(
                "SOCKS5 proxy {paddr}: connecting to {}:{}: {e}",
                self.host, self.port
            ))
        })?;
        s.set_read_timeout(None).map_err(io)?;
        s.set_write_timeout(None).map_err(io)?;
        Ok(Link::tcp(s))
    }
}

/// The SOCKS5 exchange on `s`: greeting, optional username/password, `CONNECT host:port`.
fn connect(
    s: &mut TcpStream,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> Result<(), String> {
    connect_on(s, host, port, auth)
}

/// [`connect`] over any stream (tests).
fn connect_on(
    s: &mut (impl Read + Write),
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    // Methods: no authentication, and username/password when we have one.
    let greeting: &[u8] = if auth.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    s.write_all(greeting).map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).map_err(io)?;
    if reply[0] != 5 {
        return Err(format!(
            "not a SOCKS5 server (version {} in its answer)",
            reply[0]
        ));
    }
    match (reply[1], auth) {
        (0, _) => {}
        (2, Some((user, password))) => {
            let (u, p) = (user.as_bytes(), password.as_bytes());
            if u.len() > 255 || p.len() > 255 {
                return Err(
                    "ssh_proxy_username and ssh_proxy_password take 255 bytes at most".into(),
                );
            }
            let mut req = vec![1, u.len() as u8];
            req.extend_from_slice(u);
            req.push(p.len() as u8);
            req.extend_from_slice(p);
            s.write_all(&req).map_err(io)?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status).map_err(io)?;
            if status[1] != 0 {
                return Err(format!(
                    "the proxy refused username {user:?} and its password"
                ));
            }
        }
        (0xff, None) => {
            return Err(
                "the proxy requires authentication; set ssh_proxy_username and ssh_proxy_password"
                    .into(),
            )
        }
        (m, _) => {
            return Err(format!(
                "the proxy offers no authentication method rpack can use (method {m})"
            ))
        }
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Ok(IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        Err(_) => {
            let h = host.as_bytes();
            let len = u8::try_from(h.len())
                .map_err(|_| format!("host name {host:?} is too long for SOCKS5"))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(h);
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(io)?;
    if head[1] != 0 {
        return Err(reply_text(head[1]));
    }
    // The bound address, unused.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).map_err(io)?;
            usize::from(n[0]) + 2
        }
        t => return Err(format!("the proxy answered with address type {t}")),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).map_err(io)?;
    Ok(())
}

/// RFC 1928's reply codes.
fn reply_text(code: u8) -> String {
    let why = match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    };
    format!("the proxy answered: {why} (code {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted peer: what the proxy answers, and what the client wrote.
    struct Script {
        answers: std::io::Cursor<Vec<u8>>,
        written: Vec<u8>,
    }
    impl Read for Script {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.answers.read(b)
        }
    }
    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    fn script(answers: &[u8]) -> Script {
        Script {
            answers: std::io::Cursor::new(answers.to_vec()),
            written: Vec::new(),
        }
    }

    #[test]
    fn names_go_unresolved_and_addresses_as_addresses() {
        let mut s = script(&[5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 22]);
        connect_on(&mut s, "ec2.internal", 22, None).unwrap();
        let mut want = vec![5, 1, 0, 5, 1, 0, 3, 12];
        want.extend_from_slice(b"ec2.internal");
        want.extend_from_slice(&[0, 22]);
        assert_eq!(s.written, want);

        let mut s = script(&[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        connect_on(&mut s, "10.0.0.5", 2222, None).unwrap();
        assert_eq!(s.written[3..], [5, 1, 0, 1, 10, 0, 0, 5, 8, 174]);
    }

    #[test]
    fn username_and_password_per_rfc_1929() {
        let mut s = script(&[5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        connect_on(&mut s, "h", 22, Some(("bob", "pw"))).unwrap();
        assert_eq!(s.written[..4], [5, 2, 0, 2]);
        assert_eq!(s.written[4..12], [1, 3, b'b', b'o', b'b', 2, b'p', b'w']);
        let mut s = script(&[5, 2, 1, 1]);
        let e = connect_on(&mut s, "h", 22, Some(("bob", "pw"))).unwrap_err();
        assert_eq!(e, "the proxy refused username \"bob\" and its password");
    }

    #[test]
    fn refusals_are_named() {
        let mut s = script(&[5, 0xff]);
        assert!(connect_on(&mut s, "h", 22, None)
            .unwrap_err()
            .contains("requires authentication"));
        let mut s = script(&[5, 0, 5, 5, 0, 1]);
        assert_eq!(
            connect_on(&mut s, "h", 22, None).unwrap_err(),
            "the proxy answered: connection refused (code 5)"
        );
        let mut s = script(b"HTTP/1.1 400");
        assert!(connect_on(&mut s, "h", 22, None)
            .unwrap_err()
            .contains("not a SOCKS5 server"));
    }
}
