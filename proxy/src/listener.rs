//! Bound listeners: binding, accept loops, and reconciling them with a new snapshot.
//!
//! A listener is identified by its address. On reload a listener whose address stays keeps
//! its socket (no connection is refused) and picks up its new settings for new connections;
//! new addresses are bound *before* the new config is applied, so a bind failure rejects the
//! whole snapshot and nothing is half-applied; listeners gone from the snapshot stop
//! accepting while their open connections finish.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper_util::server::graceful::GracefulShutdown;
use mesh_api::snapshot::{Listener, ListenerMode, Protocol};
use socket2::{Domain, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::http::{server, ConnInfo, ListenerCtx};
use crate::runtime::Shared;
use crate::tcp;

/// Why a listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("listener {name:?}: cannot listen on {addr}: {source} (is another process using the port? change the listener address or stop it)")]
pub struct BindError {
    pub name: String,
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// Listeners are matched across reloads by address; those asking for port 0 (tests) by name.
fn key(l: &Listener) -> String {
    if l.address.port() == 0 {
        format!("name:{}", l.name)
    } else {
        format!("addr:{}", l.address)
    }
}

#[derive(Debug)]
struct Running {
    local: SocketAddr,
    cfg: watch::Sender<Arc<ListenerCtx>>,
    stop: watch::Sender<bool>,
}

/// Sockets bound for a snapshot that is not applied yet.
#[derive(Debug)]
pub struct Prepared {
    new: Vec<(Listener, TcpListener)>,
}

/// All listeners of the proxy.
#[derive(Debug)]
pub struct Listeners {
    running: HashMap<String, Running>,
    server: Arc<server::Server>,
    pub graceful: Arc<Mutex<Option<GracefulShutdown>>>,
    /// Open TCP-proxied connections, for draining.
    pub tcp_active: Arc<std::sync::atomic::AtomicUsize>,
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

impl Default for Listeners {
    fn default() -> Self {
        Listeners::new(server::HEADER_READ_TIMEOUT)
    }
}

impl Listeners {
    /// No listeners yet; HTTP connections will get `header_read_timeout` to send headers.
    pub fn new(header_read_timeout: std::time::Duration) -> Self {
        Listeners {
            running: HashMap::new(),
            server: Arc::new(server::Server::new(header_read_timeout)),
            graceful: Arc::new(Mutex::new(Some(GracefulShutdown::new()))),
            tcp_active: Arc::default(),
        }
    }

    /// Binds the addresses `wanted` adds. Nothing changes until [`Listeners::commit`].
    pub fn prepare(&self, wanted: &[Listener]) -> Result<Prepared, BindError> {
        let mut new = Vec::new();
        for l in wanted {
            if self.running.contains_key(&key(l)) {
                continue;
            }
            let sock = bind(l.address).map_err(|source| BindError {
                name: l.name.clone(),
                addr: l.address,
                source,
            })?;
            new.push((l.clone(), sock));
        }
        Ok(Prepared { new })
    }

    /// Starts what `prepared` bound, updates the listeners that stay, stops the rest.
    pub fn commit(&mut self, wanted: &[Listener], prepared: Prepared, shared: &Arc<Shared>) {
        let ctx = |l: &Listener| {
            Arc::new(ListenerCtx {
                cfg: l.clone(),
                shared: shared.clone(),
            })
        };
        let mut keep: HashMap<String, Running> = HashMap::new();
        for l in wanted {
            if let Some(r) = self.running.remove(&key(l)) {
                let _ = r.cfg.send(ctx(l));
                keep.insert(key(l), r);
            }
        }
        for (l, sock) in prepared.new {
            let local = sock.local_addr().unwrap_or(l.address);
            let (cfg_tx, cfg_rx) = watch::channel(ctx(&l));
            let (stop_tx, stop_rx) = watch::channel(false);
            tokio::spawn(accept_loop(
                sock,
                cfg_rx,
                stop_rx,
                self.server.clone(),
                self.graceful.clone(),
                self.tcp_active.clone(),
            ));
            tracing::info!(listener = %l.name, address = %local, "listening");
            keep.insert(
                key(&l),
                Running {
                    local,
                    cfg: cfg_tx,
                    stop: stop_tx,
                },
            );
        }
        for (_, r) in self.running.drain() {
            let _ = r.stop.send(true);
        }
        self.running = keep;
    }

    /// Stops accepting on every listener (drain).
    pub fn stop_all(&mut self) {
        for (_, r) in self.running.drain() {
            let _ = r.stop.send(true);
        }
    }

    /// The bound address of the listener named `name` (the real port when 0 was asked).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.running
            .values()
            .find(|r| r.cfg.borrow().cfg.name == name)
            .map(|r| r.local)
    }
}

async fn accept_loop(
    sock: TcpListener,
    cfg: watch::Receiver<Arc<ListenerCtx>>,
    mut stop: watch::Receiver<bool>,
    server: Arc<server::Server>,
    graceful: Arc<Mutex<Option<GracefulShutdown>>>,
    tcp_active: Arc<std::sync::atomic::AtomicUsize>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = sock.accept() => match r {
                Ok(v) => v,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let lc = cfg.borrow().clone();
        let info = conn_info(&stream, peer, lc.cfg.mode);
        match lc.cfg.protocol {
            Protocol::Http => {
                let watcher = match graceful.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    Some(g) => g.watcher(),
                    None => return, // draining
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(crate::tls::inbound::serve(
                    server.clone(),
                    lc,
                    stream,
                    info,
                    watcher,
                ));
            }
            Protocol::Tcp => {
                tokio::spawn(tcp::serve(lc, stream, info, tcp_active.clone()));
            }
        }
    }
}

fn conn_info(stream: &TcpStream, peer: SocketAddr, mode: ListenerMode) -> ConnInfo {
    let local = stream.local_addr().unwrap_or(peer);
    let original_dst = (mode == ListenerMode::Transparent)
        .then(|| original_dst(stream))
        .flatten();
    ConnInfo {
        peer,
        local,
        original_dst,
        peer_identity: None,
        source_peer: None,
    }
}

/// `SO_ORIGINAL_DST`: where an iptables-REDIRECTed connection was headed.
fn original_dst(stream: &TcpStream) -> Option<SocketAddr> {
    let sock = SockRef::from(stream);
    let addr = if stream.local_addr().ok()?.is_ipv4() {
        sock.original_dst_v4()
    } else {
        sock.original_dst_v6()
    };
    addr.ok()?.as_socket()
}
