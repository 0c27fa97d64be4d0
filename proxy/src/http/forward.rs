//! Forwarding a routed request: pick the destination cluster, shape the request, then try
//! endpoints under the route's timeout, retry policy and the cluster's limits.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http::{request, Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use mesh_api::snapshot::{Cluster, RouteDestination, UpstreamProtocol};
use rand::Rng;

use super::body::{self, Counted, ProxyBody};
use super::replay::{Replay, REPLAY_LIMIT};
use super::retry::{Failure, RetryPolicy};
use super::tx::{Guards, Tx};
use super::{fault, headers, local, upgrade};
use crate::cluster::{ClusterState, HashKey, Outcome};
use crate::metrics::ResponseFlags;
use crate::route::CompiledRoute;
use crate::runtime::Runtime;
use crate::upstream::UpstreamError;

static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Everything `forward` needs about one routed request.
#[derive(Debug)]
pub struct Forward<'a> {
    pub tx: Tx,
    pub rt: &'a Runtime,
    pub route: &'a Arc<CompiledRoute>,
    pub authority: String,
    pub matched_prefix: Option<String>,
    pub parts: request::Parts,
    pub body: Counted<Incoming>,
    pub client_ip: IpAddr,
    pub upgrade: Option<OnUpgrade>,
}

/// The request head every attempt is built from.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) method: Method,
    pub(super) authority: Authority,
    pub(super) path: PathAndQuery,
    pub(super) headers: HeaderMap,
    pub(super) protocol: UpstreamProtocol,
}

impl Head {
    /// The request for one attempt. `last` moves the headers out instead of copying them:
    /// pass it when no further attempt can follow.
    pub(super) fn build(&mut self, body: ProxyBody, last: bool) -> Request<ProxyBody> {
        let mut req = Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.headers_mut() = if last {
            std::mem::take(&mut self.headers)
        } else {
            self.headers.clone()
        };
        match self.protocol {
            UpstreamProtocol::Http1 => {
                *req.version_mut() = Version::HTTP_11;
                *req.uri_mut() = Uri::from(self.path.clone());
            }
            UpstreamProtocol::Http2 => {
                *req.version_mut() = Version::HTTP_2;
                let mut p = http::uri::Parts::default();
                p.scheme = Some(http::uri::Scheme::HTTP);
                p.authority = Some(self.authority.clone());
                p.path_and_query = Some(self.path.clone());
                *req.uri_mut() = Uri::from_parts(p).unwrap_or_default();
            }
        }
        req
    }
}

