//! Names injection writes or reads: Istio's wherever Istio has one, so that users' tooling
//! (`kubectl logs -c istio-proxy`, Prometheus jobs keyed on `*-envoy-prom` ports, Kiali's
//! sidecar detection, `sidecar.istio.io/inject: "false"` opt-outs) keeps working.

/// What injection added, as JSON (Istio's format, plus a `meshctl` field Istio ignores).
pub const STATUS: &str = "sidecar.istio.io/status";
/// Istio's opt-out (label or annotation): anything but true/yes/on/y skips the pod.
pub const ISTIO_INJECT: &str = "sidecar.istio.io/inject";
/// Our own opt-out (label or annotation), same values.
pub const MESH_INJECT: &str = "meshctl.io/inject";

pub const PROXY_CONTAINER: &str = "istio-proxy";
pub const INIT_CONTAINER: &str = "istio-init";
/// emptyDir for the proxy's runtime files (the root filesystem is read-only).
pub const VOLUME_RUNTIME: &str = "istio-envoy";
/// The projected service-account token the proxy presents to the CA.
pub const VOLUME_TOKEN: &str = "istio-token";
/// The CA root certificate (a ConfigMap).
pub const VOLUME_CA: &str = "istiod-ca-cert";

pub const MOUNT_RUNTIME: &str = "/etc/istio/proxy";
pub const MOUNT_TOKEN: &str = "/var/run/secrets/tokens";
pub const MOUNT_CA: &str = "/var/run/secrets/istio";
/// The token file inside [`MOUNT_TOKEN`].
pub const TOKEN_FILE: &str = "istio-token";

/// Ports (Istio's numbers).
pub const PORT_OUTBOUND: u16 = 15001;
pub const PORT_INBOUND: u16 = 15006;
pub const PORT_ADMIN: u16 = 15000;
pub const PORT_METRICS: u16 = 15020;
pub const PORT_HEALTH: u16 = 15021;
pub const PORT_ENVOY_PROM: u16 = 15090;

/// Traffic annotations, honoured in the iptables arguments.
pub const INCLUDE_OUTBOUND_RANGES: &str = "traffic.sidecar.istio.io/includeOutboundIPRanges";
pub const EXCLUDE_OUTBOUND_RANGES: &str = "traffic.sidecar.istio.io/excludeOutboundIPRanges";
pub const INCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/includeInboundPorts";
pub const EXCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
pub const EXCLUDE_OUTBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeOutboundPorts";

/// Proxy overrides, honoured.
pub const PROXY_IMAGE: &str = "sidecar.istio.io/proxyImage";
pub const PROXY_CPU: &str = "sidecar.istio.io/proxyCPU";
pub const PROXY_MEMORY: &str = "sidecar.istio.io/proxyMemory";
pub const PROXY_CPU_LIMIT: &str = "sidecar.istio.io/proxyCPULimit";
pub const PROXY_MEMORY_LIMIT: &str = "sidecar.istio.io/proxyMemoryLimit";
/// REDIRECT (default), TPROXY (injected as REDIRECT, with a warning), NONE (no iptables).
pub const INTERCEPTION_MODE: &str = "sidecar.istio.io/interceptionMode";
/// Istio's template selection; `gateway` means no traffic capture.
pub const TEMPLATES: &str = "inject.istio.io/templates";

/// Annotations added when absent.
pub const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";
pub const DEFAULT_LOGS_CONTAINER: &str = "kubectl.kubernetes.io/default-logs-container";
pub const PROMETHEUS_SCRAPE: &str = "prometheus.io/scrape";
pub const PROMETHEUS_PORT: &str = "prometheus.io/port";
pub const PROMETHEUS_PATH: &str = "prometheus.io/path";

/// Labels added when absent.
pub const CANONICAL_NAME: &str = "service.istio.io/canonical-name";
pub const CANONICAL_REVISION: &str = "service.istio.io/canonical-revision";
pub const TLS_MODE: &str = "security.istio.io/tlsMode";

/// Istio records the probes it rewrote here, on its proxy container (read by uninject).
pub const ISTIO_APP_PROBERS_ENV: &str = "ISTIO_KUBE_APP_PROBERS";
