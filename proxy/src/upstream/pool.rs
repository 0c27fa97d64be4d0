//! Connection pools, one per (endpoint address, protocol, pool settings).
//!
//! HTTP/1: idle keep-alive connections in a small stack; a connection goes back to the pool
//! when its response body has been read to the end (the [`PooledConn`] guard travels with the
//! body) and is retired after `maxRequestsPerConnection` requests or `idleTimeout` idle.
//! HTTP/2 (prior knowledge, proxy to proxy): one shared connection carries every request,
//! replaced after `maxRequestsPerConnection` streams or when it closes.
//! mTLS (`tls.mode: ISTIO_MUTUAL`): TLS 1.3 + ALPN h2 with the proxy's certificate, the
//! server's SPIFFE ID checked against the expected ones; always one multiplexed HTTP/2
//! connection per peer. The expected identities are part of the pool key, so a changed
//! DestinationRule never reuses a connection verified for another identity.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh_api::snapshot::{Cluster, ClusterTlsMode, UpstreamProtocol};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::UpstreamError;
use crate::http::body::ProxyBody;
use crate::tls::TlsContext;

/// Envoy's and Istio's default connect timeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Istio's default is 1 h, but a pooled connection must be retired before the server closes
/// it, or a request written as the server closes fails (503 UC): our own inbound side closes
/// idle connections after 10 s (the header read timeout), Node.js after 5 s.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
const MAX_IDLE_PER_POOL: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    addr: SocketAddr,
    /// SPIFFE IDs the peer may prove; None: plain text.
    mtls: Option<Arc<[String]>>,
    protocol: UpstreamProtocol,
    max_requests_per_connection: u32,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

/// All pools of a proxy, shared across config reloads so connections survive them.
#[derive(Debug, Default)]
pub struct Pools {
    pools: Mutex<HashMap<PoolKey, Arc<Pool>>>,
    tls: Option<Arc<TlsContext>>,
}

/// An upstream byte stream: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// How a pool's connections are secured.
enum Security {
    Plain,
    Mutual(TlsConnector),
    /// The cluster wants mTLS but the proxy has no identity (or the config was refused).
    Unavailable(String),
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Plain => f.write_str("Plain"),
            Security::Mutual(_) => f.write_str("Mutual"),
            Security::Unavailable(why) => write!(f, "Unavailable({why})"),
        }
    }
}

impl Pools {
    /// Pools dialling mTLS clusters with `tls` (the proxy's identity), when there is one.
    pub fn new(tls: Option<Arc<TlsContext>>) -> Pools {
        Pools {
            pools: Mutex::default(),
            tls,
        }
    }

    /// The pool for endpoint `addr` of `cluster`; `principal` is the endpoint's SPIFFE ID,
    /// expected of it under ISTIO_MUTUAL unless the cluster lists `subjectAltNames`.
    pub fn get(&self, addr: SocketAddr, cluster: &Cluster, principal: &str) -> Arc<Pool> {
        let cp = &cluster.connection_pool;
        let mtls = cluster
            .tls
            .as_ref()
            .filter(|t| t.mode == ClusterTlsMode::IstioMutual)
            .map(|t| {
                if t.subject_alt_names.is_empty() {
                    Arc::from(vec![principal.to_string()])
                } else {
                    Arc::from(t.subject_alt_names.clone())
                }
            });
        let key = PoolKey {
            addr,
            // Sidecar to sidecar over mTLS is always HTTP/2 (ALPN h2), one connection per peer.
            protocol: if mtls.is_some() {
                UpstreamProtocol::Http2
            } else {
                cluster.protocol
            },
            mtls,
            max_requests_per_connection: cp.http.max_requests_per_connection.unwrap_or(0),
            connect_timeout: cp
                .tcp
                .connect_timeout
                .map(|d| d.as_std())
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            idle_timeout: cp
                .http
                .idle_timeout
                .map(|d| d.as_std())
                .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        };
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(&key) {
            return p.clone();
        }
        let security = match (&key.mtls, &self.tls) {
            (None, _) => Security::Plain,
            (Some(_), None) => Security::Unavailable(
                "the cluster's tls.mode is ISTIO_MUTUAL but this proxy has no identity \
                 (start it with --cert-chain, --key and --trust-bundle)"
                    .into(),
            ),
            (Some(ids), Some(tls)) => match tls.connector(ids.to_vec()) {
                Ok(c) => Security::Mutual(c),
                Err(e) => Security::Unavailable(e.to_string()),
            },
        };
        let pool = Arc::new(Pool {
            key: key.clone(),
            security,
            verified: arc_swap::ArcSwapOption::empty(),
            idle: Mutex::new(Vec::new()),
            h2: tokio::sync::Mutex::new(None),
        });
        pools.insert(key, pool.clone());
        pool
    }

