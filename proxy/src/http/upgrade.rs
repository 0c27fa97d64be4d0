//! Protocol upgrades (WebSocket): once both sides switched protocols, bytes flow both ways
//! until either closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

pub fn tunnel(downstream: OnUpgrade, upstream: OnUpgrade) {
    tokio::spawn(async move {
        let (down, up) = tokio::join!(downstream, upstream);
        match (down, up) {
            (Ok(down), Ok(up)) => {
                let mut down = TokioIo::new(down);
                let mut up = TokioIo::new(up);
                if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
                    tracing::debug!(error = %e, "upgraded connection ended with an error");
                }
            }
            (d, u) => {
                tracing::debug!(
                    downstream_ok = d.is_ok(),
                    upstream_ok = u.is_ok(),
                    "protocol upgrade failed"
                );
            }
        }
    });
}
