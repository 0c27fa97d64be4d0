//! Plain TCP forwarding for non-HTTP ports, with Istio's `istio_tcp_*` metrics.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_api::snapshot::Direction;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cluster::{HashKey, Outcome};
use crate::http::{ConnInfo, ListenerCtx};
use crate::metrics::{Reporter, ResponseFlags, SecurityPolicy, TcpKey};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(
    lc: Arc<ListenerCtx>,
    mut down: TcpStream,
    info: ConnInfo,
    active: Arc<AtomicUsize>,
) {
    active.fetch_add(1, Ordering::AcqRel);
    let _active = scopeguard(active);
    let shared = &lc.shared;
    let rt = shared.config.load_full();
    let (reporter, security) = match lc.cfg.direction {
        Direction::Outbound => (Reporter::Source, SecurityPolicy::Unknown),
        Direction::Inbound => (Reporter::Destination, SecurityPolicy::None),
    };
    let source = match lc.cfg.direction {
        Direction::Outbound => rt.node.clone(),
        Direction::Inbound => shared.metrics.unknown_peer(),
    };
    let cluster = lc.cfg.cluster.as_ref().and_then(|c| rt.clusters.get(c));
    let (target, destination, ep) = match cluster {
        Some(c) => match c.pick(&HashKey::of_ip(info.peer.ip()), Instant::now()) {
            Some(ep) => (Some(ep.addr), ep.peer.clone(), Some(ep.clone())),
            None => (None, shared.metrics.unknown_peer(), None),
        },
        None => (
            info.original_dst.filter(|d| *d != info.local),
            rt.passthrough.clone(),
            None,
        ),
    };
    let mut key = TcpKey {
        reporter,
        source: source.id,
        destination: destination.id,
        flags: ResponseFlags::NONE,
        security,
    };
    let Some(target) = target else {
        key.flags = ResponseFlags::UH;
        let s = shared.metrics.tcp_series(key);
        s.opened.fetch_add(1, Ordering::Relaxed);
        s.closed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let up = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        _ => {
            if let (Some(c), Some(ep)) = (cluster, &ep) {
                c.report(ep, Outcome::Failure, Instant::now());
            }
            key.flags = ResponseFlags::UF;
            let s = shared.metrics.tcp_series(key);
            s.opened.fetch_add(1, Ordering::Relaxed);
            s.closed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = up.set_nodelay(true);
    let _ = down.set_nodelay(true);
    let series = shared.metrics.tcp_series(key);
    series.opened.fetch_add(1, Ordering::Relaxed);
    let (dr, dw) = down.split();
    let (mut ur, mut uw) = tokio::io::split(up);
    // received: downstream -> upstream; sent: upstream -> downstream (Istio's meaning).
    let _ = tokio::join!(
        copy_counting(dr, &mut uw, &series.received_bytes),
        copy_counting(&mut ur, dw, &series.sent_bytes),
    );
    series.closed.fetch_add(1, Ordering::Relaxed);
}

/// Copies until EOF, adding to `counter` as bytes flow (so long connections show live
/// traffic), then half-closes the writer.
async fn copy_counting<R, W>(mut r: R, mut w: W, counter: &AtomicU64) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return w.shutdown().await;
        }
        w.write_all(&buf[..n]).await?;
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn scopeguard(a: Arc<AtomicUsize>) -> ActiveGuard {
    ActiveGuard(a)
}
