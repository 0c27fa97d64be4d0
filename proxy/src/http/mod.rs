//! The HTTP data path: serving downstream connections and the per-request pipeline.

pub mod body;
pub mod fault;
pub mod forward;
pub mod handler;
pub mod headers;
pub mod local;
mod mirror;
pub mod passthrough;
pub mod replay;
pub mod retry;
pub mod server;
pub mod tx;
pub mod upgrade;

pub use handler::{ConnInfo, ListenerCtx};
