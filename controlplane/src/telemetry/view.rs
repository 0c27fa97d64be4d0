//! What the API answers: windows, nodes, edges, targets. The types are mesh-api's
//! [`mesh_api::telemetry`], which the API's readers (`meshctl stat`, the dashboard) decode
//! with; field names are part of the API (see the [module docs](super)).

pub use mesh_api::telemetry::{Edge, Node, Protocol, Reporter, TargetStatus, Topology, Window};
