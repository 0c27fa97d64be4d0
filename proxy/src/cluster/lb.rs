//! Load balancing: round robin, least request (power of two choices), random, and
//! consistent hash (ring hash over header, cookie, source IP or query parameter).
//!
//! Every policy skips unhealthy (ejected) endpoints; weights are honoured by round robin,
//! random and the ring (least request compares in-flight counts scaled by weight).

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mesh_api::snapshot::{self, SimpleLb};
use rand::Rng;

use super::EndpointState;

/// Ring points per unit of endpoint weight (Envoy's minimum ring is 1024 entries).
const RING_POINTS_PER_WEIGHT: u32 = 128;

/// The hash of a request's consistent-hash key; `None` (no key) falls back to random.
#[derive(Debug, Default, Clone, Copy)]
pub struct HashKey {
    pub hash: Option<u64>,
}

impl HashKey {
    pub fn of_bytes(b: &[u8]) -> HashKey {
        HashKey {
            hash: Some(hash_of(b)),
        }
    }

    pub fn of_ip(ip: IpAddr) -> HashKey {
        HashKey {
            hash: Some(hash_of(&ip)),
        }
    }
}

#[derive(Debug)]
pub enum LoadBalancer {
    RoundRobin {
        schedule: Vec<usize>,
        next: AtomicUsize,
    },
    LeastRequest,
    Random {
        cumulative: Vec<u32>,
    },
    RingHash {
        ring: Vec<(u64, usize)>,
    },
}

impl LoadBalancer {
    pub fn new(cfg: &snapshot::LoadBalancer, endpoints: &[Arc<EndpointState>]) -> LoadBalancer {
        if cfg.consistent_hash.is_some() {
            return LoadBalancer::RingHash {
                ring: build_ring(endpoints),
            };
        }
        match cfg.simple.unwrap_or_default() {
            SimpleLb::RoundRobin => LoadBalancer::RoundRobin {
                schedule: weighted_schedule(endpoints),
                next: AtomicUsize::new(0),
            },
            SimpleLb::Random => LoadBalancer::Random {
                cumulative: endpoints
                    .iter()
                    .scan(0u32, |acc, e| {
                        *acc = acc.saturating_add(e.cfg.weight.max(1));
                        Some(*acc)
                    })
                    .collect(),
            },
            // PASSTHROUGH has no meaning with a fixed endpoint list; least request is the
            // closest safe behaviour.
            SimpleLb::LeastRequest | SimpleLb::Passthrough => LoadBalancer::LeastRequest,
        }
    }

    /// Index of the chosen endpoint among `endpoints`, skipping those `healthy` rejects.
    pub fn pick(
        &self,
        endpoints: &[Arc<EndpointState>],
        key: &HashKey,
        healthy: &dyn Fn(&EndpointState) -> bool,
    ) -> Option<usize> {
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        if n == 1 {
            return healthy(&endpoints[0]).then_some(0);
        }
        match self {
            LoadBalancer::RoundRobin { schedule, next } => {
                let start = next.fetch_add(1, Ordering::Relaxed);
                (0..schedule.len())
                    .map(|k| schedule[(start + k) % schedule.len()])
                    .find(|&i| healthy(&endpoints[i]))
            }
            LoadBalancer::LeastRequest => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let load = |i: usize| {
                    let e = &endpoints[i];
                    (e.active.load(Ordering::Relaxed) as u64 + 1) * 1000
                        / u64::from(e.cfg.weight.max(1))
                };
                match (healthy(&endpoints[a]), healthy(&endpoints[b])) {
                    (true, true) => Some(if load(b) < load(a) { b } else { a }),
                    (true, false) => Some(a),
                    (false, true) => Some(b),
                    (false, false) => first_healthy_from(endpoints, a, healthy),
                }
            }
            LoadBalancer::Random { cumulative } => {
                let total = *cumulative.last()?;
                let roll = rand::rng().random_range(0..total);
                let i = cumulative.partition_point(|&c| c <= roll);
                first_healthy_from(endpoints, i, healthy)
            }
            LoadBalancer::RingHash { ring } => {
                let h = key.hash.unwrap_or_else(|| rand::rng().random());
                let start = ring.partition_point(|(p, _)| *p < h) % ring.len();
                (0..ring.len())
                    .map(|k| ring[(start + k) % ring.len()].1)
                    .find(|&i| healthy(&endpoints[i]))
            }
        }
    }
}

fn first_healthy_from(
    endpoints: &[Arc<EndpointState>],
    start: usize,
    healthy: &dyn Fn(&EndpointState) -> bool,
) -> Option<usize> {
    let n = endpoints.len();
    (0..n)
        .map(|k| (start + k) % n)
        .find(|&i| healthy(&endpoints[i]))
}

/// Interleaved weighted round robin: endpoint i appears weight_i times, spread out.
fn weighted_schedule(endpoints: &[Arc<EndpointState>]) -> Vec<usize> {
    let max_w = endpoints
        .iter()
        .map(|e| e.cfg.weight.clamp(1, 1000))
        .max()
        .unwrap_or(1);
    let mut out = Vec::new();
    for round in 0..max_w {
        for (i, e) in endpoints.iter().enumerate() {
            if round < e.cfg.weight.clamp(1, 1000) {
                out.push(i);
            }
        }
    }
    out
}

fn build_ring(endpoints: &[Arc<EndpointState>]) -> Vec<(u64, usize)> {
    let mut ring = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let points = e.cfg.weight.clamp(1, 100) * RING_POINTS_PER_WEIGHT;
        for p in 0..points {
            ring.push((hash_of(&(e.addr, p)), i));
        }
    }
    ring.sort_unstable();
    ring
}

/// A stable 64-bit hash (FNV-1a over std's Hash encoding): the same key reaches the same
/// endpoint across proxies and restarts.
fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            // Final avalanche (splitmix64) so nearby keys spread over the ring.
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    v.hash(&mut h);
    h.finish()
}
