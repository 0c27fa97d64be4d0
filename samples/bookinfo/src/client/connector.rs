//! The client's connector: dials the explicit HTTP proxy when one applies to the
//! destination (`HTTP_PROXY` minus `NO_PROXY`), the destination itself otherwise, and tells
//! hyper which, so that proxied requests go out in absolute form (`GET http://reviews:9080/..`)
//! — what the local platform's sidecar reads the destination from.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::env::ProxySettings;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Dials the destination, or the proxy that applies to it.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    proxy: Option<Arc<Matcher>>,
}

impl fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("proxied", &self.proxy.is_some())
            .finish()
    }
}

impl ProxyConnector {
    pub fn new(settings: &ProxySettings) -> ProxyConnector {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let proxy = settings.http_proxy.as_ref().map(|authority| {
            Arc::new(
                Matcher::builder()
                    .http(format!("http://{authority}"))
                    .no(settings.no_proxy.clone())
                    .build(),
            )
        });
        ProxyConnector { http, proxy }
    }

    /// The proxy a request for `dst` goes through, if any.
    pub fn proxy_for(&self, dst: &Uri) -> Option<Uri> {
        let matcher = self.proxy.as_ref()?;
        matcher.intercept(dst).map(|i| i.uri().clone())
    }
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let via = self.proxy_for(&dst);
        let mut http = self.http.clone();
        Box::pin(async move {
            let proxied = via.is_some();
            let target = via.unwrap_or(dst);
            let io = http.call(target.clone()).await.map_err(|e| -> BoxError {
                let what = if proxied { "the HTTP proxy " } else { "" };
                format!("cannot connect to {what}{target}: {e}").into()
            })?;
            Ok(Conn { io, proxied })
        })
    }
}

pin_project_lite::pin_project! {
    /// A TCP connection that knows whether it leads to a proxy.
    #[derive(Debug)]
    pub struct Conn {
        #[pin]
        io: TokioIo<TcpStream>,
        proxied: bool,
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(proxy: &str, no: &str) -> ProxyConnector {
        ProxyConnector::new(&ProxySettings {
            http_proxy: Some(proxy.parse().expect("authority")),
            no_proxy: no.to_string(),
        })
    }

    #[test]
    fn proxy_applies_unless_no_proxy_says_otherwise() {
        let c = connector("127.0.0.1:15001", "localhost, .internal");
        let via = |u: &str| c.proxy_for(&u.parse().expect("uri")).map(|u| u.to_string());
        assert_eq!(
            via("http://reviews:9080/reviews/0"),
            Some("http://127.0.0.1:15001/".into())
        );
        assert_eq!(via("http://localhost:9080/"), None);
        assert_eq!(via("http://db.internal:9080/"), None);
        let none = ProxyConnector::new(&ProxySettings::default());
        assert_eq!(
            none.proxy_for(&"http://reviews:9080/".parse().expect("uri")),
            None
        );
    }
}