/// How the attempts ended.
// One lives on the stack per request; boxing the large variant would allocate per request.
#[allow(clippy::large_enum_variant)]
enum Ending {
    Upstream(Response<Incoming>, Guards),
    Local(StatusCode, ResponseFlags, &'static str),
}

pub async fn forward(f: Forward<'_>) -> Response<ProxyBody> {
    let Forward {
        mut tx,
        rt,
        route,
        authority,
        matched_prefix,
        mut parts,
        body,
        client_ip,
        upgrade,
    } = f;
    let roll = match route.total_weight() {
        0 | 1 => 0,
        n => rand::rng().random_range(0..n),
    };
    let Some((cluster_name, dest)) = route.destination(roll) else {
        return tx.finish_local(
            StatusCode::SERVICE_UNAVAILABLE,
            ResponseFlags::UH,
            local::NO_HEALTHY_UPSTREAM,
        );
    };
    tx.cluster = Some(cluster_name.clone());
    let Some(cluster) = rt.clusters.get(&**cluster_name) else {
        return tx.finish_local(
            StatusCode::SERVICE_UNAVAILABLE,
            ResponseFlags::UH,
            local::NO_HEALTHY_UPSTREAM,
        );
    };

    let (head, set_cookie, key) = match shape(
        &mut parts,
        route,
        dest,
        cluster,
        &authority,
        matched_prefix.as_deref(),
        client_ip,
        upgrade.is_some(),
    ) {
        Ok(v) => v,
        Err(()) => {
            return tx.finish_local(
                StatusCode::BAD_REQUEST,
                ResponseFlags::NONE,
                "invalid request URI or authority after rewrite",
            )
        }
    };

    let policy = route.retry.as_ref().filter(|_| upgrade.is_none());
    let mirror = route
        .cfg
        .mirror
        .as_ref()
        .filter(|m| fault::roll(m.percentage))
        .and_then(|m| rt.clusters.get(&m.cluster));
    let replay = if policy.is_some_and(|p| p.attempts > 0) || mirror.is_some() {
        match Replay::prepare(body, REPLAY_LIMIT).await {
            Ok(r) => r,
            Err(_) => {
                return tx.finish_local(
                    StatusCode::BAD_REQUEST,
                    ResponseFlags::DC,
                    "request body could not be read",
                )
            }
        }
    } else {
        Replay::Once(Some(body::boxed(body)))
    };
    if let (Some(mc), Some(bytes)) = (mirror, replay.bytes()) {
        super::mirror::mirror_request(mc.clone(), &head, bytes.clone());
    }

    let run = attempts(
        &mut tx,
        cluster,
        head,
        replay,
        policy,
        key,
        upgrade.is_some(),
    );
    let ending = match route
        .cfg
        .timeout
        .map(|d| d.as_std())
        .filter(|d| !d.is_zero())
    {
        Some(t) => tokio::time::timeout(t, run).await.unwrap_or(Ending::Local(
            StatusCode::GATEWAY_TIMEOUT,
            ResponseFlags::UT,
            local::TIMEOUT,
        )),
        None => run.await,
    };
    match ending {
        Ending::Local(status, flags, text) => tx.finish_local(status, flags, text),
        Ending::Upstream(mut resp, guards) => {
            tx.guards = guards;
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                if let Some(down) = upgrade {
                    upgrade::tunnel(down, hyper::upgrade::on(&mut resp));
                }
            } else {
                headers::strip_hop_by_hop(resp.headers_mut(), false);
            }
            for ops in [route.cfg.headers.as_ref(), dest.headers.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(r) = &ops.response {
                    headers::apply(r, resp.headers_mut());
                }
            }
            if let Some(c) = set_cookie {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            tx.finish(resp)
        }
    }
}

/// Rewrites and header operations, the upstream framing, and the consistent-hash key.
#[allow(clippy::too_many_arguments)]
fn shape(
    parts: &mut request::Parts,
    route: &CompiledRoute,
    dest: &RouteDestination,
    cluster: &ClusterState,
    authority: &str,
    matched_prefix: Option<&str>,
    client_ip: IpAddr,
    upgrade: bool,
) -> Result<(Head, Option<HeaderValue>, HashKey), ()> {
    let headers = &mut parts.headers;
    headers::strip_hop_by_hop(headers, upgrade);
    let original = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut path: PathAndQuery = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut authority = authority.to_string();
    if let Some(rw) = &route.cfg.rewrite {
        if let Some(uri) = &rw.uri {
            let (p, q) = original
                .split_once('?')
                .map_or((original, None), |(p, q)| (p, Some(q)));
            let rest = matched_prefix
                .and_then(|pre| p.strip_prefix(pre))
                .unwrap_or("");
            let mut new = format!("{uri}{rest}");
            if let Some(q) = q {
                new.push('?');
                new.push_str(q);
            }
            path = PathAndQuery::try_from(new).map_err(|_| ())?;
        }
        if let Some(a) = &rw.authority {
            authority = a.clone();
        }
    }
    for ops in [route.cfg.headers.as_ref(), dest.headers.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(r) = &ops.request {
            headers::apply(r, headers);
        }
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    let protocol = if upgrade {
        UpstreamProtocol::Http1
    } else {
        cluster.cfg.protocol
    };
    // One buffer for both the Host header and the upstream URI's authority: validated
    // twice, copied never.
    let authority = Bytes::from(authority);
    match protocol {
        UpstreamProtocol::Http1 => {
            headers.insert(
                header::HOST,
                HeaderValue::from_maybe_shared(authority.clone()).map_err(|_| ())?,
            );
        }
        UpstreamProtocol::Http2 => {
            headers.remove(header::HOST);
            // A request id is new on every request: HPACK's "never indexed" form keeps it out
            // of both ends' dynamic tables, where each one would evict entries that repeat
            // (authority, user-agent, ...) and make the next requests' headers longer.
            if let Some(id) = headers.get_mut(&headers::X_REQUEST_ID) {
                id.set_sensitive(true);
            }
        }
    }
    let (key, cookie) = hash_key(&cluster.cfg, headers, path.query().unwrap_or(""), client_ip);
    let head = Head {
        method: parts.method.clone(),
        authority: Authority::from_maybe_shared(authority).map_err(|_| ())?,
        path,
        headers: std::mem::take(headers),
        protocol,
    };
    Ok((head, cookie, key))
}

/// The consistent-hash key, and a `Set-Cookie` when the cookie must be created.
fn hash_key(
    c: &Cluster,
    h: &HeaderMap,
    query: &str,
    client_ip: IpAddr,
) -> (HashKey, Option<HeaderValue>) {
    let Some(ch) = &c.load_balancer.consistent_hash else {
        return (HashKey::default(), None);
    };
    if ch.use_source_ip {
        return (HashKey::of_ip(client_ip), None);
    }
    if let Some(name) = &ch.http_header_name {
        return (
            h.get(name.as_str())
                .map(|v| HashKey::of_bytes(v.as_bytes()))
                .unwrap_or_default(),
            None,
        );
    }
    if let Some(q) = &ch.http_query_parameter_name {
        return (
            crate::route::query_param(query, q)
                .map(|v| HashKey::of_bytes(v.as_bytes()))
                .unwrap_or_default(),
            None,
        );
    }
    if let Some(cookie) = &ch.http_cookie {
        let found = h
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| {
                kv.trim()
                    .strip_prefix(cookie.name.as_str())?
                    .strip_prefix('=')
            });
        if let Some(v) = found {
            return (HashKey::of_bytes(v.as_bytes()), None);
        }
        if let Some(ttl) = cookie.ttl {
            let value = format!("{:016x}", rand::rng().random::<u64>());
            let set = format!(
                "{}={}; Max-Age={}; Path={}; HttpOnly",
                cookie.name,
                value,
                ttl.as_std().as_secs(),
                cookie.path.as_deref().unwrap_or("/")
            );
            return (
                HashKey::of_bytes(value.as_bytes()),
                HeaderValue::from_str(&set).ok(),
            );
        }
    }
    (HashKey::default(), None)
}

/// Tries endpoints until one answers with a response the policy accepts.
async fn attempts(
    tx: &mut Tx,
    cluster: &Arc<ClusterState>,
    mut head: Head,
    mut replay: Replay,
    policy: Option<&RetryPolicy>,
    key: HashKey,
    upgrade: bool,
) -> Ending {
    let max_retries = policy.map_or(0, |p| p.attempts);
    let per_try = policy.and_then(|p| p.per_try_timeout);
    let mut retries = 0u32;
    let mut _retry_permit = None;
    loop {
        let Some(body) = replay.take() else {
            return Ending::Local(
                StatusCode::SERVICE_UNAVAILABLE,
                ResponseFlags::URX,
                local::RESET,
            );
        };
        let last = retries >= max_retries || !replay.is_replayable();
        let req = head.build(body, last);
        // A request holds at most one retry slot: the one for the retry in flight.
        let mut granted = None;
        let failure = match attempt(tx, cluster, req, key, per_try, upgrade).await {
            Ok((resp, guards)) => {
                let failure = Failure::Status(resp.status());
                if !policy.is_some_and(|p| p.retriable(failure)) {
                    return Ending::Upstream(resp, guards);
                }
                if retries >= max_retries || !replay.is_replayable() {
                    if retries > 0 {
                        tx.flags |= ResponseFlags::URX;
                    }
                    return Ending::Upstream(resp, guards);
                }
                _retry_permit = None;
                match cluster.limits.try_retry() {
                    Some(permit) => granted = Some(permit),
                    None => {
                        // The retry budget is spent: the upstream's own answer goes back,
                        // headers and body, as Envoy does on retry overflow.
                        if retries > 0 {
                            tx.flags |= ResponseFlags::URX;
                        }
                        return Ending::Upstream(resp, guards);
                    }
                }
                failure
            }
            Err(AttemptError::NoHealthy) => {
                return Ending::Local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ResponseFlags::UH,
                    local::NO_HEALTHY_UPSTREAM,
                )
            }
            Err(AttemptError::Overflow) => {
                tx.shared
                    .metrics
                    .upstream_overflow
                    .fetch_add(1, Ordering::Relaxed);
                return Ending::Local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ResponseFlags::UO,
                    local::OVERFLOW,
                );
            }
            Err(AttemptError::Upstream(e)) if e.is_connect_failure() => Failure::ConnectFailure,
            Err(AttemptError::Upstream(_)) => Failure::Reset,
            Err(AttemptError::PerTryTimeout) => Failure::PerTryTimeout,
        };
        let can_retry = policy.is_some_and(|p| p.retriable(failure))
            && retries < max_retries
            && replay.is_replayable();
        let permit = if granted.is_some() {
            granted
        } else if can_retry {
            _retry_permit = None;
            cluster.limits.try_retry()
        } else {
            None
        };
        let Some(permit) = permit else {
            let urx = if retries > 0 {
                ResponseFlags::URX
            } else {
                ResponseFlags::NONE
            };
            return match failure {
                Failure::ConnectFailure => Ending::Local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ResponseFlags::UF | urx,
                    local::CONNECT_FAILURE,
                ),
                Failure::Reset => Ending::Local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ResponseFlags::UC | urx,
                    local::RESET,
                ),
                Failure::PerTryTimeout => Ending::Local(
                    StatusCode::GATEWAY_TIMEOUT,
                    ResponseFlags::UT | urx,
                    local::TIMEOUT,
                ),
                // Statuses got their retry slot (or went back as they were) above.
                Failure::Status(s) => Ending::Local(s, urx, ""),
            };
        };
        _retry_permit = Some(permit);
        retries += 1;
        tx.shared.metrics.record_retry(&cluster.name);
        tokio::time::sleep(RetryPolicy::backoff(retries)).await;
    }
}

