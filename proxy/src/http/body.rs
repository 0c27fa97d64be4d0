//! Body types: one boxed body type for everything the proxy sends, a counting wrapper for
//! request bodies, and a wrapper that runs a completion hook when a response body ends.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};
use pin_project_lite::pin_project;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every request and response the proxy produces.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

pub fn empty() -> ProxyBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn boxed<B>(b: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    b.map_err(Into::into).boxed_unsync()
}

pin_project! {
    /// Counts the data bytes that pass through (request sizes for metrics).
    #[derive(Debug)]
    pub struct Counted<B> {
        #[pin]
        inner: B,
        count: Arc<AtomicU64>,
    }
}

impl<B> Counted<B> {
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        Counted { inner, count }
    }
}

impl<B: Body<Data = Bytes>> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let res = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &res {
            if let Some(d) = f.data_ref() {
                this.count.fetch_add(d.len() as u64, Ordering::Relaxed);
            }
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Called once when a response body is finished or dropped: with the bytes sent and whether
/// the body reached its end (false: the downstream went away, or the upstream broke off).
pub trait OnComplete: Send + 'static {
    fn complete(self: Box<Self>, bytes: u64, finished: bool);
}

pin_project! {
    /// Runs its [`OnComplete`] hook exactly once: at the end of the stream, on error, or on
    /// drop. Metrics, access logs and connection-pool returns hang off this hook.
    pub struct Finishing<B> {
        #[pin]
        inner: B,
        bytes: u64,
        empty: bool,
        hook: Option<Box<dyn OnComplete>>,
    }

    impl<B> PinnedDrop for Finishing<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // An empty body is never polled (hyper checks `is_end_stream` first): it finished.
            if let Some(h) = this.hook.take() {
                h.complete(*this.bytes, *this.empty);
            }
        }
    }
}

impl<B: Body> Finishing<B> {
    pub fn new(inner: B, hook: Box<dyn OnComplete>) -> Self {
        Finishing {
            empty: inner.is_end_stream(),
            inner,
            bytes: 0,
            hook: Some(hook),
        }
    }
}

impl<B> Body for Finishing<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    *this.bytes += d.len() as u64;
                }
                if this.inner.is_end_stream() {
                    if let Some(h) = this.hook.take() {
                        h.complete(*this.bytes, true);
                    }
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(h) = this.hook.take() {
                    h.complete(*this.bytes, false);
                }
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                if let Some(h) = this.hook.take() {
                    h.complete(*this.bytes, true);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
