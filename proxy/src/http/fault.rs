//! Fault injection (delay, abort) and the routes that answer without an upstream
//! (redirect, direct response).

use http::{header, HeaderValue, Request, Response, StatusCode};
use mesh_api::snapshot::{Fault, Route};
use rand::Rng;

use super::body::{self, ProxyBody};
use crate::metrics::ResponseFlags;

/// True with probability `percent`/100.
pub fn roll(percent: f64) -> bool {
    percent >= 100.0 || (percent > 0.0 && rand::rng().random::<f64>() * 100.0 < percent)
}

/// Applies the delay (flag DI); returns the abort status when the request is to be aborted
/// (the caller answers with flag FI).
pub async fn inject(f: &Fault, flags: &mut ResponseFlags) -> Option<StatusCode> {
    if let Some(d) = &f.delay {
        if roll(d.percentage) {
            *flags |= ResponseFlags::DI;
            tokio::time::sleep(d.fixed_delay.as_std()).await;
        }
    }
    let a = f.abort.as_ref()?;
    roll(a.percentage)
        .then(|| StatusCode::from_u16(a.http_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
}

/// A redirect or direct response, when the route has one.
pub fn direct<B>(r: &Route, req: &Request<B>, authority: &str) -> Option<Response<ProxyBody>> {
    if let Some(d) = &r.direct_response {
        let mut resp = Response::new(match &d.body {
            Some(b) => body::full(b.clone()),
            None => body::empty(),
        });
        *resp.status_mut() = StatusCode::from_u16(d.status).unwrap_or(StatusCode::OK);
        return Some(resp);
    }
    let rd = r.redirect.as_ref()?;
    let scheme = rd
        .scheme
        .as_deref()
        .or(req.uri().scheme_str())
        .unwrap_or("http");
    let host = rd.authority.as_deref().unwrap_or(authority);
    let path = match &rd.uri {
        Some(u) => u.as_str(),
        None => req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    };
    let location = format!("{scheme}://{host}{path}");
    let mut resp = Response::new(body::empty());
    *resp.status_mut() =
        StatusCode::from_u16(rd.redirect_code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Some(resp)
}
