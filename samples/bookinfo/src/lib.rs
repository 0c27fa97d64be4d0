//! Bookinfo, Istio's sample application, in Rust: productpage, details, reviews (v1, v2,
//! v3) and ratings, each a subcommand of one small binary.
//!
//! Behaviour, URLs, JSON documents and page text follow Istio's implementation, so Istio's
//! tasks (request routing, fault injection, traffic shifting) play out the same way. The
//! services find each other by name through `HTTP_PROXY` (the local platform's sidecar) or
//! through the `*_HOSTNAME`/`*_SERVICE_PORT` variables without a mesh ([`env`]).

pub mod cli;
pub mod client;
pub mod details;
pub mod env;
pub mod headers;
pub mod productpage;
pub mod ratings;
pub mod reviews;
pub mod server;

use std::future::Future;
use std::sync::Arc;

use cli::{Service, Version};
use env::Settings;

/// What a service's handlers share.
#[derive(Debug)]
pub struct ServiceCtx {
    pub settings: Settings,
    pub version: Version,
    pub client: client::Client,
    /// Posted ratings (the ratings service only).
    pub ratings: ratings::Store,
}

/// Runs `service` on its `--listen` address until `stop` completes. Fails when the address
/// cannot be bound.
pub async fn run(
    service: &Service,
    settings: Settings,
    stop: impl Future<Output = ()>,
) -> Result<(), std::io::Error> {
    let args = service.args();
    let listener = server::bind(args.listen).await?;
    let ctx = Arc::new(ServiceCtx {
        client: client::Client::new(&settings.proxy),
        settings,
        version: args.version,
        ratings: ratings::Store::default(),
    });
    let name = service.name();
    tracing::info!(
        service = name,
        version = args.version.as_str(),
        listen = %args.listen,
        instance = %ctx.settings.instance,
        "serving"
    );
    match service {
        Service::Productpage(_) => {
            server::serve(
                listener,
                name,
                move |r| productpage::handle(ctx.clone(), r),
                stop,
            )
            .await
        }
        Service::Details(_) => {
            server::serve(
                listener,
                name,
                move |r| details::handle(ctx.clone(), r),
                stop,
            )
            .await
        }
        Service::Reviews(_) => {
            server::serve(
                listener,
                name,
                move |r| reviews::handle(ctx.clone(), r),
                stop,
            )
            .await
        }
        Service::Ratings(_) => {
            server::serve(
                listener,
                name,
                move |r| ratings::handle(ctx.clone(), r),
                stop,
            )
            .await
        }
    }
    Ok(())
}
