//! Circuit breaking by connection-pool limits (Istio's `connectionPool`).
//!
//! - `http2MaxRequests`: requests in flight to the cluster; over it, 503 at once (`UO`).
//! - `tcp.maxConnections`: HTTP/1 upstream connections busy at once. A request that finds
//!   them all busy waits as *pending*; with `http1MaxPendingRequests` already waiting it gets
//!   503 at once (`UO`). HTTP/1 carries one request per connection at a time, so busy
//!   connections equal in-flight HTTP/1 requests; idle pooled connections over the limit are
//!   closed when returned.
//!
//! Unset limits are unlimited (Envoy's defaults are effectively so: 2^32-1).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use mesh_api::snapshot::ConnectionPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Limits {
    max_requests: u32,
    max_pending: u32,
    active: Arc<AtomicU32>,
    pending: AtomicU32,
    connections: Option<Arc<Semaphore>>,
    pub max_connections: Option<u32>,
    retries: Arc<AtomicU32>,
}

/// The request was refused by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Held for the life of a request (until its response body ends).
#[derive(Debug)]
pub struct RequestPermit {
    active: Arc<AtomicU32>,
    _connection: Option<OwnedSemaphorePermit>,
}

impl Drop for RequestPermit {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    pub fn new(cfg: &ConnectionPool) -> Limits {
        Limits {
            max_requests: cfg.http.http2_max_requests.unwrap_or(u32::MAX),
            max_pending: cfg.http.http1_max_pending_requests.unwrap_or(u32::MAX),
            active: Arc::new(AtomicU32::new(0)),
            pending: AtomicU32::new(0),
            connections: cfg
                .tcp
                .max_connections
                .map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            max_connections: cfg.tcp.max_connections,
            retries: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Admits a request or refuses it with `Overflow`. `http1` requests also take a
    /// connection slot, waiting as pending when none is free.
    pub async fn admit(&self, http1: bool) -> Result<RequestPermit, Overflow> {
        let prev = self.active.fetch_add(1, Ordering::AcqRel);
        // The permit's Drop undoes the increment on every path from here on.
        let mut permit = RequestPermit {
            active: self.active.clone(),
            _connection: None,
        };
        if prev >= self.max_requests {
            return Err(Overflow);
        }
        let (true, Some(sem)) = (http1, &self.connections) else {
            return Ok(permit);
        };
        if let Ok(p) = sem.clone().try_acquire_owned() {
            permit._connection = Some(p);
            return Ok(permit);
        }
        let waiting = self.pending.fetch_add(1, Ordering::AcqRel);
        if waiting >= self.max_pending {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Overflow);
        }
        let acquired = sem.clone().acquire_owned().await;
        self.pending.fetch_sub(1, Ordering::AcqRel);
        permit._connection = Some(acquired.map_err(|_| Overflow)?);
        Ok(permit)
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }
}

/// Envoy's retry budget defaults: retries may be at most 20% of the requests in flight, with
/// a floor of 3 concurrent retries, so retries cannot multiply load on a struggling cluster.
const RETRY_BUDGET_PERCENT: u32 = 20;
const RETRY_MIN_CONCURRENCY: u32 = 3;

/// Held while a retry is in flight.
#[derive(Debug)]
pub struct RetryPermit(Arc<AtomicU32>);

impl Drop for RetryPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    /// A retry slot, or None when the retry budget is spent.
    pub fn try_retry(&self) -> Option<RetryPermit> {
        let active = self.active.load(Ordering::Relaxed);
        let allowed = (active * RETRY_BUDGET_PERCENT / 100).max(RETRY_MIN_CONCURRENCY);
        let prev = self.retries.fetch_add(1, Ordering::AcqRel);
        let permit = RetryPermit(self.retries.clone());
        (prev < allowed).then_some(permit)
    }
}
