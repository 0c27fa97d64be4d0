//! Request bodies that retries and mirroring can send more than once.
//!
//! Bodies are streamed, never buffered whole, except for this bounded replay buffer: when a
//! route retries or mirrors, up to [`REPLAY_LIMIT`] bytes are held so the body can be sent
//! again. A larger body is streamed once (the bytes already read go first) and that request
//! is not retried or mirrored, as with Envoy's buffer limit.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, BodyStream, StreamBody};

use super::body::{self, BoxError, ProxyBody};

pub const REPLAY_LIMIT: usize = 64 * 1024;

#[derive(Debug)]
pub enum Replay {
    /// Held whole: can be sent any number of times.
    Full(Bytes),
    /// Streamed: can be sent once.
    Once(Option<ProxyBody>),
}

impl Replay {
    /// Reads up to `limit` bytes of `b` to make it replayable.
    pub async fn prepare<B>(b: B, limit: usize) -> Result<Replay, BoxError>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        if b.is_end_stream() {
            return Ok(Replay::Full(Bytes::new()));
        }
        let mut b = b;
        let mut buf = BytesMut::new();
        let mut held: Vec<Frame<Bytes>> = Vec::new();
        loop {
            match b.frame().await {
                None => return Ok(Replay::Full(buf.freeze())),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(f)) if f.is_data() => {
                    let Ok(data) = f.into_data() else { continue };
                    if buf.len() + data.len() > limit {
                        // Too large: stream what we hold, then the rest.
                        held.push(Frame::data(buf.split().freeze()));
                        held.push(Frame::data(data));
                        let rest = BodyStream::new(b.map_err(Into::into));
                        let stream =
                            futures_util::stream::iter(held.into_iter().map(Ok)).chain(rest);
                        return Ok(Replay::Once(Some(body::boxed(StreamBody::new(stream)))));
                    }
                    buf.extend_from_slice(&data);
                }
                Some(Ok(f)) => {
                    // Trailers end the body; keep them, stream once.
                    held.push(Frame::data(buf.split().freeze()));
                    held.push(f);
                    let stream =
                        futures_util::stream::iter(held.into_iter().map(Ok::<_, BoxError>));
                    return Ok(Replay::Once(Some(body::boxed(StreamBody::new(stream)))));
                }
            }
        }
    }

    pub fn is_replayable(&self) -> bool {
        matches!(self, Replay::Full(_))
    }

    /// The body for the next attempt; None when a streamed body was already sent.
    pub fn take(&mut self) -> Option<ProxyBody> {
        match self {
            Replay::Full(b) => Some(body::full(b.clone())),
            Replay::Once(b) => b.take(),
        }
    }

    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            Replay::Full(b) => Some(b),
            Replay::Once(_) => None,
        }
    }
}