    /// Drops pools no cluster uses any more (called after a reload).
    pub fn prune(&self) {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|_, p| Arc::strong_count(p) > 1);
    }
}

#[derive(Debug)]
pub struct Pool {
    key: PoolKey,
    security: Security,
    /// The SPIFFE ID the peer proved in the latest mTLS handshake.
    verified: arc_swap::ArcSwapOption<String>,
    idle: Mutex<Vec<IdleConn>>,
    h2: tokio::sync::Mutex<Option<H2Conn>>,
}

#[derive(Debug)]
struct IdleConn {
    tx: http1::SendRequest<ProxyBody>,
    uses: u32,
    since: Instant,
}

#[derive(Debug)]
struct H2Conn {
    tx: http2::SendRequest<ProxyBody>,
    uses: u32,
}

/// An HTTP/1 connection checked out of its pool; goes back when dropped, if reusable.
#[derive(Debug)]
pub struct PooledConn {
    tx: Option<http1::SendRequest<ProxyBody>>,
    uses: u32,
    reusable: bool,
    pool: Arc<Pool>,
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let max = self.pool.key.max_requests_per_connection;
        if !self.reusable || tx.is_closed() || (max > 0 && self.uses >= max) {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_PER_POOL {
            idle.push(IdleConn {
                tx,
                uses: self.uses,
                since: Instant::now(),
            });
        }
    }
}

impl PooledConn {
    /// Keeps this connection out of the pool (after an upgrade, or an error).
    pub fn discard(&mut self) {
        self.reusable = false;
    }
}

impl Pool {
    pub fn addr(&self) -> SocketAddr {
        self.key.addr
    }

    pub fn protocol(&self) -> UpstreamProtocol {
        self.key.protocol
    }

    /// The SPIFFE ID the peer proved in the latest mTLS handshake (None without mTLS).
    pub fn verified_peer(&self) -> Option<Arc<String>> {
        self.verified.load_full()
    }

