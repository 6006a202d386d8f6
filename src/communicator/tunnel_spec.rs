//! `ssh_local_tunnels` and `ssh_remote_tunnels`: Packer 1.6.6's `port:host:hostport` syntax
//! (packer-plugin-sdk `communicator/ssh/tunnel.go`, `ParseTunnelArgument`), its checks in its
//! order and with its wording, plus the port ranges (Packer fails on those only when it binds,
//! after the instance was launched). The `[bind_address:]` form is not in Packer 1.6.6 (its
//! parser calls it "too many colons"), so it is refused here too.

/// Which way a tunnel goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Listen on rpack's machine; each connection goes through the SSH connection to
    /// `host:port` as the instance sees it (`direct-tcpip`).
    Local,
    /// The instance's sshd listens (`tcpip-forward`); each connection comes back and goes to
    /// `host:port` as rpack's machine sees it.
    Remote,
}

/// One parsed tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    pub direction: Direction,
    /// The port listened on, on the loopback interface (`localhost`, as in Packer) of the side
    /// that listens.
    pub listen_port: u16,
    /// Where connections go, as seen from the other side.
    pub host: String,
    pub port: u16,
    /// The text as the template wrote it (for messages).
    pub text: String,
}

impl TunnelSpec {
    /// The template key this kind of tunnel is written under.
    pub fn key(&self) -> &'static str {
        match self.direction {
            Direction::Local => "ssh_local_tunnels",
            Direction::Remote => "ssh_remote_tunnels",
        }
    }
}

/// Parses one `port:host:hostport`. The error is the text after Packer's
/// `<key> ('<text>') is invalid: `.
pub fn parse(text: &str, direction: Direction) -> Result<TunnelSpec, String> {
    let Some((listen, forward)) = text.split_once(':') else {
        // Go prints the one-element slice strings.SplitN returned: `[text]`.
        return Err(format!("Error parsing tunnel '{text}': [{text}]"));
    };
    let (host, port) = split_host_port(forward)
        .map_err(|e| format!("Error parsing forwarding, must be a tcp address: {e}"))?;
    let port = atoi(port)
        .map_err(|e| format!("Error parsing forwarding port, must be a valid port: {e}"))?;
    let listen = atoi(listen)
        .map_err(|e| format!("Error parsing listening port, must be a valid port: {e}"))?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("forwarding port {port} is not a valid port (1-65535)"))?;
    let listen_port = u16::try_from(listen)
        .map_err(|_| format!("listening port {listen} is not a valid port (0-65535)"))?;
    Ok(TunnelSpec {
        direction,
        listen_port,
        // Go dials ":port" on the local system: the loopback interface.
        host: if host.is_empty() {
            "localhost".into()
        } else {
            host.to_string()
        },
        port,
        text: text.to_string(),
    })
}

/// Go's `strconv.Atoi` with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// Go's `net.SplitHostPort`, with its error texts (`address X: why`).
fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| Err(format!("address {hostport}: {why}"));
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";
    let Some(i) = hostport.rfind(':') else {
        return err(MISSING_PORT);
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return err(MISSING_PORT);
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return err(TOO_MANY_COLONS);
            }
            return err(MISSING_PORT);
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return err(TOO_MANY_COLONS);
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse(s, Direction::Local).unwrap_err()
    }

    #[test]
    fn packers_form_parses() {
        let t = parse("10022:localhost:22", Direction::Local).unwrap();
        assert_eq!(
            (t.listen_port, t.host.as_str(), t.port),
            (10022, "localhost", 22)
        );
        let t = parse("8443:[::1]:443", Direction::Remote).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert_eq!(t.key(), "ssh_remote_tunnels");
        assert_eq!(parse("1:+2:3", Direction::Local).unwrap().host, "+2");
        assert_eq!(parse("1::3", Direction::Local).unwrap().host, "localhost");
    }

    #[test]
    fn errors_read_like_packers() {
        assert_eq!(err("10022"), "Error parsing tunnel '10022': [10022]");
        assert_eq!(
            err("10022:localhost"),
            "Error parsing forwarding, must be a tcp address: address localhost: missing port in address"
        );
        // Packer 1.6.6 has no bind address.
        assert_eq!(
            err("127.0.0.1:10022:localhost:22"),
            "Error parsing forwarding, must be a tcp address: address 10022:localhost:22: too many colons in address"
        );
        assert_eq!(
            err("1:h:x"),
            "Error parsing forwarding port, must be a valid port: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err("x:h:1"),
            "Error parsing listening port, must be a valid port: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err("1:[::1:2"),
            "Error parsing forwarding, must be a tcp address: address [::1:2: missing ']' in address"
        );
        assert_eq!(
            err("1:h]:2"),
            "Error parsing forwarding, must be a tcp address: address h]:2: unexpected ']' in address"
        );
        assert_eq!(
            err("1:h:99999999999999999999"),
            "Error parsing forwarding port, must be a valid port: strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
    }

    #[test]
    fn ports_out_of_range_are_refused_before_launch() {
        assert_eq!(
            err("70000:h:22"),
            "listening port 70000 is not a valid port (0-65535)"
        );
        assert_eq!(
            err("1:h:0"),
            "forwarding port 0 is not a valid port (1-65535)"
        );
        assert_eq!(
            err("1:h:-5"),
            "forwarding port -5 is not a valid port (1-65535)"
        );
    }
}
