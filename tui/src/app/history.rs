//! Client-side history for the Detail view's sparklines: each successful fetch appends every
//! service's inbound RPS and p99. Kept for [`HISTORY_LEN`] samples (5 minutes at one fetch a
//! second); cleared when the window changes, since values of different windows do not
//! belong on one line.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use crate::services::ServiceMap;

/// Samples kept per service.
pub const HISTORY_LEN: usize = 300;

/// One service's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub rps: VecDeque<f64>,
    /// p99 in ms; 0 while there was no traffic.
    pub p99_ms: VecDeque<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    series: HashMap<String, Series>,
    /// When each kept sample was taken (the same for every service).
    times: VecDeque<SystemTime>,
}

impl History {
    /// Appends one sample per service of `map`; services gone from the map are dropped.
    pub fn record(&mut self, map: &ServiceMap, at: SystemTime) {
        if self.times.len() == HISTORY_LEN {
            self.times.pop_front();
        }
        self.times.push_back(at);
        self.series.retain(|key, _| map.position(key).is_some());
        for s in &map.services {
            let series = self.series.entry(s.key.clone()).or_default();
            push(&mut series.rps, s.inbound.rps);
            push(&mut series.p99_ms, s.inbound.p99_ms.unwrap_or(0.0));
        }
    }

    pub fn get(&self, key: &str) -> Option<&Series> {
        self.series.get(key)
    }

    /// When the oldest kept sample was taken.
    pub fn since(&self) -> Option<SystemTime> {
        self.times.front().copied()
    }

    pub fn clear(&mut self) {
        self.series.clear();
        self.times.clear();
    }
}

fn push(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == HISTORY_LEN {
        q.pop_front();
    }
    q.push_back(v);
}