    async fn connect(&self) -> Result<TokioIo<Box<dyn Io>>, UpstreamError> {
        if let Security::Unavailable(why) = &self.security {
            return Err(UpstreamError::Tls(why.clone()));
        }
        let stream =
            tokio::time::timeout(self.key.connect_timeout, TcpStream::connect(self.key.addr))
                .await
                .map_err(|_| UpstreamError::ConnectTimeout)?
                .map_err(UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        let Security::Mutual(connector) = &self.security else {
            return Ok(TokioIo::new(Box::new(stream)));
        };
        // The verifier checks the SPIFFE ID, not this name.
        let name = ServerName::IpAddress(self.key.addr.ip().into());
        let tls = tokio::time::timeout(self.key.connect_timeout, connector.connect(name, stream))
            .await
            .map_err(|_| UpstreamError::ConnectTimeout)?
            .map_err(|e| {
                tracing::debug!(addr = %self.key.addr, error = %e, "upstream TLS handshake failed");
                UpstreamError::Tls(e.to_string())
            })?;
        if let Some(id) = mesh_identity::tls::peer_spiffe_id(tls.get_ref().1) {
            self.verified.store(Some(Arc::new(id.spiffe_id())));
        }
        Ok(TokioIo::new(Box::new(tls)))
    }

    fn take_idle(&self) -> Option<IdleConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|c| !c.tx.is_closed() && now.duration_since(c.since) < self.key.idle_timeout);
        // Most recently used first: its socket is the least likely to have been closed.
        let pos = idle.iter().rposition(|c| c.tx.is_ready())?;
        Some(idle.swap_remove(pos))
    }

    async fn new_h1(self: &Arc<Self>) -> Result<PooledConn, UpstreamError> {
        let io = self.connect().await?;
        let (tx, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(UpstreamError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream HTTP/1 connection ended with an error");
            }
        });
        Ok(PooledConn {
            tx: Some(tx),
            uses: 0,
            reusable: true,
            pool: self.clone(),
        })
    }

    async fn h2_sender(&self) -> Result<http2::SendRequest<ProxyBody>, UpstreamError> {
        let mut slot = self.h2.lock().await;
        let max = self.key.max_requests_per_connection;
        if let Some(c) = slot.as_mut() {
            if !c.tx.is_closed() && (max == 0 || c.uses < max) {
                c.uses += 1;
                return Ok(c.tx.clone());
            }
        }
        // Boxed: dialling (TCP, TLS, the HTTP/2 handshake) is rare, and its state would
        // otherwise make every request's future kilobytes larger, copied at each spawn.
        let tx = Box::pin(self.dial_h2()).await?;
        *slot = Some(H2Conn {
            tx: tx.clone(),
            uses: 1,
        });
        Ok(tx)
    }

    async fn dial_h2(&self) -> Result<http2::SendRequest<ProxyBody>, UpstreamError> {
        let io = self.connect().await?;
        let (tx, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            // Fixed windows (hyper's 2 MB stream, 5 MB connection): ample between sidecars,
            // and no BDP pings.
            .adaptive_window(false)
            .handshake(io)
            .await
            .map_err(UpstreamError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream HTTP/2 connection ended with an error");
            }
        });
        Ok(tx)
    }

    /// Sends one request. For HTTP/1 the returned guard must live as long as the response
    /// body (it returns the connection to the pool when dropped). `fresh` forces a new
    /// HTTP/1 connection that will not be pooled, whatever the pool's protocol: protocol
    /// upgrades (WebSocket) travel over HTTP/1.1 between proxies too.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
        fresh: bool,
    ) -> Result<(Response<Incoming>, Option<PooledConn>), UpstreamError> {
        match self.key.protocol {
            UpstreamProtocol::Http2 if !fresh => {
                let mut tx = self.h2_sender().await?;
                let resp = tx.send_request(req).await.map_err(UpstreamError::Reset)?;
                Ok((resp, None))
            }
            _ => {
                let mut req = req;
                // A pooled connection may have been closed by the peer while idle; hyper
                // hands the request back unsent in that case and we try a new connection.
                if !fresh {
                    while let Some(idle) = self.take_idle() {
                        let mut conn = PooledConn {
                            tx: Some(idle.tx),
                            uses: idle.uses,
                            reusable: true,
                            pool: self.clone(),
                        };
                        match conn.try_send(req).await {
                            Ok(resp) => return Ok((resp, Some(conn))),
                            Err(mut e) => {
                                conn.discard();
                                match e.take_message() {
                                    Some(r) => req = r,
                                    None => return Err(UpstreamError::Reset(e.into_error())),
                                }
                            }
                        }
                    }
                }
                // Boxed, as `dial_h2`: a new connection is the rare path.
                let mut conn = Box::pin(self.new_h1()).await?;
                if fresh {
                    conn.discard();
                }
                match conn.try_send(req).await {
                    Ok(resp) => Ok((resp, Some(conn))),
                    Err(e) => {
                        conn.discard();
                        Err(UpstreamError::Reset(e.into_error()))
                    }
                }
            }
        }
    }
}

impl PooledConn {
    async fn try_send(
        &mut self,
        req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, hyper::client::conn::TrySendError<Request<ProxyBody>>> {
        let Some(tx) = self.tx.as_mut() else {
            unreachable_conn()
        };
        self.uses += 1;
        tx.try_send_request(req).await
    }
}

/// A `PooledConn` always holds its sender until dropped; `tx` is an `Option` only so `Drop`
/// can move it out.
fn unreachable_conn() -> ! {
    unreachable!("PooledConn used after drop")
}
