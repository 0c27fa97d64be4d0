//! `meshctl stat`: one snapshot of the traffic table, per workload (as `linkerd viz stat
//! deploy` shows it), from the control plane's telemetry API (`/api/v1/mesh`): each
//! workload's inbound traffic is the sum of the edges into it.

use std::collections::BTreeMap;

use mesh_api::telemetry::{Edge, Mesh, Proxy, SyncState};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::client::ApiClient;
use crate::inspect::get_json;
use crate::output::{print_data, table, Format, OutputArgs};

const EXAMPLES: &str = "\
Examples:
  meshctl stat
  meshctl stat --window 10s
  meshctl stat -o json | jq '.[] | {name, requests, successRate}'
Columns: MESHED = the workload's proxies connected / known; SUCCESS = share of requests not
answered 5xx; RPS and latencies over the window (latencies are the request-weighted mean of
each caller's quantiles when several callers reach a workload); TCP_CONN = TCP connections
opened to it in the window.";

/// The telemetry windows the control plane keeps.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    #[value(name = "10s")]
    TenSeconds,
    #[value(name = "1m")]
    OneMinute,
    #[value(name = "10m")]
    TenMinutes,
}

impl Window {
    /// As the flag and the telemetry API spell it (`10s`).
    pub fn as_str(self) -> &'static str {
        match self {
            Window::TenSeconds => "10s",
            Window::OneMinute => "1m",
            Window::TenMinutes => "10m",
        }
    }
}

/// `meshctl stat`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The window the numbers cover.
    #[arg(long, value_enum, default_value = "1m")]
    pub window: Window,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One workload's line.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The workload.
    pub name: String,
    pub namespace: String,
    /// Its proxies connected to the control plane.
    pub meshed: usize,
    /// Its proxies the control plane knows (connected or within their grace period).
    pub proxies: usize,
    /// HTTP requests into it in the window, and those answered 5xx.
    pub requests: u64,
    pub errors: u64,
    /// Non-5xx share, 0..=1; None without requests.
    pub success_rate: Option<f64>,
    pub rps: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// TCP connections opened to it in the window.
    pub tcp_connections: u64,
}

fn namespace_of(id: &str) -> &str {
    id.split_once('.').map_or("default", |(_, ns)| ns)
}

