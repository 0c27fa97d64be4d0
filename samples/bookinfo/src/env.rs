//! Settings read from the environment, once, at start: where the other services are, the
//! outbound HTTP proxy, and this instance's name.
//!
//! Reading is a pure function of a lookup (`&dyn Fn(&str) -> Option<String>`), so tests pass
//! a map instead of touching the process environment. Names follow Istio's Bookinfo
//! (`DETAILS_HOSTNAME`, `SERVICES_DOMAIN`, ...) and the usual proxy variables.

use std::fmt;

use http::uri::Authority;

/// A function from variable name to value.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`] (variables that are not UTF-8 count as unset).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The port every Bookinfo service listens on, as in Istio.
pub const SERVICE_PORT: u16 = 9080;

/// A problem with one environment variable.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}={value:?}: {problem}")]
pub struct EnvError {
    pub var: String,
    pub value: String,
    pub problem: String,
}

/// Where one upstream service is reached: `http://<host><.domain>:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The service name (details, reviews, ratings), for logs and messages.
    pub service: &'static str,
    pub authority: Authority,
}

impl Upstream {
    /// The service's base URL, e.g. `http://reviews:9080`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base_url())
    }
}

/// The explicit HTTP proxy outbound requests go through, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `host:port` of the proxy (from `http_proxy`, else `HTTP_PROXY`).
    pub http_proxy: Option<Authority>,
    /// `no_proxy`/`NO_PROXY`, curl's syntax: comma-separated hosts, domains, IPs or CIDRs,
    /// or `*`.
    pub no_proxy: String,
}

/// Everything a service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub details: Upstream,
    pub reviews: Upstream,
    pub ratings: Upstream,
    pub proxy: ProxySettings,
    /// The name this instance reports (reviews' `podname`): `INSTANCE_NAME`, else
    /// `HOSTNAME` (the pod name on Kubernetes), else `<service>-<version>-<pid>`.
    pub instance: String,
    /// `CLUSTER_NAME`, reported by reviews as `clustername` (Istio's multicluster demos).
    pub cluster: Option<String>,
}

impl Settings {
    /// Reads every setting; `default_instance` is used when neither `INSTANCE_NAME` nor
    /// `HOSTNAME` is set. All problems are reported, not just the first.
    pub fn read(env: Lookup<'_>, default_instance: &str) -> Result<Settings, Vec<EnvError>> {
        let mut errors = Vec::new();
        let domain = match nonempty(env, "SERVICES_DOMAIN") {
            Some(d) => format!(".{}", d.trim_start_matches('.')),
            None => String::new(),
        };
        let mut upstream = |service: &'static str, prefix: &str| {
            upstream(env, service, prefix, &domain).unwrap_or_else(|e| {
                errors.push(e);
                Upstream {
                    service,
                    authority: Authority::from_static("invalid"),
                }
            })
        };
        let details = upstream("details", "DETAILS");
        let reviews = upstream("reviews", "REVIEWS");
        let ratings = upstream("ratings", "RATINGS");
        let proxy = proxy_settings(env).unwrap_or_else(|e| {
            errors.push(e);
            ProxySettings::default()
        });
        let instance = nonempty(env, "INSTANCE_NAME")
            .or_else(|| nonempty(env, "HOSTNAME"))
            .unwrap_or_else(|| default_instance.to_string());
        let cluster = nonempty(env, "CLUSTER_NAME");
        if errors.is_empty() {
            Ok(Settings {
                details,
                reviews,
                ratings,
                proxy,
                instance,
                cluster,
            })
        } else {
            Err(errors)
        }
    }
}

fn nonempty(env: Lookup<'_>, var: &str) -> Option<String> {
    env(var).filter(|v| !v.trim().is_empty())
}

/// `<PREFIX>_HOSTNAME` (default: the service name) plus the domain, and
/// `<PREFIX>_SERVICE_PORT` (default 9080; Kubernetes sets this variable to the Service's
/// port, which is the same thing).
fn upstream(
    env: Lookup<'_>,
    service: &'static str,
    prefix: &str,
    domain: &str,
) -> Result<Upstream, EnvError> {
    let host_var = format!("{prefix}_HOSTNAME");
    let port_var = format!("{prefix}_SERVICE_PORT");
    let host = nonempty(env, &host_var).unwrap_or_else(|| service.to_string());
    let port = match nonempty(env, &port_var) {
        None => SERVICE_PORT,
        Some(p) => match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(EnvError {
                    var: port_var,
                    value: p,
                    problem: "not a port number; give a number from 1 to 65535".into(),
                })
            }
        },
    };
    let text = format!("{host}{domain}:{port}");
    let authority = text.parse::<Authority>().map_err(|_| EnvError {
        var: host_var.clone(),
        value: host.clone(),
        problem: format!("{text:?} is not a valid host; give a DNS name or an IP address"),
    })?;
    if authority.host().contains(['@', '/']) || authority.port_u16() != Some(port) {
        return Err(EnvError {
            var: host_var,
            value: host,
            problem: "give a bare host name or IP address (no scheme, port or path)".into(),
        });
    }
    Ok(Upstream { service, authority })
}

