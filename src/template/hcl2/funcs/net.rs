//! IP network functions (`cidrhost`, `cidrnetmask`, `cidrsubnet`, `cidrsubnets`), for IPv4 and
//! IPv6, with Terraform's rules: a prefix is `address/bits`, host numbers may be negative (counted
//! from the end of the range), and a result outside the prefix is an error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hcl::eval::FuncArgs;
use hcl::Value;

use super::{args, number, string, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("cidrhost", cidrhost),
    ("cidrnetmask", cidrnetmask),
    ("cidrsubnet", cidrsubnet),
    ("cidrsubnets", cidrsubnets),
];

/// A parsed prefix: the network address as a number, its width (32 or 128) and prefix length.
struct Prefix {
    addr: u128,
    width: u32,
    len: u32,
}

impl Prefix {
    fn parse(s: &str) -> Result<Prefix, String> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let ip: IpAddr = a
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        let (addr, width) = match ip {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        };
        let len: u32 = l
            .parse()
            .ok()
            .filter(|n| *n <= width)
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        Ok(Prefix {
            addr: addr & mask(width, len),
            width,
            len,
        })
    }
    fn text(&self, addr: u128) -> String {
        if self.width == 32 {
            Ipv4Addr::from(addr as u32).to_string()
        } else {
            Ipv6Addr::from(addr).to_string()
        }
    }
}

/// The netmask of a `len`-bit prefix in a `width`-bit address.
fn mask(width: u32, len: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if len == 0 {
        0
    } else {
        all & !((1u128 << (width - len)) - 1)
    }
}

fn whole(v: &Value, what: &str) -> Result<i128, String> {
    let n = number(v)?;
    if n.fract() != 0.0 {
        return Err(format!("{what} must be a whole number, got {n}"));
    }
    Ok(n as i128)
}

fn cidrhost(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let p = Prefix::parse(&string(&v[0])?)?;
    let host = whole(&v[1], "host number")?;
    let bits = p.width - p.len;
    let size: i128 = if bits >= 127 {
        i128::MAX
    } else {
        1i128 << bits
    };
    let n = if host < 0 { size + host } else { host };
    if n < 0 || n >= size {
        return Err(format!(
            "prefix of {bits} bits cannot accommodate a host numbered {host}"
        ));
    }
    Ok(Value::String(p.text(p.addr | n as u128)))
}

fn cidrnetmask(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    let p = Prefix::parse(&string(&v[0])?)?;
    if p.width != 32 {
        return Err("only IPv4 networks have a netmask".into());
    }
    Ok(Value::String(p.text(mask(32, p.len))))
}

fn subnet(p: &Prefix, newbits: i128, num: i128) -> Result<Prefix, String> {
    let len = i128::from(p.len) + newbits;
    if newbits < 0 || len > i128::from(p.width) {
        return Err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            p.len
        ));
    }
    let len = len as u32;
    let max: i128 = if newbits >= 127 {
        i128::MAX
    } else {
        1i128 << newbits
    };
    if num < 0 || num >= max {
        return Err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {num}"
        ));
    }
    let shift = p.width - len;
    let add = if shift >= 128 {
        0
    } else {
        (num as u128) << shift
    };
    Ok(Prefix {
        addr: p.addr | add,
        width: p.width,
        len,
    })
}

fn cidrsubnet(a: FuncArgs) -> R {
    let v = args(a, 3, 3)?;
    let p = Prefix::parse(&string(&v[0])?)?;
    let s = subnet(&p, whole(&v[1], "newbits")?, whole(&v[2], "netnum")?)?;
    Ok(Value::String(format!("{}/{}", s.text(s.addr), s.len)))
}

/// Consecutive subnets of the given sizes, each aligned after the previous one.
fn cidrsubnets(a: FuncArgs) -> R {
    let v = args(a, 1, usize::MAX)?;
    let p = Prefix::parse(&string(&v[0])?)?;
    let mut out = Vec::new();
    let mut next = p.addr; // the first address not yet allocated
    let all = if p.width == 128 {
        u128::MAX
    } else {
        (1u128 << p.width) - 1
    };
    let end = p.addr | (all ^ mask(p.width, p.len));
    for (i, nb) in v[1..].iter().enumerate() {
        let newbits = whole(nb, "newbits")?;
        let first =
            subnet(&p, newbits, 0).map_err(|e| format!("invalid newbits index {i}: {e}"))?;
        let size_bits = p.width - first.len;
        let size: u128 = if size_bits >= 128 {
            0
        } else {
            1u128 << size_bits
        };
        // Round up to the subnet's alignment.
        let start = if size == 0 || next % size == 0 {
            next
        } else {
            (next / size + 1) * size
        };
        if (start < next) || (size > 0 && start.checked_add(size - 1).is_none_or(|last| last > end))
        {
            return Err(format!(
                "not enough remaining address space for a subnet with a prefix of {} bits after {}",
                first.len,
                out.last().cloned().unwrap_or_default()
            ));
        }
        out.push(format!("{}/{}", p.text(start), first.len));
        next = start.wrapping_add(size);
    }
    Ok(Value::Array(out.into_iter().map(Value::String).collect()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn terraform_documented_examples() {
        assert_eq!(j(r#"cidrhost("10.12.112.0/20", 16)"#), r#""10.12.112.16""#);
        assert_eq!(j(r#"cidrhost("10.12.112.0/20", 268)"#), r#""10.12.113.12""#);
        assert_eq!(j(r#"cidrhost("10.12.112.0/20", -1)"#), r#""10.12.127.255""#);
        assert_eq!(
            j(r#"cidrhost("fd00:fd12:3456:7890:00a2::/72", 34)"#),
            r#""fd00:fd12:3456:7890::22""#
        );
        assert!(j(r#"cidrhost("10.0.0.0/30", 4)"#).starts_with("ERR"));
        assert_eq!(j(r#"cidrnetmask("172.16.0.0/12")"#), r#""255.240.0.0""#);
        assert_eq!(j(r#"cidrnetmask("10.0.0.0/0")"#), r#""0.0.0.0""#);
        assert_eq!(
            j(r#"cidrsubnet("172.16.0.0/12", 4, 2)"#),
            r#""172.18.0.0/16""#
        );
        assert_eq!(
            j(r#"cidrsubnet("10.1.2.0/24", 4, 15)"#),
            r#""10.1.2.240/28""#
        );
        assert_eq!(
            j(r#"cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)"#),
            r#""fd00:fd12:3456:7800:a200::/72""#
        );
        assert!(j(r#"cidrsubnet("10.1.2.0/24", 4, 16)"#).starts_with("ERR"));
        assert!(j(r#"cidrsubnet("10.1.2.0/24", 9, 0)"#).starts_with("ERR"));
        assert_eq!(
            j(r#"cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)"#),
            r#"["10.1.0.0/20","10.1.16.0/20","10.1.32.0/24","10.1.48.0/20"]"#
        );
        assert_eq!(
            j(r#"cidrsubnets("fd00:fd12:3456:7890::/56", 16, 16, 16, 32)"#),
            r#"["fd00:fd12:3456:7800::/72","fd00:fd12:3456:7800:100::/72","fd00:fd12:3456:7800:200::/72","fd00:fd12:3456:7800:300::/88"]"#
        );
        assert!(j(r#"cidrsubnets("10.0.0.0/30", 1, 1, 1)"#).starts_with("ERR"));
        assert!(j(r#"cidrhost("10.0.0.0", 1)"#).starts_with("ERR"));
    }
}
