//! Flag values: port lists, CIDR lists, and `*` for "all", parsed as `istio-iptables` and
//! Istio's traffic annotations accept them (comma-separated, spaces allowed, empty = none).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// `*` or a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select<T> {
    All,
    Some(Vec<T>),
}

/// A list (`*` is not allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

/// An address range: `10.96.0.0/12`, `fd00::/8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a CIDR (an address and a prefix length, such as 10.96.0.0/12)")
        };
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("{s:?}: the prefix length is at most {max}"));
        }
        Ok(Cidr { addr, len })
    }
}

/// A port number, 1-65535.
fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{s:?} is not a port number (1-65535)")),
    }
}

fn items<T>(s: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',').map(|i| one(i.trim())).collect()
}

impl FromStr for List<u16> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Err("`*` is not allowed here; list ports such as 8080,9090".into());
        }
        items(s, port).map(List)
    }
}

impl FromStr for List<Cidr> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Err("`*` is not allowed here; list CIDRs such as 10.0.0.0/8".into());
        }
        items(s, str::parse).map(List)
    }
}

impl FromStr for Select<u16> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Ok(Select::All);
        }
        items(s, port).map(Select::Some)
    }
}

impl FromStr for Select<Cidr> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Ok(Select::All);
        }
        items(s, str::parse).map(Select::Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_wildcards() {
        assert_eq!("*".parse::<Select<u16>>(), Ok(Select::All));
        assert_eq!("".parse::<Select<u16>>(), Ok(Select::Some(vec![])));
        assert_eq!(" 1, 2 ".parse::<List<u16>>(), Ok(List(vec![1, 2])));
        assert!("*".parse::<List<u16>>().is_err());
        assert!("0".parse::<List<u16>>().is_err());
        assert!("http".parse::<List<u16>>().is_err());
        let c: List<Cidr> = "10.0.0.0/8,fd00::/8".parse().expect("cidrs");
        assert_eq!(
            c.0.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            ["10.0.0.0/8", "fd00::/8"]
        );
        assert!("10.0.0.1".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("*".parse::<List<Cidr>>().is_err());
    }
}
