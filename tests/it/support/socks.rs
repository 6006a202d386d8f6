//! `Socks5`: a small SOCKS5 proxy (RFC 1928, `CONNECT` only; RFC 1929 username/password when
//! started with credentials) on 127.0.0.1, for the `ssh_proxy_*` tests. It records every
//! `CONNECT` target, relays only to loopback addresses, and resolves names under
//! [`PRIVATE_DOMAIN`] that nothing else resolves.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};

/// Host names only the proxy resolves (to 127.0.0.1), e.g. `instance.rpack.test`.
pub(crate) const PRIVATE_DOMAIN: &str = ".rpack.test";

pub(crate) struct Socks5 {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Socks5 {
    /// A proxy asking for `credentials` (username, password) when given, else for nothing.
    pub(crate) fn start(credentials: Option<(&str, &str)>) -> Socks5 {
        let l = TcpListener::bind("127.0.0.1:0").expect("binding the SOCKS5 proxy");
        let port = l.local_addr().unwrap().port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let creds = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let (creds, seen) = (creds.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, creds.as_ref(), &seen);
                });
            }
        });
        Socks5 { port, targets }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Every `CONNECT` target so far, as `host:port` the way the client sent it.
    pub(crate) fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn serve(
    mut c: TcpStream,
    creds: Option<&(String, String)>,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    c.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    c.read_exact(&mut methods)?;
    let want = if creds.is_some() { 2 } else { 0 };
    if head[0] != 5 || !methods.contains(&want) {
        return c.write_all(&[5, 0xff]);
    }
    c.write_all(&[5, want])?;
    if let Some((user, password)) = creds {
        let mut v = [0u8; 2];
        c.read_exact(&mut v)?;
        let mut u = vec![0u8; usize::from(v[1])];
        c.read_exact(&mut u)?;
        let mut n = [0u8; 1];
        c.read_exact(&mut n)?;
        let mut p = vec![0u8; usize::from(n[0])];
        c.read_exact(&mut p)?;
        let ok = u == user.as_bytes() && p == password.as_bytes();
        c.write_all(&[1, u8::from(!ok)])?;
        if !ok {
            return Ok(());
        }
    }
    let mut req = [0u8; 4];
    c.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a)?;
            Ipv4Addr::from(a).to_string()
        }
        4 => {
            let mut a = [0u8; 16];
            c.read_exact(&mut a)?;
            Ipv6Addr::from(a).to_string()
        }
        _ => {
            let mut n = [0u8; 1];
            c.read_exact(&mut n)?;
            let mut h = vec![0u8; usize::from(n[0])];
            c.read_exact(&mut h)?;
            String::from_utf8_lossy(&h).into_owned()
        }
    };
    let mut p = [0u8; 2];
    c.read_exact(&mut p)?;
    let port = u16::from_be_bytes(p);
    seen.lock().unwrap().push(format!("{host}:{port}"));
    // Names under `.rpack.test` exist only here (they are 127.0.0.1): a client reaching one
    // went through the proxy. Loopback only: the tests never send traffic elsewhere.
    let resolved = if host.ends_with(PRIVATE_DOMAIN) {
        "127.0.0.1"
    } else {
        host.as_str()
    };
    let addr = (resolved, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(|a| a.ip().is_loopback()));
    let upstream = match addr {
        None => return c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]),
        Some(a) => match TcpStream::connect(a) {
            Ok(s) => s,
            Err(_) => return c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
        },
    };
    let IpAddr::V4(bound) = upstream.local_addr()?.ip() else {
        return c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
    };
    let mut ok = vec![5, 0, 0, 1];
    ok.extend_from_slice(&bound.octets());
    ok.extend_from_slice(&upstream.local_addr()?.port().to_be_bytes());
    c.write_all(&ok)?;
    let (mut c2, mut u2) = (c.try_clone()?, upstream.try_clone()?);
    let mut upstream = upstream;
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = t.join();
    Ok(())
}
