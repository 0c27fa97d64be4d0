//! `mesh-proxy iptables` for real, in a network namespace laid out like a pod: the rules are
//! installed by the real binary with the arguments injection gives the init container, and
//! real connections show where traffic goes. Needs root, iproute2, iptables (nat table and
//! owner match), util-linux's `setpriv` and python3; skips with a message otherwise.
//!
//! A client runs as root, as an app user (1000) or as the proxy's user (1337).
//!
//! Layout: namespace `pod` (10.213.x.1 on a veth) and namespace `peer` (10.213.x.2 and .3).
//! In `pod`, tag servers stand in for the proxy's outbound (15001) and inbound (15006)
//! listeners, the app (8080) and the proxy's health port (15021); in `peer`, a tag server
//! is "the remote service". Each server answers with its tag, so a connection says where it
//! really landed.

mod iptables_support;

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use iptables_support::injected_init_args;
use mesh_proxy::testing::eventually_blocking;

/// Listens on every `port=tag` argument and answers each connection with its tag.
const TAG_SERVER: &str = r#"
import socket, sys, threading
def serve(port, tag):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(tag.encode()); c.close()
for arg in sys.argv[1:]:
    port, tag = arg.split("=")
    threading.Thread(target=serve, args=(int(port), tag), daemon=True).start()
threading.Event().wait()
"#;

/// Connects to $1:$2 and prints what the server says (bash's /dev/tcp: any user can run
/// it, unlike an interpreter installed under /root).
const CLIENT: &str = "exec 3<>/dev/tcp/$1/$2 && timeout 2 cat <&3 || echo ERR";

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn missing_prerequisite() -> Option<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("needs root");
    }
    for (tool, arg) in [
        ("ip", "-V"),
        ("iptables-restore", "--version"),
        ("iptables-save", "--version"),
        ("setpriv", "--version"),
        ("python3", "--version"),
        ("bash", "--version"),
        ("timeout", "--version"),
    ] {
        if !ok(Command::new(tool).arg(arg)) {
            return Some("needs iproute2, iptables, setpriv, python3, bash and coreutils");
        }
    }
    None
}

/// A process killed by PID on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two namespaces joined by a veth pair; deleted (with the pair) on drop.
struct Pod {
    pod: String,
    peer: String,
    net: u32,
}

