//! The rule set, as `iptables-restore` input: a pure function of the flags (and, when
//! applying, of the rules already in place, so running twice leaves one copy).
//!
//! Chains and order follow `istio-iptables` in REDIRECT mode, so Istio's debugging advice
//! (`iptables -t nat -S ISTIO_OUTPUT`) applies unchanged:
//!
//! - `PREROUTING -> ISTIO_INBOUND`: inbound TCP, minus excluded ports, to `ISTIO_IN_REDIRECT`
//!   (REDIRECT to the inbound port, 15006).
//! - `OUTPUT -> ISTIO_OUTPUT`: excluded ports return; the proxy's own traffic (uid/gid)
//!   returns, except its calls to the pod's own address over `lo`, which go inbound; other
//!   loopback traffic returns; excluded ranges return; included ranges go to `ISTIO_REDIRECT`
//!   (REDIRECT to the outbound port, 15001).
//!
//! IPv4 only: IPv6 ranges in the flags are reported and left out.

use std::fmt::Write;

use super::values::{Cidr, Select};

/// A validated rule-set description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub proxy_port: u16,
    pub inbound_port: u16,
    pub uid: u32,
    pub gid: u32,
    pub inbound_include: Select<u16>,
    pub inbound_exclude: Vec<u16>,
    pub outbound_include: Select<Cidr>,
    pub outbound_exclude: Vec<Cidr>,
    pub outbound_ports_exclude: Vec<u16>,
}

/// The jumps from built-in chains we add; removed first when already present.
const JUMPS: [(&str, &str); 2] = [
    ("PREROUTING", "-A PREROUTING -p tcp -j ISTIO_INBOUND"),
    ("OUTPUT", "-A OUTPUT -p tcp -j ISTIO_OUTPUT"),
];

impl Config {
    /// Whether inbound traffic is captured at all (`-b ""` captures none).
    fn inbound(&self) -> bool {
        !matches!(&self.inbound_include, Select::Some(p) if p.is_empty())
    }

    /// The `-A` lines, in order.
    pub fn rules(&self) -> Vec<String> {
        let mut r = Vec::new();
        let mut add = |s: String| r.push(s);
        add(format!(
            "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports {}",
            self.proxy_port
        ));
        add(format!(
            "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports {}",
            self.inbound_port
        ));
        if self.inbound() {
            add(JUMPS[0].1.to_string());
            match &self.inbound_include {
                Select::All => {
                    for p in &self.inbound_exclude {
                        add(format!("-A ISTIO_INBOUND -p tcp --dport {p} -j RETURN"));
                    }
                    add("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT".into());
                }
                Select::Some(ports) => {
                    for p in ports.iter().filter(|p| !self.inbound_exclude.contains(p)) {
                        add(format!(
                            "-A ISTIO_INBOUND -p tcp --dport {p} -j ISTIO_IN_REDIRECT"
                        ));
                    }
                }
            }
        }
        add(JUMPS[1].1.to_string());
        for p in &self.outbound_ports_exclude {
            add(format!("-A ISTIO_OUTPUT -p tcp --dport {p} -j RETURN"));
        }
        // Envoy's inbound passthrough source address, kept for Istio parity.
        add("-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN".into());
        for (flag, id) in [("--uid-owner", self.uid), ("--gid-owner", self.gid)] {
            if self.inbound() {
                // The proxy calling its own pod's address: that is inbound traffic.
                add(format!(
                    "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner {flag} {id} -j ISTIO_IN_REDIRECT"
                ));
            }
            add(format!(
                "-A ISTIO_OUTPUT -o lo -m owner ! {flag} {id} -j RETURN"
            ));
            add(format!("-A ISTIO_OUTPUT -m owner {flag} {id} -j RETURN"));
        }
        add("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN".into());
        for c in self.outbound_exclude.iter().filter(|c| c.is_v4()) {
            add(format!("-A ISTIO_OUTPUT -d {c} -j RETURN"));
        }
        match &self.outbound_include {
            Select::All => add("-A ISTIO_OUTPUT -j ISTIO_REDIRECT".into()),
            Select::Some(cidrs) => {
                for c in cidrs.iter().filter(|c| c.is_v4()) {
                    add(format!("-A ISTIO_OUTPUT -d {c} -j ISTIO_REDIRECT"));
                }
            }
        }
        r
    }

