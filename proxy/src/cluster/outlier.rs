//! Outlier detection (Istio's `outlierDetection`, Envoy's consecutive-5xx detector).
//!
//! An endpoint that returns `consecutive5xxErrors` 5xx responses (or connection failures) in a
//! row is ejected for `baseEjectionTime x times ejected`, unless that would eject more than
//! `maxEjectionPercent` of the cluster (at least one endpoint may always be ejected when the
//! percentage is above zero, as in Envoy). Ejection ends lazily: an endpoint is back once its
//! time is up. Each `interval` an endpoint stays healthy lowers its ejection multiplier by one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mesh_api::snapshot::OutlierDetection;

use super::EndpointState;

/// What an attempt to an endpoint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A 5xx response, a connection failure, or a reset.
    Failure,
}

#[derive(Debug)]
pub struct OutlierDetector {
    threshold: u32,
    interval: Duration,
    base: Duration,
    max_percent: u32,
}

/// Per-endpoint health, all atomics: no lock on the request path.
#[derive(Debug, Default)]
pub struct EndpointHealth {
    consecutive: AtomicU32,
    /// Milliseconds since [`epoch`] until which the endpoint is ejected; 0 = not ejected.
    ejected_until_ms: AtomicU64,
    times_ejected: AtomicU32,
    last_change_ms: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn ms(now: Instant) -> u64 {
    now.saturating_duration_since(epoch()).as_millis() as u64 + 1
}

impl EndpointHealth {
    pub fn is_available(&self, now: Instant) -> bool {
        let until = self.ejected_until_ms.load(Ordering::Relaxed);
        until == 0 || ms(now) >= until
    }

    pub fn is_ejected(&self, now: Instant) -> bool {
        !self.is_available(now)
    }
}

impl OutlierDetector {
    pub fn new(cfg: &OutlierDetection) -> OutlierDetector {
        OutlierDetector {
            threshold: cfg.consecutive5xx_errors,
            interval: cfg.interval.as_std(),
            base: cfg.base_ejection_time.as_std(),
            max_percent: cfg.max_ejection_percent.min(100),
        }
    }

    /// Records an outcome; true when it ejected the endpoint.
    pub fn report(
        &self,
        all: &[Arc<EndpointState>],
        ep: &EndpointState,
        outcome: Outcome,
        now: Instant,
    ) -> bool {
        let h = &ep.health;
        let now_ms = ms(now);
        // Decay the multiplier for each full interval spent healthy.
        let last = h.last_change_ms.load(Ordering::Relaxed);
        let interval_ms = self.interval.as_millis().max(1) as u64;
        if h.is_available(now) && last > 0 && now_ms > last + interval_ms {
            let steps = ((now_ms - last) / interval_ms) as u32;
            let t = h.times_ejected.load(Ordering::Relaxed);
            if t > 0 {
                h.times_ejected
                    .store(t.saturating_sub(steps), Ordering::Relaxed);
                h.last_change_ms.store(now_ms, Ordering::Relaxed);
            }
        }
        match outcome {
            Outcome::Success => {
                h.consecutive.store(0, Ordering::Relaxed);
                false
            }
            Outcome::Failure => {
                let n = h.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
                if self.threshold == 0 || n < self.threshold || h.is_ejected(now) {
                    return false;
                }
                let ejected = all.iter().filter(|e| e.health.is_ejected(now)).count();
                if ejected >= self.max_ejections(all.len()) {
                    return false;
                }
                let times = h.times_ejected.fetch_add(1, Ordering::Relaxed) + 1;
                let until =
                    now_ms + (self.base.as_millis() as u64).saturating_mul(u64::from(times));
                h.ejected_until_ms.store(until, Ordering::Relaxed);
                h.last_change_ms.store(until, Ordering::Relaxed);
                h.consecutive.store(0, Ordering::Relaxed);
                tracing::info!(endpoint = %ep.addr, times, "outlier detection ejected endpoint");
                true
            }
        }
    }

    fn max_ejections(&self, n: usize) -> usize {
        if self.max_percent == 0 {
            return 0;
        }
        (n * self.max_percent as usize / 100).max(1)
    }
}
