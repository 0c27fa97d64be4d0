//! A lock-free fixed-bucket histogram.

use std::sync::atomic::{AtomicU64, Ordering};

/// Istio's bucket bounds for `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS_MS: &[f64] = &[
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Istio's bucket bounds for `istio_request_bytes` / `istio_response_bytes`.
pub const BYTES_BUCKETS: &[f64] = &[
    1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0,
];

/// Counts per bucket (made cumulative when rendered), a count and a sum.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus +Inf.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    /// Sum in thousandths of the unit, so an integer atomic suffices.
    sum_milli: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_milli: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_milli
            .fetch_add((v * 1000.0) as u64, Ordering::Relaxed);
    }

    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Cumulative counts (+Inf last), the count and the sum.
    pub fn snapshot(&self) -> (Vec<u64>, u64, f64) {
        let mut acc = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                acc += b.load(Ordering::Relaxed);
                acc
            })
            .collect();
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_milli.load(Ordering::Relaxed) as f64 / 1000.0;
        (cumulative, count, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let h = Histogram::new(DURATION_BUCKETS_MS);
        h.observe(0.5);
        h.observe(3.0);
        h.observe(1e9);
        let (b, count, sum) = h.snapshot();
        assert_eq!(b[0], 1, "0.5 falls in le=0.5");
        assert_eq!(b[2], 2, "3 falls in le=5");
        assert_eq!(*b.last().expect("inf"), 3);
        assert_eq!(count, 3);
        assert!((sum - (1e9 + 3.5)).abs() < 1.0);
    }
}
