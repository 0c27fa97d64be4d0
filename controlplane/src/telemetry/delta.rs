//! Arithmetic on series values: deltas between cumulative scrapes (with counter resets), sums
//! over a window, and Prometheus's `histogram_quantile`.

use super::model::{Http, Tcp};

/// Whether `cur` follows `prev` without a reset.
fn monotonic(prev: &[f64], cur: &[f64]) -> bool {
    prev.iter().zip(cur).all(|(p, c)| c >= p)
}

impl Http {
    fn counters(&self) -> [f64; 5] {
        [
            self.requests,
            self.duration_count,
            self.duration_sum,
            self.request_bytes,
            self.response_bytes,
        ]
    }

    /// What happened between `prev` and `self`. A counter going down means the proxy restarted:
    /// then everything in `self` is new.
    pub fn since(&self, prev: &Http) -> Http {
        let same_bounds = prev.duration.len() == self.duration.len()
            && prev
                .duration
                .iter()
                .zip(&self.duration)
                .all(|(p, c)| p.0 == c.0);
        let buckets = |h: &Http| h.duration.iter().map(|b| b.1).collect::<Vec<_>>();
        if !same_bounds
            || !monotonic(&prev.counters(), &self.counters())
            || !monotonic(&buckets(prev), &buckets(self))
        {
            return self.clone();
        }
        Http {
            requests: self.requests - prev.requests,
            duration: prev
                .duration
                .iter()
                .zip(&self.duration)
                .map(|(p, c)| (c.0, c.1 - p.1))
                .collect(),
            duration_count: self.duration_count - prev.duration_count,
            duration_sum: self.duration_sum - prev.duration_sum,
            request_bytes: self.request_bytes - prev.request_bytes,
            response_bytes: self.response_bytes - prev.response_bytes,
        }
    }

    /// Nothing happened (a delta worth not storing).
    pub fn is_zero(&self) -> bool {
        self.counters().iter().all(|v| *v == 0.0)
    }

    /// Adds `other` in (bucket bounds matched by value).
    pub fn add(&mut self, other: &Http) {
        self.requests += other.requests;
        self.duration_count += other.duration_count;
        self.duration_sum += other.duration_sum;
        self.request_bytes += other.request_bytes;
        self.response_bytes += other.response_bytes;
        for (le, c) in &other.duration {
            match self.duration.iter_mut().find(|(b, _)| b == le) {
                Some((_, mine)) => *mine += c,
                None => {
                    self.duration.push((*le, *c));
                    self.duration.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
            }
        }
    }

    /// The `q` quantile (0..=1) of the duration histogram, in milliseconds; `None` without data.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.duration)
    }
}

impl Tcp {
    fn counters(&self) -> [f64; 4] {
        [
            self.opened,
            self.closed,
            self.sent_bytes,
            self.received_bytes,
        ]
    }

    /// Like [`Http::since`].
    pub fn since(&self, prev: &Tcp) -> Tcp {
        if !monotonic(&prev.counters(), &self.counters()) {
            return self.clone();
        }
        Tcp {
            opened: self.opened - prev.opened,
            closed: self.closed - prev.closed,
            sent_bytes: self.sent_bytes - prev.sent_bytes,
            received_bytes: self.received_bytes - prev.received_bytes,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.counters().iter().all(|v| *v == 0.0)
    }

    pub fn add(&mut self, other: &Tcp) {
        self.opened += other.opened;
        self.closed += other.closed;
        self.sent_bytes += other.sent_bytes;
        self.received_bytes += other.received_bytes;
    }
}

/// Prometheus's `histogram_quantile` over cumulative `(le, count)` buckets sorted by bound,
/// `+Inf` last: find the bucket holding rank `q * total`, interpolate linearly inside it (from 0
/// for the first bucket); a rank in `+Inf` answers the highest finite bound.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let &(last_le, total) = buckets.last()?;
    if !q.is_finite() || !(0.0..=1.0).contains(&q) || last_le != f64::INFINITY || total <= 0.0 {
        return None;
    }
    if buckets.len() < 2 {
        return None;
    }
    let rank = q * total;
    let b = buckets
        .iter()
        .position(|(_, c)| *c >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    let (end, count) = buckets[b];
    if b == 0 {
        if end <= 0.0 {
            return Some(end);
        }
        return Some(if count > 0.0 { end * rank / count } else { end });
    }
    let (start, below) = buckets[b - 1];
    let inside = count - below;
    if inside <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * (rank - below) / inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_prometheus() {
        // 10 in (0,1], 80 in (1,5], 10 in (5,10].
        let b = [
            (1.0, 10.0),
            (5.0, 90.0),
            (10.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(histogram_quantile(0.05, &b), Some(0.5));
        assert_eq!(histogram_quantile(0.5, &b), Some(1.0 + 4.0 * 40.0 / 80.0));
        assert_eq!(histogram_quantile(0.95, &b), Some(7.5));
        assert_eq!(histogram_quantile(1.0, &b), Some(10.0));
        let inf = [(1.0, 0.0), (5.0, 1.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.99, &inf), Some(5.0));
        assert_eq!(
            histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(histogram_quantile(0.5, &[]), None);
    }

    #[test]
    fn reset_makes_the_new_value_the_delta() {
        let prev = Http {
            requests: 100.0,
            ..Http::default()
        };
        let cur = Http {
            requests: 7.0,
            ..Http::default()
        };
        assert_eq!(cur.since(&prev).requests, 7.0);
        let later = Http {
            requests: 12.0,
            ..Http::default()
        };
        assert_eq!(later.since(&cur).requests, 5.0);
    }
}