/// The request-weighted mean of the edges' quantile `q` (exact with one caller).
fn weighted(edges: &[&Edge], q: impl Fn(&Edge) -> Option<f64>) -> Option<f64> {
    let (mut sum, mut weight) = (0.0, 0.0);
    for e in edges {
        if let Some(v) = q(e) {
            sum += v * e.requests as f64;
            weight += e.requests as f64;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

/// One row per workload that has a proxy or received traffic, sorted by namespace and name.
pub fn rows(view: &Mesh) -> Vec<Row> {
    // workload id (`workload.namespace`) -> (name, namespace)
    let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
    for p in &view.proxies {
        let ns = namespace_of(&p.id).to_string();
        names.insert(format!("{}.{ns}", p.workload), (p.workload.clone(), ns));
    }
    for e in &view.edges {
        let ns = namespace_of(&e.destination_id).to_string();
        names
            .entry(e.destination_id.clone())
            .or_insert_with(|| (e.destination.clone(), ns));
    }
    let mut out: Vec<Row> = names
        .into_iter()
        .map(|(id, (name, namespace))| {
            let mine: Vec<&Proxy> = view
                .proxies
                .iter()
                .filter(|p| p.workload == name && namespace_of(&p.id) == namespace)
                .collect();
            let into: Vec<&Edge> = view
                .edges
                .iter()
                .filter(|e| e.destination_id == id)
                .collect();
            let http: Vec<&Edge> = into.iter().copied().filter(|e| !e.is_tcp()).collect();
            let requests: u64 = http.iter().map(|e| e.requests).sum();
            let errors: u64 = http.iter().map(|e| e.errors).sum();
            Row {
                meshed: mine
                    .iter()
                    .filter(|p| p.state != SyncState::Disconnected)
                    .count(),
                proxies: mine.len(),
                requests,
                errors,
                success_rate: (requests > 0)
                    .then(|| requests.saturating_sub(errors) as f64 / requests as f64),
                rps: http.iter().map(|e| e.rps).sum(),
                latency_p50_ms: weighted(&http, |e| e.p50_ms),
                latency_p95_ms: weighted(&http, |e| e.p95_ms),
                latency_p99_ms: weighted(&http, |e| e.p99_ms),
                tcp_connections: into.iter().filter(|e| e.is_tcp()).map(|e| e.requests).sum(),
                name,
                namespace,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.1}ms"),
        Some(v) => format!("{v:.0}ms"),
    }
}

/// The table: NAME, MESHED, SUCCESS, RPS, LATENCY_P50, LATENCY_P95, LATENCY_P99, TCP_CONN.
pub fn render(rows: &[Row]) -> String {
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let name = if r.namespace == "default" {
                r.name.clone()
            } else {
                format!("{}.{}", r.name, r.namespace)
            };
            let traffic = r.requests > 0;
            vec![
                name,
                format!("{}/{}", r.meshed, r.proxies),
                r.success_rate
                    .map_or("-".into(), |s| format!("{:.2}%", s * 100.0)),
                if traffic {
                    format!("{:.1}rps", r.rps)
                } else {
                    "-".into()
                },
                ms(r.latency_p50_ms),
                ms(r.latency_p95_ms),
                ms(r.latency_p99_ms),
                r.tcp_connections.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "MESHED",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
            "TCP_CONN",
        ],
        &lines,
    )
}

/// Runs `meshctl stat`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let api = super::api(g)?;
    let rows = snapshot(&api, args.window).await?;
    if args.output.output != Format::Table {
        return print_data(args.output.output, &rows);
    }
    if rows.is_empty() {
        eprintln!(
            "No workloads: no proxy is connected to the control plane at {}. Deploy a \
             workload, e.g. `meshctl samples deploy bookinfo`.",
            api.addr()
        );
        return Ok(());
    }
    crate::out!("{}", render(&rows));
    Ok(())
}

/// The table's rows now, over `window`, from the control plane `api` talks to.
pub async fn snapshot(api: &ApiClient, window: Window) -> anyhow::Result<Vec<Row>> {
    let path = format!("/api/v1/mesh?window={}", window.as_str());
    let view: Mesh = get_json(api, &path).await?;
    Ok(rows(&view))
}

#[cfg(test)]
mod tests {
    use super::*;

    use mesh_api::telemetry::Protocol;

    fn edge(dest: &str, protocol: Protocol, requests: u64, errors: u64, p50: f64) -> Edge {
        Edge {
            destination: dest.into(),
            destination_id: format!("{dest}.default"),
            protocol,
            requests,
            rps: requests as f64 / 60.0,
            errors,
            p50_ms: Some(p50),
            p95_ms: Some(p50 * 2.0),
            p99_ms: Some(p50 * 3.0),
            ..Edge::default()
        }
    }

    fn proxy(id: &str, workload: &str, state: SyncState) -> Proxy {
        Proxy {
            id: id.into(),
            workload: workload.into(),
            state,
            ..Proxy::default()
        }
    }

    #[test]
    fn edges_into_a_workload_add_up() {
        let view = Mesh {
            window_s: 60.0,
            edges: vec![
                edge("reviews-v1", Protocol::Http, 30, 3, 4.0),
                edge("reviews-v1", Protocol::Http, 10, 1, 8.0),
                edge("mysql", Protocol::Tcp, 4, 0, 0.0),
            ],
            proxies: vec![
                proxy("reviews-v1-0.default", "reviews-v1", SyncState::Synced),
                proxy(
                    "reviews-v1-1.default",
                    "reviews-v1",
                    SyncState::Disconnected,
                ),
                proxy(
                    "productpage-v1-0.default",
                    "productpage-v1",
                    SyncState::Synced,
                ),
            ],
            ..Mesh::default()
        };
        let rows = rows(&view);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["mysql", "productpage-v1", "reviews-v1"]);
        let reviews = &rows[2];
        assert_eq!((reviews.meshed, reviews.proxies), (1, 2));
        assert_eq!((reviews.requests, reviews.errors), (40, 4));
        assert_eq!(reviews.success_rate, Some(0.9));
        assert_eq!(reviews.latency_p50_ms, Some(5.0));
        assert_eq!(rows[0].tcp_connections, 4);
        assert_eq!(rows[0].requests, 0);
        assert_eq!(
            render(&rows),
            "NAME             MESHED   SUCCESS   RPS      LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN\n\
             mysql            0/0      -         -        -             -             -             4\n\
             productpage-v1   1/1      -         -        -             -             -             0\n\
             reviews-v1       1/2      90.00%    0.7rps   5.0ms         10ms          15ms          0\n"
        );
    }
}
