//! One request's record: who called whom, what happened, how long it took. It is completed
//! when the response body ends (or the downstream goes away) and then feeds the metrics and
//! the access log. It also carries the guards (pooled connection, circuit-breaker permit,
//! in-flight count) that must live exactly as long as the response body.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{Method, Response, StatusCode};

use super::body::{Finishing, OnComplete, ProxyBody};
use crate::access_log::Entry;
use crate::cluster::{ActiveGuard, RequestPermit};
use crate::metrics::{HttpKey, HttpSample, Peer, Reporter, ResponseFlags, SecurityPolicy};
use crate::runtime::Shared;
use crate::upstream::pool::PooledConn;

/// Guards released when the response body is done.
#[derive(Debug, Default)]
pub struct Guards {
    pub conn: Option<PooledConn>,
    pub permit: Option<RequestPermit>,
    pub active: Option<ActiveGuard>,
}

/// What the access log needs beyond the metric labels; only built when logging is on.
#[derive(Debug)]
pub struct LogInfo {
    pub start_time: SystemTime,
    pub method: Method,
    pub path: String,
    pub authority: String,
    pub protocol: &'static str,
    pub request_id: String,
    pub user_agent: String,
    pub downstream: SocketAddr,
    pub traceparent: String,
    /// Envoy's `response_code_details` when it says more than the code (RBAC denials).
    pub details: String,
}

#[derive(Debug)]
pub struct Tx {
    pub shared: Arc<Shared>,
    pub start: Instant,
    pub reporter: Reporter,
    pub source: Arc<Peer>,
    pub destination: Arc<Peer>,
    pub security: SecurityPolicy,
    pub flags: ResponseFlags,
    pub code: u16,
    pub request_bytes: Arc<AtomicU64>,
    pub cluster: Option<Arc<str>>,
    pub upstream: Option<SocketAddr>,
    pub route: Option<Arc<str>>,
    pub log: Option<Box<LogInfo>>,
    pub guards: Guards,
}

impl Tx {
    /// Hands the response to the downstream; the record completes when its body ends.
    pub fn finish<B>(mut self, resp: Response<B>) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<super::body::BoxError>,
    {
        self.code = resp.status().as_u16();
        resp.map(|b| super::body::boxed(Finishing::new(b, Box::new(self))))
    }

    pub fn finish_local(
        mut self,
        status: StatusCode,
        flags: ResponseFlags,
        text: &'static str,
    ) -> Response<ProxyBody> {
        self.flags |= flags;
        self.finish(super::local::reply(status, text))
    }
}

impl OnComplete for Tx {
    fn complete(mut self: Box<Self>, bytes: u64, finished: bool) {
        if !finished && self.code != 101 {
            self.flags |= ResponseFlags::DC;
        }
        let duration = self.start.elapsed();
        let sample = HttpSample {
            key: HttpKey {
                reporter: self.reporter,
                source: self.source.id,
                destination: self.destination.id,
                code: self.code,
                flags: self.flags,
                security: self.security,
            },
            duration,
            request_bytes: self.request_bytes.load(Ordering::Relaxed),
            response_bytes: bytes,
        };
        self.shared.metrics.record_http(&sample);
        if let (Some(log), Some(info)) = (&self.shared.access_log, self.log.take()) {
            log.write(Entry {
                info: *info,
                code: self.code,
                flags: self.flags,
                duration_ms: duration.as_secs_f64() * 1000.0,
                bytes_received: sample.request_bytes,
                bytes_sent: bytes,
                upstream_host: self.upstream,
                upstream_cluster: self.cluster.clone(),
                route_name: self.route.clone(),
                reporter: self.reporter,
            });
        }
        // Guards drop here: the pooled connection returns, permits are released.
    }
}
