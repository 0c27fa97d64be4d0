//! DestinationRule traffic policy for one cluster, with Istio's precedence: the rule's
//! top-level policy, overridden by its `portLevelSettings` for the port, overridden by the
//! subset's own policy (itself with its port-level settings). As in Istio, each of
//! `loadBalancer`, `connectionPool` and `outlierDetection` is replaced whole by the more
//! specific layer that sets it, not merged field by field.

use mesh_api::istio::destination_rule::Subset;
use mesh_api::istio::traffic_policy as tp;
use mesh_api::istio::{DestinationRule, Resource};
use mesh_api::snapshot::{
    ConnectionPool, ConsistentHash, HttpCookie, HttpSettings, LoadBalancer, OutlierDetection,
    SimpleLb, TcpSettings,
};
use mesh_api::Duration;

use super::Warnings;

/// The fields of a traffic policy the proxy applies, after precedence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effective {
    pub load_balancer: LoadBalancer,
    pub connection_pool: ConnectionPool,
    pub outlier_detection: Option<OutlierDetection>,
}

/// The chosen settings before translation (Istio's types).
#[derive(Clone, Debug, Default)]
struct Layers<'a> {
    lb: Option<&'a tp::LoadBalancerSettings>,
    pool: Option<&'a tp::ConnectionPoolSettings>,
    outlier: Option<&'a tp::OutlierDetection>,
}

impl<'a> Layers<'a> {
    fn apply_policy(&mut self, p: &'a tp::TrafficPolicy, port: u16) {
        self.apply(
            p.load_balancer.as_ref(),
            p.connection_pool.as_ref(),
            p.outlier_detection.as_ref(),
        );
        let port_level = p
            .port_level_settings
            .iter()
            .find(|s| s.port.as_ref().is_some_and(|s| s.number == u32::from(port)));
        if let Some(s) = port_level {
            self.apply(
                s.load_balancer.as_ref(),
                s.connection_pool.as_ref(),
                s.outlier_detection.as_ref(),
            );
        }
    }

    fn apply(
        &mut self,
        lb: Option<&'a tp::LoadBalancerSettings>,
        pool: Option<&'a tp::ConnectionPoolSettings>,
        outlier: Option<&'a tp::OutlierDetection>,
    ) {
        self.lb = lb.or(self.lb);
        self.pool = pool.or(self.pool);
        self.outlier = outlier.or(self.outlier);
    }
}

/// The effective policy of `dr` (written as `r`) for `port` and `subset`.
pub(crate) fn effective(
    r: &Resource,
    dr: &DestinationRule,
    subset: Option<&Subset>,
    port: u16,
    warnings: &mut Warnings,
) -> Effective {
    let mut layers = Layers::default();
    if let Some(p) = &dr.spec.traffic_policy {
        layers.apply_policy(p, port);
    }
    if let Some(p) = subset.and_then(|s| s.traffic_policy.as_ref()) {
        layers.apply_policy(p, port);
    }
    Effective {
        load_balancer: layers
            .lb
            .map(|lb| load_balancer(r, lb, warnings))
            .unwrap_or_default(),
        connection_pool: layers.pool.map(connection_pool).unwrap_or_default(),
        outlier_detection: layers.outlier.map(outlier_detection),
    }
}

fn load_balancer(r: &Resource, lb: &tp::LoadBalancerSettings, w: &mut Warnings) -> LoadBalancer {
    if let Some(h) = &lb.consistent_hash {
        let hash = ConsistentHash {
            http_header_name: h.http_header_name.clone(),
            http_cookie: h.http_cookie.as_ref().map(|c| HttpCookie {
                name: c.name.clone(),
                path: c.path.clone(),
                ttl: c.ttl,
            }),
            use_source_ip: h.use_source_ip.unwrap_or(false),
            http_query_parameter_name: h.http_query_parameter_name.clone(),
        };
        let keys = usize::from(hash.http_header_name.is_some())
            + usize::from(hash.http_cookie.is_some())
            + usize::from(hash.use_source_ip)
            + usize::from(hash.http_query_parameter_name.is_some());
        if keys == 1 {
            return LoadBalancer {
                simple: None,
                consistent_hash: Some(hash),
            };
        }
        w.push(
            r,
            "spec.trafficPolicy.loadBalancer.consistentHash".into(),
            "set exactly one hash key (httpHeaderName, httpCookie, useSourceIp, \
             httpQueryParameterName); the default load balancer is used instead"
                .into(),
        );
        return LoadBalancer::default();
    }
    let simple = lb.simple.map(|s| match s {
        tp::SimpleLb::RoundRobin => SimpleLb::RoundRobin,
        tp::SimpleLb::Random => SimpleLb::Random,
        tp::SimpleLb::Passthrough => SimpleLb::Passthrough,
        // Istio's default, and what LEAST_CONN has long meant.
        tp::SimpleLb::Unspecified | tp::SimpleLb::LeastConn | tp::SimpleLb::LeastRequest => {
            SimpleLb::LeastRequest
        }
    });
    LoadBalancer {
        simple,
        consistent_hash: None,
    }
}

/// Negative limits are invalid in Istio; they are treated as unset.
fn limit(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn connection_pool(p: &tp::ConnectionPoolSettings) -> ConnectionPool {
    let tcp = p
        .tcp
        .as_ref()
        .map_or_else(TcpSettings::default, |t| TcpSettings {
            max_connections: limit(t.max_connections),
            connect_timeout: t.connect_timeout,
        });
    let http = p
        .http
        .as_ref()
        .map_or_else(HttpSettings::default, |h| HttpSettings {
            http1_max_pending_requests: limit(h.http1_max_pending_requests),
            http2_max_requests: limit(h.http2_max_requests),
            max_requests_per_connection: limit(h.max_requests_per_connection),
            idle_timeout: h.idle_timeout,
        });
    ConnectionPool { tcp, http }
}

/// Istio's defaults: 5 consecutive 5xx, 10 s interval, 30 s base ejection, 10 % at most.
fn outlier_detection(o: &tp::OutlierDetection) -> OutlierDetection {
    let pos = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    OutlierDetection {
        consecutive5xx_errors: pos(o.consecutive_5xx_errors)
            .or(pos(o.consecutive_errors))
            .unwrap_or(5),
        interval: o
            .interval
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(10)),
        base_ejection_time: o.base_ejection_time.unwrap_or(Duration::from_secs(30)),
        max_ejection_percent: pos(o.max_ejection_percent).unwrap_or(10).min(100),
    }
}
