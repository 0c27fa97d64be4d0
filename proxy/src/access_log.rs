//! Access log as JSON lines (Envoy/Istio's JSON access-log keys), written by its own task so
//! a slow disk never slows a request. When the queue is full, entries are dropped and counted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::http::tx::LogInfo;
use crate::metrics::{Reporter, ResponseFlags};

const QUEUE: usize = 8192;

/// Where the log goes.
#[derive(Debug, Clone)]
pub enum LogTarget {
    Stdout,
    File(PathBuf),
}

impl std::str::FromStr for LogTarget {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "-" {
            LogTarget::Stdout
        } else {
            LogTarget::File(s.into())
        })
    }
}

#[derive(Debug)]
pub struct Entry {
    pub info: LogInfo,
    pub code: u16,
    pub flags: ResponseFlags,
    pub duration_ms: f64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub upstream_host: Option<SocketAddr>,
    pub upstream_cluster: Option<Arc<str>>,
    pub route_name: Option<Arc<str>>,
    pub reporter: Reporter,
}

#[derive(Serialize)]
struct Line<'a> {
    start_time: String,
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    response_code: u16,
    response_flags: String,
    bytes_received: u64,
    bytes_sent: u64,
    duration: u64,
    upstream_host: Option<String>,
    upstream_cluster: Option<&'a str>,
    route_name: Option<&'a str>,
    authority: &'a str,
    user_agent: &'a str,
    request_id: &'a str,
    downstream_remote_address: String,
    traceparent: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    response_code_details: &'a str,
    reporter: &'a str,
}

#[derive(Debug)]
pub struct AccessLog {
    tx: mpsc::Sender<Entry>,
    pub dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Opens the target and starts the writer task.
    pub fn start(target: &LogTarget) -> std::io::Result<AccessLog> {
        let mut out: Box<dyn Write + Send> = match target {
            LogTarget::Stdout => Box::new(std::io::stdout()),
            LogTarget::File(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
        };
        let (tx, mut rx) = mpsc::channel::<Entry>(QUEUE);
        // A blocking thread: file writes block, and this keeps them off the async workers.
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || {
                let mut buf = Vec::with_capacity(64 * 1024);
                while let Some(e) = rx.blocking_recv() {
                    write_line(&mut buf, &e);
                    while let Ok(e) = rx.try_recv() {
                        write_line(&mut buf, &e);
                    }
                    if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                        // The log is best effort; requests go on.
                    }
                    buf.clear();
                }
            })?;
        Ok(AccessLog {
            tx,
            dropped: Arc::default(),
        })
    }

    pub fn write(&self, e: Entry) {
        if self.tx.try_send(e).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn write_line(buf: &mut Vec<u8>, e: &Entry) {
    let start: chrono_lite::Rfc3339 = e.info.start_time.into();
    let line = Line {
        start_time: start.0,
        method: e.info.method.as_str(),
        path: &e.info.path,
        protocol: e.info.protocol,
        response_code: e.code,
        response_flags: e.flags.to_string(),
        bytes_received: e.bytes_received,
        bytes_sent: e.bytes_sent,
        duration: e.duration_ms.round() as u64,
        upstream_host: e.upstream_host.map(|a| a.to_string()),
        upstream_cluster: e.upstream_cluster.as_deref(),
        route_name: e.route_name.as_deref(),
        authority: &e.info.authority,
        user_agent: &e.info.user_agent,
        request_id: &e.info.request_id,
        downstream_remote_address: e.info.downstream.to_string(),
        traceparent: &e.info.traceparent,
        response_code_details: &e.info.details,
        reporter: e.reporter.as_str(),
    };
    if serde_json::to_writer(&mut *buf, &line).is_ok() {
        buf.push(b'\n');
    }
}

/// RFC 3339 UTC timestamps without a date-time dependency.
mod chrono_lite {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub struct Rfc3339(pub String);

    impl From<SystemTime> for Rfc3339 {
        fn from(t: SystemTime) -> Self {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            let secs = d.as_secs() as i64;
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            // Civil-from-days (Howard Hinnant's algorithm).
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z.rem_euclid(146_097);
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let day = doy - (153 * mp + 2) / 5 + 1;
            let month = if mp < 10 { mp + 3 } else { mp - 9 };
            let year = yoe + era * 400 + i64::from(month <= 2);
            Rfc3339(format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60,
                d.subsec_millis()
            ))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;

        #[test]
        fn formats_known_instants() {
            let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
            assert_eq!(Rfc3339::from(t).0, "2023-11-14T22:13:20.123Z");
            assert_eq!(Rfc3339::from(UNIX_EPOCH).0, "1970-01-01T00:00:00.000Z");
        }
    }
}
