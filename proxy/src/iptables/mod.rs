//! `mesh-proxy iptables`: the pod init step that sends the pod's TCP traffic through its
//! sidecar (what `istio-iptables` does for Istio, with the same flag letters). It builds
//! the nat-table rules ([`rules`]) from the flags and installs them atomically with
//! `iptables-restore --noflush`, or prints them with `--dry-run`.
//!
//! Run it as root (or with NET_ADMIN and NET_RAW) in the pod's network namespace; the image
//! needs `iptables-restore` and `iptables-save`.

pub mod rules;
pub mod values;

use std::io::Write;
use std::process::{Command, Stdio};

use rules::Config;
use values::{Cidr, List, Select};

/// `mesh-proxy iptables` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct IptablesArgs {
    /// Port the proxy's outbound listener takes redirected connections on.
    #[arg(short = 'p', long, default_value_t = 15001)]
    pub proxy_port: u16,
    /// Port the proxy's inbound listener takes redirected connections on.
    #[arg(short = 'z', long, default_value_t = 15006)]
    pub inbound_capture_port: u16,
    /// The proxy's user id: its own traffic is not redirected.
    #[arg(short = 'u', long, default_value_t = 1337)]
    pub proxy_uid: u32,
    /// The proxy's group id (default: the user id).
    #[arg(short = 'g', long)]
    pub proxy_gid: Option<u32>,
    /// Inbound ports to capture: `*` (all but the excluded ones), a list, or "" for none.
    #[arg(short = 'b', long, default_value = "*", allow_hyphen_values = true)]
    pub inbound_ports: Select<u16>,
    /// Inbound ports never captured (the proxy's own ports go here).
    #[arg(short = 'd', long, default_value = "15000,15020,15021,15090")]
    pub exclude_inbound_ports: List<u16>,
    /// Outbound address ranges to capture: `*`, a list of CIDRs, or "" for none.
    #[arg(short = 'i', long, default_value = "*")]
    pub outbound_ranges: Select<Cidr>,
    /// Outbound address ranges never captured.
    #[arg(short = 'x', long, default_value = "")]
    pub exclude_outbound_ranges: List<Cidr>,
    /// Outbound ports never captured.
    #[arg(short = 'o', long, default_value = "")]
    pub exclude_outbound_ports: List<u16>,
    /// Print the rules instead of installing them (no root needed).
    #[arg(long)]
    pub dry_run: bool,
}

impl IptablesArgs {
    pub fn config(&self) -> Config {
        Config {
            proxy_port: self.proxy_port,
            inbound_port: self.inbound_capture_port,
            uid: self.proxy_uid,
            gid: self.proxy_gid.unwrap_or(self.proxy_uid),
            inbound_include: self.inbound_ports.clone(),
            inbound_exclude: self.exclude_inbound_ports.0.clone(),
            outbound_include: self.outbound_ranges.clone(),
            outbound_exclude: self.exclude_outbound_ranges.0.clone(),
            outbound_ports_exclude: self.exclude_outbound_ports.0.clone(),
        }
    }
}

/// Why the rules could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum IptablesError {
    #[error(
        "cannot run {program}: {source}; the image needs the iptables package ({program} in PATH)"
    )]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{program} failed ({status}): {stderr}; it needs root (or NET_ADMIN and NET_RAW) and \
         the kernel's nat table and owner match"
    )]
    Failed {
        program: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Prints or installs the rules; notes go to stderr, the rules to stdout.
pub fn run(args: &IptablesArgs) -> Result<(), IptablesError> {
    let config = args.config();
    for c in config.ignored_ipv6() {
        eprintln!("mesh-proxy iptables: {c} is an IPv6 range; only IPv4 rules are installed");
    }
    if args.dry_run {
        print!("{}", config.restore_input(""));
        return Ok(());
    }
    let existing = output("iptables-save", &["-t", "nat"], None)?;
    let input = config.restore_input(&existing);
    output("iptables-restore", &["--noflush"], Some(&input))?;
    print!("{input}");
    eprintln!(
        "mesh-proxy iptables: installed {} rules in the nat table",
        config.rules().len()
    );
    Ok(())
}

/// Runs a program to completion (stdin from `input`), returning its stdout.
fn output(
    program: &'static str,
    args: &[&str],
    input: Option<&str>,
) -> Result<String, IptablesError> {
    let spawn = |source| IptablesError::Spawn { program, source };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A write error means the program exited early; its status and stderr say why.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(spawn)?;
    if !out.status.success() {
        return Err(IptablesError::Failed {
            program,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
