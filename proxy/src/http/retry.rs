//! Retry policy: Istio's `retries` (attempts, perTryTimeout, retryOn) compiled once per route.

use std::time::Duration;

use http::StatusCode;
use mesh_api::snapshot::Retries;
use rand::Rng;

/// Envoy's default backoff: 25 ms base, exponential with full jitter, capped at 250 ms.
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub per_try_timeout: Option<Duration>,
    on_5xx: bool,
    on_gateway_error: bool,
    on_reset: bool,
    on_connect_failure: bool,
    on_retriable_4xx: bool,
    on_refused_stream: bool,
    status_codes: Vec<u16>,
}

/// How an attempt failed, for deciding whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Status(StatusCode),
    ConnectFailure,
    Reset,
    PerTryTimeout,
}

impl RetryPolicy {
    pub fn new(r: &Retries) -> RetryPolicy {
        let mut p = RetryPolicy {
            attempts: r.attempts,
            per_try_timeout: r
                .per_try_timeout
                .map(|d| d.as_std())
                .filter(|d| !d.is_zero()),
            ..RetryPolicy::default()
        };
        for token in r.retry_on.split(',').map(str::trim) {
            match token {
                "5xx" => p.on_5xx = true,
                "gateway-error" => p.on_gateway_error = true,
                "reset" | "reset-before-request" => p.on_reset = true,
                "connect-failure" => p.on_connect_failure = true,
                "retriable-4xx" => p.on_retriable_4xx = true,
                "refused-stream" => p.on_refused_stream = true,
                // gRPC conditions and retriable-status-codes (codes come as bare numbers).
                _ => {
                    if let Ok(code) = token.parse::<u16>() {
                        p.status_codes.push(code);
                    }
                }
            }
        }
        p
    }

    /// Whether this failure may be retried (attempts and budget are checked elsewhere).
    pub fn retriable(&self, f: Failure) -> bool {
        match f {
            Failure::Status(s) => {
                let c = s.as_u16();
                (self.on_5xx && s.is_server_error())
                    || (self.on_gateway_error && matches!(c, 502..=504))
                    || (self.on_retriable_4xx && c == 409)
                    || self.status_codes.contains(&c)
            }
            Failure::ConnectFailure => {
                self.on_5xx || self.on_gateway_error || self.on_connect_failure || self.on_reset
            }
            Failure::Reset => {
                self.on_5xx || self.on_gateway_error || self.on_reset || self.on_refused_stream
            }
            Failure::PerTryTimeout => self.on_5xx || self.on_gateway_error || self.on_reset,
        }
    }

    /// The pause before retry number `n` (1-based).
    pub fn backoff(n: u32) -> Duration {
        let cap = BACKOFF_BASE
            .saturating_mul(1u32 << n.min(10))
            .min(BACKOFF_MAX);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(on: &str) -> RetryPolicy {
        RetryPolicy::new(&Retries {
            attempts: 2,
            per_try_timeout: None,
            retry_on: on.into(),
        })
    }

    #[test]
    fn conditions() {
        let p = policy("gateway-error,connect-failure");
        assert!(p.retriable(Failure::Status(StatusCode::BAD_GATEWAY)));
        assert!(!p.retriable(Failure::Status(StatusCode::INTERNAL_SERVER_ERROR)));
        assert!(p.retriable(Failure::ConnectFailure));
        let p = policy("5xx");
        assert!(p.retriable(Failure::Status(StatusCode::INTERNAL_SERVER_ERROR)));
        assert!(p.retriable(Failure::PerTryTimeout));
        assert!(!p.retriable(Failure::Status(StatusCode::NOT_FOUND)));
        let p = policy("retriable-status-codes,418");
        assert!(p.retriable(Failure::Status(StatusCode::IM_A_TEAPOT)));
        assert!(!p.retriable(Failure::Reset));
    }

    #[test]
    fn backoff_is_capped() {
        for n in 1..20 {
            assert!(RetryPolicy::backoff(n) <= BACKOFF_MAX);
        }
    }
}
