//! mesh-tui: meshctl's live terminal dashboard, drawn from the control plane's telemetry API
//! (`GET /api/v1/mesh` on the monitoring port, 15014).
//!
//! Six views: Topology, Services, (service) Detail, Proxies, Config, Events. The crate is a
//! library: `meshctl tui dashboard` calls [`run()`](fn@run) with [`DashboardOptions`].
//!
//! - [`model`]: the API's JSON as serde types, and the [`Snapshot`] one fetch produces.
//! - [`source`]: the [`Source`] trait, its HTTP implementation, and the fetch loop.
//! - [`services`], [`graph`]: workloads to services; the Topology's columns by call depth.
//! - [`app`]: the state and `update(msg)`; no IO.
//! - [`ui`]: drawing (one module per view) and mouse hit tests.
//! - [`run`](mod@run): the terminal, the tasks, the loop.
//! - [`bench`](mod@bench): rendering timed over synthetic meshes (`bench/run tui`).
//! - [`synthetic`]: those meshes, also used by tests.

pub mod app;
pub mod bench;
pub mod graph;
pub mod model;
pub mod run;
pub mod services;
pub mod source;
pub mod synthetic;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod ui;

pub use app::{App, AppOptions, View};
pub use model::{Snapshot, Window};
pub use run::{run, DashboardError, DashboardOptions};
pub use source::{FetchError, HttpSource, Source};
