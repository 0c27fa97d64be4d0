//! `mesh-proxy iptables --dry-run` (no root needed): the injected init container's
//! arguments are accepted by the real binary and give the rules they ask for; bad values
//! are usage errors naming the flag.

mod iptables_support;

use std::process::Command;

use iptables_support::injected_init_args;

fn mesh_proxy(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mesh-proxy"))
        .args(args)
        .output()
        .expect("mesh-proxy runs")
}

#[test]
fn injected_arguments_print_the_rules_they_ask_for() {
    let mut args = injected_init_args(&[
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "7,8"),
        (
            "traffic.sidecar.istio.io/excludeOutboundIPRanges",
            "10.96.0.10/32",
        ),
        ("traffic.sidecar.istio.io/includeInboundPorts", "8080"),
    ]);
    assert_eq!(args[0], "iptables");
    args.push("--dry-run".into());
    let out = mesh_proxy(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rule in [
        "-A ISTIO_OUTPUT -p tcp --dport 7 -j RETURN",
        "-A ISTIO_OUTPUT -d 10.96.0.10/32 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT",
        "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
        "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
        "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
        "COMMIT",
    ] {
        assert!(
            stdout.lines().any(|l| l == rule),
            "{rule:?} missing:\n{stdout}"
        );
    }
}

#[test]
fn bad_values_are_usage_errors() {
    for (flag, value, says) in [
        ("-o", "http", "is not a port number"),
        ("-x", "*", "`*` is not allowed here"),
        ("-i", "10.0.0.1", "is not a CIDR"),
        ("-d", "70000", "is not a port number"),
    ] {
        let out = mesh_proxy(&[
            "iptables".into(),
            flag.into(),
            value.into(),
            "--dry-run".into(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}
