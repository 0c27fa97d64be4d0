//! Latency recording and percentiles, in microseconds.
//!
//! An HDR histogram keeps 3 significant digits from 1 µs to 60 s in fixed memory, so recording
//! is O(1) and percentiles are exact to within 0.1%.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies longer than this are clamped: a minute means the target is broken anyway.
const MAX_TRACKABLE_US: u64 = 60_000_000;

#[derive(Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

/// The percentiles `bench/run` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Latencies {
    pub fn new() -> anyhow::Result<Self> {
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3)
            .context("could not create the latency histogram")?;
        Ok(Latencies { histogram })
    }

    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(us.clamp(1, MAX_TRACKABLE_US));
    }

    /// Adds another recorder's samples (one per connection task) into this one.
    pub fn merge(&mut self, other: &Latencies) -> anyhow::Result<()> {
        self.histogram
            .add(&other.histogram)
            .context("could not merge latency histograms")
    }

    pub fn summary(&self) -> Summary {
        let h = &self.histogram;
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within_a_tenth_of_a_percent(actual: u64, expected: u64) -> bool {
        actual.abs_diff(expected) * 1000 <= expected
    }

    #[test]
    fn percentiles_of_a_uniform_spread() -> anyhow::Result<()> {
        let mut lat = Latencies::new()?;
        for us in 1..=10_000u64 {
            lat.record(Duration::from_micros(us));
        }
        let s = lat.summary();
        assert_eq!(s.count, 10_000);
        assert!(within_a_tenth_of_a_percent(s.p50_us, 5_000), "{s:?}");
        assert!(within_a_tenth_of_a_percent(s.p90_us, 9_000), "{s:?}");
        assert!(within_a_tenth_of_a_percent(s.p99_us, 9_900), "{s:?}");
        assert!(within_a_tenth_of_a_percent(s.max_us, 10_000), "{s:?}");
        Ok(())
    }

    #[test]
    fn merge_adds_samples_and_empty_reports_zero() -> anyhow::Result<()> {
        let mut a = Latencies::new()?;
        assert_eq!(a.summary(), Summary::default());
        let mut b = Latencies::new()?;
        for _ in 0..99 {
            a.record(Duration::from_micros(100));
        }
        b.record(Duration::from_secs(3600)); // clamped, not lost
        a.merge(&b)?;
        let s = a.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_us, 100);
        assert_eq!(s.p99_us, 100);
        assert!(within_a_tenth_of_a_percent(s.max_us, MAX_TRACKABLE_US));
        Ok(())
    }

    #[test]
    fn sub_microsecond_latencies_count_as_one() -> anyhow::Result<()> {
        let mut lat = Latencies::new()?;
        lat.record(Duration::from_nanos(10));
        assert_eq!(lat.summary().p50_us, 1);
        Ok(())
    }
}
