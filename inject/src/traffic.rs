//! Istio's traffic annotations, validated as Istio validates them, turned into the
//! arguments of `mesh-proxy iptables` (the same flag letters as `istio-iptables`).
//!
//! | annotation | flag | valid values |
//! |---|---|---|
//! | `includeOutboundIPRanges` | `-i` | `*`, or CIDRs separated by commas (empty: none) |
//! | `excludeOutboundIPRanges` | `-x` | CIDRs separated by commas |
//! | `includeInboundPorts` | `-b` | `*`, or ports separated by commas (empty: none) |
//! | `excludeInboundPorts` | `-d` | ports separated by commas; the proxy's own ports are always excluded |
//! | `excludeOutboundPorts` | `-o` | ports separated by commas |

use std::net::IpAddr;

use crate::error::TemplateProblem;
use crate::names::*;
use crate::yaml::Map;

/// The proxy's ports that inbound capture never takes: admin, merged metrics, health, and
/// Istio's Envoy Prometheus port.
const OWN_INBOUND_PORTS: [u16; 4] = [PORT_ADMIN, PORT_METRICS, PORT_HEALTH, PORT_ENVOY_PROM];

/// What iptables captures for one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub include_outbound_ranges: String,
    pub exclude_outbound_ranges: String,
    pub include_inbound_ports: String,
    pub exclude_inbound_ports: String,
    pub exclude_outbound_ports: String,
}

impl Traffic {
    /// Reads and checks the annotations; an invalid one names itself and its value.
    pub(crate) fn from_annotations(annotations: Option<&Map>) -> Result<Traffic, TemplateProblem> {
        let get = |key: &str| annotations.and_then(|a| a.get_str(key));
        let ranges = |key: &str, wildcard: bool, default: &str| match get(key) {
            None => Ok(default.to_string()),
            Some(v) => cidr_list(v, wildcard).map_err(|r| TemplateProblem::annotation(key, v, r)),
        };
        let ports = |key: &str, wildcard: bool, default: &str| match get(key) {
            None => Ok(default.to_string()),
            Some(v) => port_list(v, wildcard).map_err(|r| TemplateProblem::annotation(key, v, r)),
        };
        let own = OWN_INBOUND_PORTS.map(|p| p.to_string()).join(",");
        let user_excluded = ports(EXCLUDE_INBOUND_PORTS, false, "")?;
        Ok(Traffic {
            include_outbound_ranges: ranges(INCLUDE_OUTBOUND_RANGES, true, "*")?,
            exclude_outbound_ranges: ranges(EXCLUDE_OUTBOUND_RANGES, false, "")?,
            include_inbound_ports: ports(INCLUDE_INBOUND_PORTS, true, "*")?,
            exclude_inbound_ports: if user_excluded.is_empty() {
                own
            } else {
                format!("{own},{user_excluded}")
            },
            exclude_outbound_ports: ports(EXCLUDE_OUTBOUND_PORTS, false, "")?,
        })
    }

    /// `mesh-proxy iptables ...` arguments (after the binary name).
    pub fn iptables_args(&self, uid: u32, gid: u32) -> Vec<String> {
        let mut args: Vec<String> = [
            "iptables",
            "-p",
            &PORT_OUTBOUND.to_string(),
            "-z",
            &PORT_INBOUND.to_string(),
            "-u",
            &uid.to_string(),
            "-g",
            &gid.to_string(),
            "-i",
            &self.include_outbound_ranges,
            "-x",
            &self.exclude_outbound_ranges,
            "-b",
            &self.include_inbound_ports,
            "-d",
            &self.exclude_inbound_ports,
        ]
        .map(String::from)
        .to_vec();
        if !self.exclude_outbound_ports.is_empty() {
            args.push("-o".into());
            args.push(self.exclude_outbound_ports.clone());
        }
        args
    }
}

/// Comma-separated items, trimmed; an empty value is an empty list.
fn items(value: &str) -> impl Iterator<Item = &str> {
    let v = value.trim();
    v.split(',').map(str::trim).filter(move |_| !v.is_empty())
}