enum AttemptError {
    NoHealthy,
    Overflow,
    Upstream(UpstreamError),
    PerTryTimeout,
}

async fn attempt(
    tx: &mut Tx,
    cluster: &Arc<ClusterState>,
    req: Request<ProxyBody>,
    key: HashKey,
    per_try: Option<Duration>,
    fresh: bool,
) -> Result<(Response<Incoming>, Guards), AttemptError> {
    let ep = cluster
        .pick(&key, Instant::now())
        .ok_or(AttemptError::NoHealthy)?
        .clone();
    // mTLS pools are HTTP/2 whatever the cluster says.
    let http1 = fresh || ep.pool.protocol() == UpstreamProtocol::Http1;
    let permit = cluster
        .limits
        .admit(http1)
        .await
        .map_err(|_| AttemptError::Overflow)?;
    let active = ep.start_request();
    tx.upstream = Some(ep.addr);
    tx.destination = ep.peer.clone();
    let send = ep.pool.send(req, fresh);
    let metrics = &tx.shared.metrics;
    let report = |outcome| {
        if cluster.report(&ep, outcome, Instant::now()) {
            metrics.record_outlier_ejection(&cluster.name);
        }
    };
    let res = match per_try {
        Some(t) => tokio::time::timeout(t, send).await.map_err(|_| {
            report(Outcome::Failure);
            AttemptError::PerTryTimeout
        })?,
        None => send.await,
    };
    match res {
        Ok((resp, conn)) => {
            report(if resp.status().is_server_error() {
                Outcome::Failure
            } else {
                Outcome::Success
            });
            tx.destination = ep.destination(metrics);
            Ok((
                resp,
                Guards {
                    conn,
                    permit: Some(permit),
                    active: Some(active),
                },
            ))
        }
        Err(e) => {
            report(Outcome::Failure);
            Err(AttemptError::Upstream(e))
        }
    }
}
