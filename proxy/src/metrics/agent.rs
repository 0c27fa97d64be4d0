//! The metrics Istio's node agent (pilot-agent) exports next to Envoy's, for what this proxy
//! does in its place: today the workload certificate's remaining lifetime,
//! `istio_agent_cert_expiry_seconds{resource_name="default"}`, with pilot-agent's name,
//! label and meaning, so Istio dashboards and alerts read it unchanged.
//!
//! Computed at scrape time from the certificate handshakes present now (so it follows a
//! rotation at once), and left out entirely when the proxy holds no certificate.

use std::fmt::Write;
use std::time::SystemTime;

/// pilot-agent's `resource_name` of the workload certificate chain (SDS' `default`).
const WORKLOAD_RESOURCE: &str = "default";

/// What one render reports for the agent; the caller reads it from the proxy's identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// The notAfter of the leaf handshakes present now; `None` without a certificate
    /// (plain text, static config without `--cert-chain`).
    pub cert_not_after: Option<SystemTime>,
}

impl AgentStats {
    /// Appends the agent families, as of `now`, in Prometheus text format.
    pub fn render(&self, now: SystemTime, out: &mut String) {
        let Some(not_after) = self.cert_not_after else {
            return;
        };
        // Negative once expired, as pilot-agent reports it.
        let left = match not_after.duration_since(now) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let name = "istio_agent_cert_expiry_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} The time remaining, in seconds, before the certificate chain will \
             expire. A negative value indicates the cert is expired.\n\
             # TYPE {name} gauge\n\
             {name}{{resource_name=\"{WORKLOAD_RESOURCE}\"}} {left}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rendered(not_after: Option<SystemTime>, now: SystemTime) -> String {
        let mut out = String::new();
        AgentStats {
            cert_not_after: not_after,
        }
        .render(now, &mut out);
        out
    }

    #[test]
    fn remaining_seconds_of_the_certificate() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let out = rendered(Some(now + Duration::from_millis(3_599_500)), now);
        assert!(
            out.contains("# TYPE istio_agent_cert_expiry_seconds gauge\n"),
            "{out}"
        );
        assert!(
            out.ends_with("\nistio_agent_cert_expiry_seconds{resource_name=\"default\"} 3599.5\n"),
            "{out}"
        );
    }

    #[test]
    fn an_expired_certificate_is_negative_and_none_is_absent() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let out = rendered(Some(now - Duration::from_secs(2)), now);
        assert!(out.ends_with("{resource_name=\"default\"} -2\n"), "{out}");
        assert_eq!(rendered(None, now), "");
    }
}