impl Drop for Pod {
    fn drop(&mut self) {
        for ns in [&self.pod, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Pod {
    fn create() -> Option<Pod> {
        if let Some(why) = missing_prerequisite() {
            println!("skipping: {why}");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", std::process::id());
        let pod = Pod {
            pod: format!("meshipt-pod-{id}"),
            peer: format!("meshipt-peer-{id}"),
            // Addresses are per namespace: every test can use the same ones.
            net: 0,
        };
        for ns in [&pod.pod, &pod.peer] {
            if !ok(Command::new("ip").args(["netns", "add", ns])) {
                println!("skipping: cannot create a network namespace");
                return None;
            }
        }
        let (a, b) = (
            format!("mipt{n}a{}", std::process::id() % 1000),
            format!("mipt{n}b{}", std::process::id() % 1000),
        );
        let setup: [&[&str]; 4] = [
            &["ip", "link", "add", &a, "type", "veth", "peer", "name", &b],
            &["ip", "link", "set", &a, "netns", &pod.pod],
            &["ip", "link", "set", &b, "netns", &pod.peer],
            &["true"],
        ];
        for cmd in setup {
            assert!(ok(Command::new(cmd[0]).args(&cmd[1..])), "{cmd:?}");
        }
        let net = pod.net;
        for (ns, dev, addrs) in [
            (&pod.pod, &a, vec![format!("10.213.{net}.1/24")]),
            (
                &pod.peer,
                &b,
                vec![format!("10.213.{net}.2/24"), format!("10.213.{net}.3/24")],
            ),
        ] {
            for addr in &addrs {
                assert!(
                    ok(&mut in_ns(ns, &["ip", "addr", "add", addr, "dev", dev])),
                    "addr"
                );
            }
            assert!(
                ok(&mut in_ns(ns, &["ip", "link", "set", dev, "up"])),
                "veth up"
            );
            assert!(
                ok(&mut in_ns(ns, &["ip", "link", "set", "lo", "up"])),
                "lo up"
            );
        }
        if !ok(&mut in_ns(&pod.pod, &["iptables-save", "-t", "nat"])) {
            println!("skipping: iptables has no nat table here (kernel support missing?)");
            return None;
        }
        Some(pod)
    }

    fn ip(&self, host: u8) -> String {
        format!("10.213.{}.{host}", self.net)
    }

    fn spawn(&self, ns: &str, args: &[&str]) -> Proc {
        Proc(
            in_ns(ns, args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn in netns"),
        )
    }

    fn tags(&self, ns: &str, ports: &[&str]) -> Proc {
        let mut args = vec!["python3", "-c", TAG_SERVER];
        args.extend(ports);
        self.spawn(ns, &args)
    }

    /// What a connection from `ns` (as `uid`, if given) to host:port lands on.
    fn connect(&self, ns: &str, uid: Option<u32>, host: &str, port: u16) -> String {
        let port = port.to_string();
        let ids;
        let mut args: Vec<&str> = Vec::new();
        if let Some(uid) = uid {
            ids = [format!("--reuid={uid}"), format!("--regid={uid}")];
            args.extend(["setpriv", &ids[0], &ids[1], "--clear-groups"]);
        }
        args.extend(["timeout", "5", "bash", "-c", CLIENT, "client", host, &port]);
        let out: Output = in_ns(ns, &args).output().expect("client runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls until a connection lands somewhere (servers start asynchronously).
    fn landing(&self, ns: &str, uid: Option<u32>, host: &str, port: u16) -> String {
        eventually_blocking(Duration::from_secs(10), "a tag server answers", || {
            let got = self.connect(ns, uid, host, port);
            (!got.starts_with("ERR") && !got.is_empty()).then_some(got)
        })
    }
}

fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

#[test]
fn injected_rules_redirect_the_pods_traffic_but_not_the_proxys() {
    let Some(pod) = Pod::create() else { return };
    let excluded_range = format!("{}/32", pod.ip(3));
    let args = injected_init_args(&[
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "9998"),
        (
            "traffic.sidecar.istio.io/excludeOutboundIPRanges",
            &excluded_range,
        ),
    ]);
    let mut cmd: Vec<&str> = vec![env!("CARGO_BIN_EXE_mesh-proxy")];
    cmd.extend(args.iter().map(String::as_str));
    // Twice: an init container runs again when the pod restarts, in the same namespace.
    for _ in 0..2 {
        let out = in_ns(&pod.pod, &cmd)
            .output()
            .expect("mesh-proxy iptables runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let saved = in_ns(&pod.pod, &["iptables-save", "-t", "nat"])
        .output()
        .expect("save");
    let saved = String::from_utf8_lossy(&saved.stdout);
    for jump in [
        "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
        "-A PREROUTING -p tcp -j ISTIO_INBOUND",
    ] {
        assert_eq!(
            saved.lines().filter(|l| *l == jump).count(),
            1,
            "{jump} once:\n{saved}"
        );
    }

    let _pod_servers = pod.tags(
        &pod.pod,
        &[
            "15001=outbound-listener",
            "15006=inbound-listener",
            "8080=app",
            "15021=health",
        ],
    );
    let _remote = pod.tags(&pod.peer, &["9999=remote", "9998=remote"]);
    let (remote, excluded_host) = (pod.ip(2), pod.ip(3));

    // The app's outbound TCP goes to the proxy's outbound listener.
    assert_eq!(
        pod.landing(&pod.pod, None, &remote, 9999),
        "outbound-listener"
    );
    assert_eq!(
        pod.landing(&pod.pod, Some(1000), &remote, 9999),
        "outbound-listener"
    );
    // The proxy's own (uid 1337) goes where it was sent.
    assert_eq!(pod.landing(&pod.pod, Some(1337), &remote, 9999), "remote");
    // Excluded port and range go out directly.
    assert_eq!(pod.landing(&pod.pod, None, &remote, 9998), "remote");
    assert_eq!(pod.landing(&pod.pod, None, &excluded_host, 9999), "remote");
    // Loopback inside the pod is left alone.
    assert_eq!(pod.landing(&pod.pod, None, "127.0.0.1", 8080), "app");
    // Inbound TCP to the app goes to the proxy's inbound listener; the health port is not
    // captured (the kubelet's probe reaches the proxy itself).
    let pod_ip = pod.ip(1);
    assert_eq!(
        pod.landing(&pod.peer, None, &pod_ip, 8080),
        "inbound-listener"
    );
    assert_eq!(pod.landing(&pod.peer, None, &pod_ip, 15021), "health");
}
