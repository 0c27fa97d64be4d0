//! Outlier detection (Istio's `outlierDetection`, Envoy's consecutive-5xx detector).
//!
//! An endpoint that returns `consecutive5xxErrors` 5xx responses (or connection failures) in a
//! row is ejected for `baseEjectionTime x times ejected`, unless that would eject more than
//! `maxEjectionPercent` of the cluster (at least one endpoint may always be ejected when the
//! percentage is above zero, as in Envoy). Ejection ends lazily: an endpoint is back once its
//! time is up. Each `interval` an endpoint stays healthy lowers its ejection multiplier by one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    /// Taken to decide an ejection (rare: only once an endpoint reaches the threshold), so
    /// that failures ending on several threads at once eject an endpoint once and the
    /// `maxEjectionPercent` count sees every ejection already made.
    ejecting: Mutex<()>,
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
            ejecting: Mutex::new(()),
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
        // Decay the multiplier for each full interval spent healthy. The clock advances by
        // whole intervals, so the part of an interval already served is not lost when reports
        // come at times that are not multiples of it.
        let last = h.last_change_ms.load(Ordering::Relaxed);
        let interval_ms = self.interval.as_millis().max(1) as u64;
        if h.is_available(now) && last > 0 && now_ms >= last + interval_ms {
            let steps = (now_ms - last) / interval_ms;
            let t = h.times_ejected.load(Ordering::Relaxed);
            if t > 0 {
                h.times_ejected.store(
                    t.saturating_sub(u32::try_from(steps).unwrap_or(u32::MAX)),
                    Ordering::Relaxed,
                );
                h.last_change_ms
                    .store(last + steps * interval_ms, Ordering::Relaxed);
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
                let _deciding = self.ejecting.lock().unwrap_or_else(|e| e.into_inner());
                if h.is_ejected(now) {
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

#[cfg(test)]
mod tests {
    //! The detector against a clock the tests set: every `Instant` is built from one start,
    //! nothing sleeps.

    use super::*;
    use crate::cluster::ClusterState;
    use crate::metrics::Metrics;
    use crate::upstream::pool::Pools;
    use mesh_api::snapshot::Cluster;

    const BASE: Duration = Duration::from_secs(30);
    const INTERVAL: Duration = Duration::from_secs(10);

    /// A cluster of `n` endpoints with `outlierDetection: {od}` (a YAML flow mapping).
    fn cluster(n: usize, od: &str) -> ClusterState {
        let eps: Vec<String> = (0..n)
            .map(|i| format!("{{address: \"127.0.0.1:{}\"}}", 10_000 + i))
            .collect();
        let yaml = format!(
            "name: c\nendpoints: [{}]\nloadBalancer: {{simple: ROUND_ROBIN}}\noutlierDetection: {od}\n",
            eps.join(", ")
        );
        let cfg: Cluster = serde_saphyr::from_str(&yaml).expect("test cluster parses");
        ClusterState::new(&cfg, &Pools::new(None), &Metrics::new())
    }

    /// Threshold 3, interval 10 s, base ejection 30 s, every endpoint may be ejected.
    fn three_strikes(n: usize) -> ClusterState {
        cluster(
            n,
            "{consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}",
        )
    }

    /// A start instant no earlier than the module's epoch (which another test may have set
    /// just now): instants before it would all read as the same millisecond.
    fn start() -> Instant {
        epoch();
        Instant::now()
    }

    /// Reports `n` failures of endpoint `i` at `at`; true when one of them ejected it.
    fn fail(c: &ClusterState, i: usize, n: u32, at: Instant) -> bool {
        (0..n).fold(false, |ejected, _| {
            c.report(&c.endpoints[i], Outcome::Failure, at) || ejected
        })
    }

    fn ejected(c: &ClusterState, at: Instant) -> Vec<usize> {
        (0..c.endpoints.len())
            .filter(|&i| c.endpoints[i].health.is_ejected(at))
            .collect()
    }

    /// How long endpoint `i`, ejected at `at`, stays out, to the millisecond: the first
    /// whole millisecond after `at` at which it is available again.
    fn ejection_length(c: &ClusterState, i: usize, at: Instant) -> Duration {
        let h = &c.endpoints[i].health;
        assert!(h.is_ejected(at), "endpoint {i} is ejected at the start");
        let mut lo = 0u64; // ejected at lo ms
        let mut hi = 24 * 3600 * 1000u64;
        assert!(h.is_available(at + Duration::from_millis(hi)));
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if h.is_ejected(at + Duration::from_millis(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Duration::from_millis(hi)
    }

    /// Within the millisecond the detector's clock rounds to.
    fn assert_about(got: Duration, want: Duration, what: &str) {
        let diff = got.abs_diff(want);
        assert!(
            diff <= Duration::from_millis(1),
            "{what}: {got:?}, want {want:?}"
        );
    }

    #[test]
    fn ejects_at_the_threshold_of_consecutive_failures() {
        let c = three_strikes(2);
        let t = start();
        assert!(!fail(&c, 0, 2, t), "two failures are below the threshold");
        assert!(ejected(&c, t).is_empty());
        assert!(fail(&c, 0, 1, t), "the third failure ejects");
        assert_eq!(ejected(&c, t), [0], "only the failing endpoint");
        // The load balancer skips it.
        for _ in 0..10 {
            let picked = c.pick(&Default::default(), t).expect("one endpoint left");
            assert_eq!(picked.addr, c.endpoints[1].addr);
        }
        // Failures while ejected eject nothing more.
        assert!(!fail(&c, 0, 5, t));
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let c = three_strikes(2);
        let t = start();
        fail(&c, 0, 2, t);
        assert!(!c.report(&c.endpoints[0], Outcome::Success, t));
        assert!(!fail(&c, 0, 2, t), "2 + 2 failures, but not in a row");
        assert!(ejected(&c, t).is_empty());
        assert!(fail(&c, 0, 1, t), "three in a row after the success");
    }

    #[test]
    fn zero_consecutive_errors_disables_detection() {
        let c = cluster(2, "{consecutive5xxErrors: 0, maxEjectionPercent: 100}");
        let t = start();
        assert!(!fail(&c, 0, 100, t));
        assert!(ejected(&c, t).is_empty());
    }

    #[test]
    fn an_ejected_endpoint_returns_after_the_base_ejection_time() {
        let c = three_strikes(2);
        let t = start();
        assert!(fail(&c, 0, 3, t));
        assert!(c.endpoints[0]
            .health
            .is_ejected(t + BASE - Duration::from_millis(2)));
        assert!(c.endpoints[0].health.is_available(t + BASE));
        assert_about(ejection_length(&c, 0, t), BASE, "first ejection");
        // Back with a clean count: it takes the threshold again to eject it.
        let back = t + BASE;
        assert!(!fail(&c, 0, 2, back));
        assert!(c.endpoints[0].health.is_available(back));
    }

    #[test]
    fn each_ejection_in_a_row_lasts_longer() {
        let c = three_strikes(2);
        let mut at = start();
        for times in 1..=4u32 {
            assert!(fail(&c, 0, 3, at), "ejection {times}");
            let len = ejection_length(&c, 0, at);
            assert_about(len, BASE * times, &format!("ejection {times}"));
            // It fails again as soon as it is back, before a healthy interval passes.
            at += len;
        }
    }

    #[test]
    fn each_healthy_interval_lowers_the_multiplier_by_one() {
        let c = three_strikes(2);
        let mut at = start();
        for _ in 0..3 {
            assert!(fail(&c, 0, 3, at));
            at += ejection_length(&c, 0, at);
        }
        // Multiplier 3. One healthy interval (a success reported at its end) lowers it to 2,
        // so the next ejection is the 3rd in the count: 3 x base.
        let t = at + INTERVAL;
        c.report(&c.endpoints[0], Outcome::Success, t);
        assert!(fail(&c, 0, 3, t));
        assert_about(ejection_length(&c, 0, t), BASE * 3, "after one interval");

        // Multiplier 3 again. Reports 1.5 and 3 intervals after it is back: three intervals
        // healthy in all bring it to 0, so the next ejection is the first again.
        let back = t + ejection_length(&c, 0, t);
        c.report(&c.endpoints[0], Outcome::Success, back + INTERVAL * 3 / 2);
        let t = back + INTERVAL * 3;
        c.report(&c.endpoints[0], Outcome::Success, t);
        assert!(fail(&c, 0, 3, t));
        assert_about(ejection_length(&c, 0, t), BASE, "after three intervals");

        // The multiplier does not go below zero however long the endpoint stays healthy.
        let back = t + ejection_length(&c, 0, t);
        let t = back + INTERVAL * 100;
        c.report(&c.endpoints[0], Outcome::Success, t);
        assert!(fail(&c, 0, 3, t));
        assert_about(
            ejection_length(&c, 0, t),
            BASE,
            "after a long healthy spell",
        );
    }

    #[test]
    fn time_ejected_does_not_count_as_healthy() {
        let c = three_strikes(2);
        let t = start();
        assert!(fail(&c, 0, 3, t));
        // Reports while ejected (in-flight requests ending), long after several intervals.
        c.report(
            &c.endpoints[0],
            Outcome::Success,
            t + BASE - Duration::from_secs(1),
        );
        // Back and failing before one healthy interval: the second ejection is 2 x base.
        let back = t + BASE;
        let t = back + INTERVAL - Duration::from_secs(1);
        assert!(fail(&c, 0, 3, t));
        assert_about(ejection_length(&c, 0, t), BASE * 2, "second ejection");
    }

    #[test]
    fn concurrent_failures_eject_once_and_respect_the_cap() {
        // Requests end on many threads at once; the decision to eject must still be taken
        // once per endpoint, and the cap counted with every ejection made so far.
        for round in 0..500 {
            let c = std::sync::Arc::new(cluster(
                4,
                "{consecutive5xxErrors: 1, baseEjectionTime: 30s, maxEjectionPercent: 50}",
            ));
            let t = start();
            let go = std::sync::Arc::new(std::sync::Barrier::new(8));
            let threads: Vec<_> = (0..8usize)
                .map(|k| {
                    let (c, go) = (c.clone(), go.clone());
                    std::thread::spawn(move || {
                        go.wait();
                        // Threads 0..=4 fail endpoint 0 together; 5..8 endpoints 1..=3.
                        let i = k.saturating_sub(4);
                        c.report(&c.endpoints[i], Outcome::Failure, t)
                    })
                })
                .collect();
            let ejections = threads
                .into_iter()
                .map(|th| th.join().expect("reporter thread"))
                .filter(|&e| e)
                .count();
            let out = ejected(&c, t);
            assert!(out.len() <= 2, "round {round}: over the cap: {out:?}");
            assert_eq!(ejections, out.len(), "round {round}: one ejection each");
            assert_about(ejection_length(&c, out[0], t), BASE, "a single ejection");
        }
    }

    #[test]
    fn max_ejection_percent_caps_the_ejected_share() {
        let c = cluster(
            4,
            "{consecutive5xxErrors: 1, baseEjectionTime: 30s, maxEjectionPercent: 50}",
        );
        let t = start();
        assert!(fail(&c, 0, 1, t));
        assert!(fail(&c, 1, 1, t));
        assert!(!fail(&c, 2, 10, t), "a third of four is over 50%");
        assert_eq!(ejected(&c, t), [0, 1]);
        assert!(c.pick(&Default::default(), t).is_some());
        // When an ejection ends, the endpoint still failing may take its place.
        let later = t + BASE;
        assert!(fail(&c, 2, 1, later));
        assert_eq!(ejected(&c, later), [2]);
    }

    #[test]
    fn max_ejection_percent_rounds_down() {
        // 3 x 50% = 1.5: one endpoint, as Envoy (ejecting a second would be 66%).
        let c = cluster(3, "{consecutive5xxErrors: 1, maxEjectionPercent: 50}");
        let t = start();
        assert!(fail(&c, 0, 1, t));
        assert!(!fail(&c, 1, 1, t));
        assert!(!fail(&c, 2, 1, t));
        assert_eq!(ejected(&c, t), [0]);
    }

    #[test]
    fn one_endpoint_may_be_ejected_whenever_the_percent_is_above_zero() {
        // 10% of 3 endpoints is 0.3: still one may go (Envoy's rule).
        let c = cluster(3, "{consecutive5xxErrors: 1, maxEjectionPercent: 10}");
        let t = start();
        assert!(fail(&c, 1, 1, t));
        assert!(!fail(&c, 0, 1, t));
        assert_eq!(ejected(&c, t), [1]);
        // A cluster of one may lose its only endpoint.
        let c = cluster(1, "{consecutive5xxErrors: 1, maxEjectionPercent: 1}");
        assert!(fail(&c, 0, 1, t));
        assert!(c.pick(&Default::default(), t).is_none());
        // 0% ejects nothing.
        let c = cluster(3, "{consecutive5xxErrors: 1, maxEjectionPercent: 0}");
        assert!(!fail(&c, 0, 5, t));
        assert!(ejected(&c, t).is_empty());
    }
}