/// `http_proxy` (curl and Python's requests read the lower-case name first), else
/// `HTTP_PROXY`; `no_proxy`, else `NO_PROXY`. An empty value means unset.
fn proxy_settings(env: Lookup<'_>) -> Result<ProxySettings, EnvError> {
    let no_proxy = nonempty(env, "no_proxy")
        .or_else(|| nonempty(env, "NO_PROXY"))
        .unwrap_or_default();
    let Some((var, value)) = ["http_proxy", "HTTP_PROXY"]
        .into_iter()
        .find_map(|v| nonempty(env, v).map(|val| (v, val)))
    else {
        return Ok(ProxySettings {
            http_proxy: None,
            no_proxy,
        });
    };
    let err = |problem: &str| EnvError {
        var: var.to_string(),
        value: value.clone(),
        problem: problem.to_string(),
    };
    let trimmed = value.trim();
    let rest = match trimmed.split_once("://") {
        Some(("http" | "HTTP", rest)) => rest,
        Some(_) => {
            return Err(err(
                "only plain http:// proxies are supported; give http://HOST:PORT",
            ))
        }
        None => trimmed,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '@']) {
        return Err(err(
            "give http://HOST:PORT (no path, no user name or password)",
        ));
    }
    let authority = rest
        .parse::<Authority>()
        .map_err(|_| err("not a valid proxy address; give http://HOST:PORT"))?;
    let authority = if authority.port_u16().is_some() {
        authority
    } else {
        // A proxy URL without a port means port 80, as curl reads it.
        format!("{}:80", authority.host())
            .parse()
            .map_err(|_| err("not a valid proxy address; give http://HOST:PORT"))?
    };
    Ok(ProxySettings {
        http_proxy: Some(authority),
        no_proxy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, Vec<EnvError>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::read(&|k| map.get(k).cloned(), "reviews-v1-42")
    }

    #[test]
    fn defaults_are_istios_service_names_on_9080() {
        let s = read(&[]).expect("valid");
        assert_eq!(s.details.base_url(), "http://details:9080");
        assert_eq!(s.reviews.base_url(), "http://reviews:9080");
        assert_eq!(s.ratings.base_url(), "http://ratings:9080");
        assert_eq!(s.proxy, ProxySettings::default());
        assert_eq!(s.instance, "reviews-v1-42");
        assert_eq!(s.cluster, None);
    }

    #[test]
    fn hostnames_domain_and_ports_override() {
        let s = read(&[
            ("SERVICES_DOMAIN", "bookinfo.svc.cluster.local"),
            ("REVIEWS_HOSTNAME", "reviews-canary"),
            ("RATINGS_SERVICE_PORT", "9083"),
            ("INSTANCE_NAME", "reviews-v2-0"),
            ("HOSTNAME", "ignored"),
            ("CLUSTER_NAME", "east"),
        ])
        .expect("valid");
        assert_eq!(
            s.reviews.base_url(),
            "http://reviews-canary.bookinfo.svc.cluster.local:9080"
        );
        assert_eq!(
            s.ratings.base_url(),
            "http://ratings.bookinfo.svc.cluster.local:9083"
        );
        assert_eq!(s.instance, "reviews-v2-0");
        assert_eq!(s.cluster.as_deref(), Some("east"));
        let s = read(&[("HOSTNAME", "reviews-v3-7f9c")]).expect("valid");
        assert_eq!(s.instance, "reviews-v3-7f9c");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let errs = read(&[
            ("DETAILS_SERVICE_PORT", "tcp://10.0.0.1:9080"),
            ("REVIEWS_HOSTNAME", "http://reviews"),
            ("HTTP_PROXY", "https://proxy:3128"),
        ])
        .expect_err("invalid");
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("environment variable DETAILS_SERVICE_PORT="));
        assert!(text[1].contains("REVIEWS_HOSTNAME"), "{}", text[1]);
        assert!(text[2].contains("only plain http://"), "{}", text[2]);
    }

    #[test]
    fn proxy_forms() {
        let proxy = |v: &str| read(&[("HTTP_PROXY", v)]).map(|s| s.proxy.http_proxy);
        let want = Some("127.0.0.1:15001".parse::<Authority>().expect("authority"));
        assert_eq!(proxy("http://127.0.0.1:15001").expect("ok"), want);
        assert_eq!(proxy("http://127.0.0.1:15001/").expect("ok"), want);
        assert_eq!(proxy("127.0.0.1:15001").expect("ok"), want);
        assert_eq!(
            proxy("http://sidecar").expect("ok").map(|a| a.to_string()),
            Some("sidecar:80".into())
        );
        assert!(proxy("http://u:p@proxy:1").is_err());
        assert!(proxy("http://proxy:1/path").is_err());
        // The lower-case name wins, as in curl.
        let s = read(&[
            ("HTTP_PROXY", "a:1"),
            ("http_proxy", "b:2"),
            ("NO_PROXY", "x"),
        ])
        .expect("ok");
        assert_eq!(
            s.proxy.http_proxy.map(|a| a.to_string()),
            Some("b:2".into())
        );
        assert_eq!(s.proxy.no_proxy, "x");
        // Empty means unset.
        assert_eq!(proxy("").expect("ok"), None);
    }
}