/// `*` (when allowed) or CIDRs; returns the normalized list.
fn cidr_list(value: &str, wildcard: bool) -> Result<String, String> {
    if value.trim() == "*" {
        return if wildcard {
            Ok("*".into())
        } else {
            Err("`*` is not allowed here; list CIDRs such as 10.0.0.0/8,172.16.0.0/12".into())
        };
    }
    let mut out = Vec::new();
    for item in items(value) {
        check_cidr(item)?;
        out.push(item);
    }
    Ok(out.join(","))
}

fn check_cidr(item: &str) -> Result<(), String> {
    let bad =
        || format!("{item:?} is not a CIDR (an address and a prefix length, such as 10.96.0.0/12)");
    let (addr, len) = item.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("{item:?}: the prefix length is at most {max}"));
    }
    Ok(())
}

/// `*` (when allowed) or ports 1-65535; returns the normalized list.
fn port_list(value: &str, wildcard: bool) -> Result<String, String> {
    if value.trim() == "*" {
        return if wildcard {
            Ok("*".into())
        } else {
            Err("`*` is not allowed here; list ports such as 8080,9090".into())
        };
    }
    let mut out = Vec::new();
    for item in items(value) {
        match item.parse::<u16>() {
            Ok(p) if p > 0 => out.push(item),
            _ => return Err(format!("{item:?} is not a port number (1-65535)")),
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Node;

    fn annotations(pairs: &[(&str, &str)]) -> Map {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k, Node::str(*v));
        }
        m
    }

    #[test]
    fn defaults_capture_everything_but_the_proxy_ports() {
        let t = Traffic::from_annotations(None).expect("valid");
        assert_eq!(
            t.iptables_args(1337, 1337).join(" "),
            "iptables -p 15001 -z 15006 -u 1337 -g 1337 -i * -x  -b * -d 15000,15020,15021,15090"
        );
    }

    #[test]
    fn annotations_flow_into_the_arguments() {
        let a = annotations(&[
            (INCLUDE_INBOUND_PORTS, "1,2,3"),
            (EXCLUDE_INBOUND_PORTS, "4, 5,6"),
            (EXCLUDE_OUTBOUND_PORTS, "7,8,9"),
            (INCLUDE_OUTBOUND_RANGES, "127.0.0.1/24,10.96.0.1/24"),
            (EXCLUDE_OUTBOUND_RANGES, "10.96.0.2/24,fd00::/8"),
        ]);
        let t = Traffic::from_annotations(Some(&a)).expect("valid");
        assert_eq!(
            t.iptables_args(1234, 4321)[5..].join(" "),
            "-u 1234 -g 4321 -i 127.0.0.1/24,10.96.0.1/24 -x 10.96.0.2/24,fd00::/8 -b 1,2,3 -d 15000,15020,15021,15090,4,5,6 -o 7,8,9"
        );
        let empty = annotations(&[(INCLUDE_INBOUND_PORTS, ""), (INCLUDE_OUTBOUND_RANGES, "")]);
        let t = Traffic::from_annotations(Some(&empty)).expect("empty includes are valid");
        assert_eq!(
            (
                t.include_inbound_ports.as_str(),
                t.include_outbound_ranges.as_str()
            ),
            ("", "")
        );
    }

    #[test]
    fn invalid_values_name_the_annotation_and_value() {
        for (key, value) in [
            (EXCLUDE_INBOUND_PORTS, "*"),
            (EXCLUDE_OUTBOUND_RANGES, "*"),
            (EXCLUDE_OUTBOUND_PORTS, "bad"),
            (INCLUDE_INBOUND_PORTS, "bad"),
            (INCLUDE_OUTBOUND_RANGES, "bad"),
            (INCLUDE_OUTBOUND_RANGES, "10.0.0.1"),
            (INCLUDE_OUTBOUND_RANGES, "10.0.0.0/33"),
            (EXCLUDE_OUTBOUND_PORTS, "0"),
            (EXCLUDE_OUTBOUND_PORTS, "70000"),
        ] {
            let err =
                Traffic::from_annotations(Some(&annotations(&[(key, value)]))).expect_err(value);
            let TemplateProblem::Annotation {
                annotation,
                value: v,
                ..
            } = err
            else {
                panic!("{err:?}")
            };
            assert_eq!((annotation.as_str(), v.as_str()), (key, value));
        }
    }
}
