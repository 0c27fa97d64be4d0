//! `meshctl proxy-status`: every proxy the control plane knows and where its config stands
//! (istioctl's `proxy-status`): SYNCED, STALE, NACKED (with the proxy's error) or
//! DISCONNECTED, and when its certificate expires (from its admin `/config_dump`; the
//! column appears once proxies hold certificates).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::inspect::format::{age, expires_in, unix_now};
use crate::inspect::{self, CertificateDump, ProxyInfo};
use crate::output::{print_data, table, Format, OutputArgs, Style};

const EXAMPLES: &str = "\
Examples:
  meshctl proxy-status
  meshctl proxy-status -o json | jq '.[] | select(.state != \"SYNCED\")'
Rows with a problem (NACKED, DISCONNECTED) come first; a NACKED proxy's error is printed
below the table. The proxy keeps serving its last good config until the next one is ACKed.";

/// `meshctl proxy-status`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    output: OutputArgs,
}

/// One proxy's line, as `-o json|yaml` prints it.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub name: String,
    pub proxy_type: String,
    pub service: String,
    pub namespace: String,
    pub workload: String,
    /// The workload's `version` label.
    pub version: Option<String>,
    pub state: String,
    /// Seconds the state has held.
    pub state_age_s: u64,
    pub config_version_sent: Option<String>,
    pub config_version_acked: Option<String>,
    /// Why the proxy rejected its config, while NACKED.
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// Its certificate, when its admin server shows one.
    pub certificate: Option<CertificateDump>,
}

/// Problems first: NACKED, DISCONNECTED, STALE, then SYNCED.
fn rank(state: &str) -> u8 {
    match state {
        "NACKED" => 0,
        "DISCONNECTED" => 1,
        "STALE" => 2,
        "SYNCED" => 3,
        _ => 4,
    }
}