    /// IPv6 ranges the flags name (not installed: the rules are IPv4).
    pub fn ignored_ipv6(&self) -> Vec<Cidr> {
        let include = match &self.outbound_include {
            Select::All => &[][..],
            Select::Some(c) => c.as_slice(),
        };
        include
            .iter()
            .chain(&self.outbound_exclude)
            .filter(|c| !c.is_v4())
            .cloned()
            .collect()
    }

    /// `iptables-restore --noflush` input. `existing` is `iptables-save -t nat` output: the
    /// jumps a previous run added are deleted first (our chains are redeclared, which
    /// empties them), so applying twice leaves the same rules as applying once.
    pub fn restore_input(&self, existing: &str) -> String {
        let mut out = String::from("*nat\n");
        for chain in [
            "ISTIO_INBOUND",
            "ISTIO_IN_REDIRECT",
            "ISTIO_OUTPUT",
            "ISTIO_REDIRECT",
        ] {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for (_, jump) in JUMPS {
            for _ in existing.lines().filter(|l| l.trim() == jump) {
                let _ = writeln!(out, "-D{}", &jump[2..]);
            }
        }
        for rule in self.rules() {
            out.push_str(&rule);
            out.push('\n');
        }
        out.push_str("COMMIT\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            proxy_port: 15001,
            inbound_port: 15006,
            uid: 1337,
            gid: 1337,
            inbound_include: Select::All,
            inbound_exclude: vec![15000, 15020, 15021, 15090],
            outbound_include: Select::All,
            outbound_exclude: vec![],
            outbound_ports_exclude: vec![],
        }
    }

    #[test]
    fn default_rules_match_istio_iptables() {
        let want = "*nat
:ISTIO_INBOUND - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 15000 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
COMMIT
";
        assert_eq!(config().restore_input(""), want);
    }

    #[test]
    fn selective_capture_and_exclusions() {
        let c = Config {
            inbound_include: Select::Some(vec![1, 2, 15021]),
            outbound_include: Select::Some(vec![
                "10.96.0.0/12".parse().expect("cidr"),
                "fd00::/8".parse().expect("cidr"),
            ]),
            outbound_exclude: vec!["10.96.0.10/32".parse().expect("cidr")],
            outbound_ports_exclude: vec![7, 8],
            ..config()
        };
        let rules = c.rules();
        let has = |r: &str| rules.iter().any(|x| x == r);
        assert!(has(
            "-A ISTIO_INBOUND -p tcp --dport 1 -j ISTIO_IN_REDIRECT"
        ));
        assert!(!rules
            .iter()
            .any(|r| r.contains("--dport 15021 -j ISTIO_IN_REDIRECT")));
        assert!(!has("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT"));
        assert!(has("-A ISTIO_OUTPUT -p tcp --dport 7 -j RETURN"));
        assert!(has("-A ISTIO_OUTPUT -d 10.96.0.10/32 -j RETURN"));
        assert!(has("-A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT"));
        assert!(!has("-A ISTIO_OUTPUT -j ISTIO_REDIRECT"));
        assert!(!rules.iter().any(|r| r.contains("fd00")));
        assert_eq!(c.ignored_ipv6().len(), 1);
        // The exclusion comes before the inclusion it carves out of.
        let pos = |r: &str| rules.iter().position(|x| x == r);
        assert!(
            pos("-A ISTIO_OUTPUT -d 10.96.0.10/32 -j RETURN")
                < pos("-A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT")
        );
    }

    #[test]
    fn no_inbound_capture_and_reapplying() {
        let c = Config {
            inbound_include: Select::Some(vec![]),
            ..config()
        };
        let rules = c.rules();
        assert!(!rules
            .iter()
            .any(|r| r.contains("PREROUTING") || r.contains("-j ISTIO_IN_REDIRECT")));
        let existing = "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n-A PREROUTING -p tcp -j ISTIO_INBOUND\nCOMMIT\n";
        let input = config().restore_input(existing);
        assert!(input.contains("-D OUTPUT -p tcp -j ISTIO_OUTPUT\n"));
        assert!(input.contains("-D PREROUTING -p tcp -j ISTIO_INBOUND\n"));
        // Deletions come before the new jumps.
        assert!(input.find("-D OUTPUT") < input.find("-A OUTPUT"));
    }
}
