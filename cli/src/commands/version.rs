//! `meshctl version`: this client's version, and the running control plane's (from its
//! monitoring port's `GET /version`) when one is installed.

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::client::ApiClient;
use crate::output::{print_data, Format, OutputArgs};
use crate::platform::Platform;

const EXAMPLES: &str = "\
Examples:
  meshctl version
  meshctl version -o json";

/// `meshctl version`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Versions {
    client_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane_address: Option<String>,
    /// Why there is no control plane version.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<String>,
}

/// Runs `meshctl version`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let mut v = Versions {
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        control_plane_version: None,
        control_plane_address: None,
        control_plane: None,
    };
    match super::platform(g, super::API_TIMEOUT)?.control_plane() {
        Err(e) => v.control_plane = Some(e.to_string()),
        Ok(addr) => {
            v.control_plane_address = Some(addr.to_string());
            let reply = ApiClient::new(addr, std::time::Duration::from_secs(5))
                .get("/version")
                .await;
            match reply {
                Ok(r) if r.status.is_success() => {
                    let parsed: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
                    v.control_plane_version = parsed
                        .as_ref()
                        .and_then(|j| j.get("version"))
                        .and_then(|s| s.as_str())
                        .map(String::from);
                    if v.control_plane_version.is_none() {
                        v.control_plane =
                            Some(format!("unexpected /version answer: {}", r.body.trim()));
                    }
                }
                Ok(r) => v.control_plane = Some(format!("/version answered {}", r.status)),
                Err(e) => v.control_plane = Some(e.to_string()),
            }
        }
    }
    if args.output.output != Format::Table {
        return print_data(args.output.output, &v);
    }
    crate::outln!("client version: {}", v.client_version);
    match (&v.control_plane_version, &v.control_plane_address) {
        (Some(ver), Some(addr)) => crate::outln!("control plane version: {ver} ({addr})"),
        _ => crate::outln!(
            "control plane: {}",
            v.control_plane.as_deref().unwrap_or("unknown")
        ),
    }
    Ok(())
}