/// The lines for `proxies`, sorted, with the certificates found by proxy id.
pub fn lines(
    proxies: &[ProxyInfo],
    certs: &BTreeMap<String, CertificateDump>,
    now: u64,
) -> Vec<Line> {
    let mut out: Vec<Line> = proxies
        .iter()
        .map(|p| Line {
            name: p.id.clone(),
            proxy_type: p.proxy_type.clone(),
            service: p.service.clone(),
            namespace: p.namespace.clone(),
            workload: p.workload.clone(),
            version: p.version.clone(),
            state: p.state.clone(),
            state_age_s: now.saturating_sub(p.state_since),
            config_version_sent: p.version_sent.clone(),
            config_version_acked: p.version_acked.clone(),
            error: p.error.clone(),
            warnings: p.warnings.clone(),
            certificate: certs.get(&p.id).cloned(),
        })
        .collect();
    out.sort_by(|a, b| {
        rank(&a.state)
            .cmp(&rank(&b.state))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// The table, and the errors and warnings below it.
pub fn render(lines: &[Line], now: u64, style: Style) -> String {
    let with_certs = lines.iter().any(|l| l.certificate.is_some());
    let mut headers = vec!["NAME", "SERVICE", "VERSION", "CONFIG"];
    if with_certs {
        headers.push("CERT EXPIRES");
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let config = format!("{} ({})", l.state, age(l.state_age_s));
            let config = match l.state.as_str() {
                "SYNCED" => config,
                _ => style.red(&config),
            };
            let mut row = vec![
                l.name.clone(),
                format!("{}.{}", l.service, l.namespace),
                l.version.clone().unwrap_or_else(|| "-".into()),
                config,
            ];
            if with_certs {
                row.push(match &l.certificate {
                    Some(c) => expires_in(c.not_after, now),
                    None => "-".into(),
                });
            }
            row
        })
        .collect();
    let mut out = table(&headers, &rows);
    let mut notes = Vec::new();
    for l in lines {
        if let Some(e) = &l.error {
            let version = l.config_version_sent.as_deref().unwrap_or("?");
            notes.push(format!(
                "{} {} rejected config {version}: {e}",
                style.red("NACKED"),
                l.name
            ));
        }
    }
    for l in lines {
        for w in &l.warnings {
            notes.push(style.dim(&format!("warning: {}: {w}", l.name)));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

/// Each proxy's certificate, from its admin server; proxies that do not answer or hold none
/// are left out (their column shows `-`).
async fn certificates(proxies: &[ProxyInfo]) -> BTreeMap<String, CertificateDump> {
    let mut tasks = tokio::task::JoinSet::new();
    for p in proxies.iter().filter(|p| p.admin.is_some()) {
        let p = p.clone();
        tasks.spawn(async move {
            let dump = inspect::config_dump(&p).await.ok()?;
            Some((p.id, dump.certificate?))
        });
    }
    let mut out = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some((id, cert))) = done {
            out.insert(id, cert);
        }
    }
    out
}

/// Runs `meshctl proxy-status`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let api = super::api(g)?;
    let proxies = inspect::proxies(&api).await?;
    let certs = certificates(&proxies).await;
    let now = unix_now();
    let lines = lines(&proxies, &certs, now);
    if args.output.output != Format::Table {
        return print_data(args.output.output, &lines);
    }
    if lines.is_empty() {
        eprintln!(
            "No proxies are connected to the control plane at {}. Deploy a workload, e.g. \
             `meshctl samples deploy bookinfo`.",
            api.addr()
        );
        return Ok(());
    }
    crate::out!("{}", render(&lines, now, Style::stdout()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(id: &str, state: &str, since: u64) -> ProxyInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "namespace": "default", "service": id.split('-').next(),
            "version": "v1", "state": state, "stateSince": since,
            "versionSent": "abc", "proxyType": "sidecar",
            "error": (state == "NACKED").then_some("listener inbound: address in use"),
        }))
        .expect("proxy")
    }

    #[test]
    fn problems_come_first_and_nacks_say_why() {
        let proxies = [
            proxy("reviews-v1-0.default", "SYNCED", 88),
            proxy("details-v1-0.default", "SYNCED", 95),
            proxy("ratings-v1-0.default", "NACKED", 97),
            proxy("productpage-v1-0.default", "DISCONNECTED", 90),
        ];
        let lines = lines(&proxies, &BTreeMap::new(), 100);
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ratings-v1-0.default",
                "productpage-v1-0.default",
                "details-v1-0.default",
                "reviews-v1-0.default"
            ]
        );
        let text = render(&lines, 100, Style::plain());
        assert_eq!(
            text,
            "NAME                       SERVICE               VERSION   CONFIG\n\
             ratings-v1-0.default       ratings.default       v1        NACKED (3s)\n\
             productpage-v1-0.default   productpage.default   v1        DISCONNECTED (10s)\n\
             details-v1-0.default       details.default       v1        SYNCED (5s)\n\
             reviews-v1-0.default       reviews.default       v1        SYNCED (12s)\n\
             \n\
             NACKED ratings-v1-0.default rejected config abc: listener inbound: address in use\n"
        );
    }

    #[test]
    fn the_certificate_column_appears_with_certificates() {
        let proxies = [proxy("reviews-v1-0.default", "SYNCED", 88)];
        let cert = CertificateDump {
            spiffe_id: "spiffe://cluster.local/ns/default/sa/reviews".into(),
            serial: "01".into(),
            not_before: 0,
            not_after: 100 + 86_400 - 60,
            trust_bundle: Vec::new(),
        };
        let certs = BTreeMap::from([("reviews-v1-0.default".to_string(), cert)]);
        let text = render(&lines(&proxies, &certs, 100), 100, Style::plain());
        assert!(text.starts_with("NAME   "), "{text}");
        assert!(text
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("CERT EXPIRES")));
        assert!(
            text.lines().nth(1).is_some_and(|r| r.ends_with("23h59m")),
            "{text}"
        );
    }
}
