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

/// A request waiting for a connection slot; leaves the count when dropped.
struct Pending<'a> {
    count: &'a AtomicU32,
    waiting_before: u32,
}

impl<'a> Pending<'a> {
    fn enter(count: &'a AtomicU32) -> Self {
        let waiting_before = count.fetch_add(1, Ordering::AcqRel);
        Pending {
            count,
            waiting_before,
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
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
        // Counted as pending until this future finishes or is dropped (a route timeout or a
        // client that went away cancels it mid-wait).
        let pending = Pending::enter(&self.pending);
        if pending.waiting_before >= self.max_pending {
            return Err(Overflow);
        }
        let acquired = sem.clone().acquire_owned().await;
        drop(pending);
        permit._connection = Some(acquired.map_err(|_| Overflow)?);
        Ok(permit)
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    pub fn pending(&self) -> u32 {
        self.pending.load(Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_api::snapshot::{HttpSettings, TcpSettings};

    fn limits(max_conn: u32, max_pending: u32) -> Limits {
        Limits::new(&ConnectionPool {
            tcp: TcpSettings {
                max_connections: Some(max_conn),
                connect_timeout: None,
            },
            http: HttpSettings {
                http1_max_pending_requests: Some(max_pending),
                ..Default::default()
            },
        })
    }

    #[tokio::test]
    async fn cancelled_waiters_leave_the_pending_count() {
        let l = limits(1, 1);
        let held = l
            .admit(true)
            .await
            .expect("first request gets the connection");
        // A waiter that gives up (a timeout) must not stay counted as pending.
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(20), l.admit(true)).await;
        assert!(gave_up.is_err());
        assert_eq!(l.pending(), 0);
        assert_eq!(l.active(), 1);
        // So a new request may queue again instead of being refused.
        let l = std::sync::Arc::new(l);
        let l2 = l.clone();
        let waiter = tokio::spawn(async move { l2.admit(true).await.map(|_| ()) });
        while l.pending() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(l.admit(true).await.is_err(), "a second waiter overflows");
        drop(held);
        assert_eq!(waiter.await.expect("join"), Ok(()));
        assert_eq!((l.active(), l.pending()), (0, 0));
    }

    #[test]
    fn retry_budget_allows_three_then_twenty_percent() {
        let l = limits(1000, 1000);
        let held: Vec<_> = (0..3).map(|_| l.try_retry().expect("floor of 3")).collect();
        assert!(
            l.try_retry().is_none(),
            "budget spent with few requests in flight"
        );
        drop(held);
        assert!(l.try_retry().is_some(), "released retries free the budget");
    }
}
