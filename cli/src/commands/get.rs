//! `meshctl get KIND [NAME]`: stored Istio resources as a table, JSON, or YAML documents that
//! `meshctl apply -f` takes back.

use anyhow::bail;
use mesh_api::istio::Kind;
use serde::Deserialize;
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::client::ApiClient;
use crate::kinds;
use crate::output::{table, Format, OutputArgs};

const EXAMPLES: &str = "\
Examples:
  meshctl get virtualservices
  meshctl get vs reviews -o yaml
  meshctl get destinationrules -n default -o json
Kinds: VirtualService (vs), DestinationRule (dr), Gateway (gw), ServiceEntry (se),
PeerAuthentication (pa), AuthorizationPolicy (ap); plural and lower case work too.";

/// `meshctl get`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The kind, e.g. virtualservices or vs.
    #[arg(value_parser = kinds::parse)]
    pub kind: Kind,
    /// Only the resource with this name.
    pub name: Option<String>,
    /// Only this namespace (default: every namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One stored resource as `GET /apis/resources` lists it.
#[derive(Deserialize, Debug, Clone)]
pub struct Stored {
    /// `VirtualService`, ...
    pub kind: String,
    /// Never empty.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// 1 when created, +1 per change.
    pub generation: u64,
    /// The resource as stored.
    pub resource: Value,
}

/// Everything stored.
pub async fn fetch(api: &ApiClient) -> anyhow::Result<Vec<Stored>> {
    let reply = api.get("/apis/resources").await?;
    if !reply.status.is_success() {
        bail!(
            "the control plane at {} answered {}: {}",
            api.addr(),
            reply.status,
            reply.body.trim()
        );
    }
    serde_json::from_str(&reply.body)
        .map_err(|e| anyhow::anyhow!("cannot read the control plane's resource list: {e}"))
}

/// Runs `meshctl get`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let api = super::api(g)?;
    let found: Vec<Stored> = fetch(&api)
        .await?
        .into_iter()
        .filter(|s| s.kind == args.kind.as_str())
        .filter(|s| args.namespace.as_ref().is_none_or(|n| *n == s.namespace))
        .filter(|s| args.name.as_ref().is_none_or(|n| *n == s.name))
        .collect();
    let kind = args.kind.as_str();
    let where_ = args
        .namespace
        .as_ref()
        .map(|n| format!(" in namespace {n}"))
        .unwrap_or_default();
    if let Some(name) = &args.name {
        if found.is_empty() {
            bail!(
                "{kind} {name} not found{where_}; `meshctl get {}` lists them",
                kinds::plural(args.kind)
            );
        }
    }
    let resources: Vec<Value> = found.iter().map(|s| prune(s.resource.clone())).collect();
    match args.output.output {
        Format::Json => {
            let text = match (&args.name, resources.as_slice()) {
                (Some(_), [one]) => serde_json::to_string_pretty(one)?,
                _ => serde_json::to_string_pretty(&resources)?,
            };
            crate::outln!("{text}");
        }
        Format::Yaml => {
            for (i, r) in resources.iter().enumerate() {
                if i > 0 {
                    crate::outln!("---");
                }
                crate::out!("{}", serde_saphyr::to_string(r)?);
            }
        }
        Format::Table if found.is_empty() => eprintln!("No {kind} resources found{where_}."),
        Format::Table => {
            let extra = columns(args.kind);
            let mut headers = vec!["NAMESPACE", "NAME"];
            headers.extend(extra.iter().map(|(h, _)| *h));
            headers.push("GENERATION");
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|s| {
                    let mut row = vec![s.namespace.clone(), s.name.clone()];
                    row.extend(extra.iter().map(|(_, f)| f(&s.resource["spec"])));
                    row.push(s.generation.to_string());
                    row
                })
                .collect();
            crate::out!("{}", table(&headers, &rows));
        }
    }
    Ok(())
}

type Column = (&'static str, fn(&Value) -> String);

/// Kind-specific columns, as `kubectl get` shows Istio's CRDs.
fn columns(kind: Kind) -> Vec<Column> {
    match kind {
        Kind::VirtualService => vec![
            ("GATEWAYS", |s| list(&s["gateways"])),
            ("HOSTS", |s| list(&s["hosts"])),
        ],
        Kind::DestinationRule => vec![("HOST", |s| text(&s["host"]))],
        Kind::Gateway => vec![("SERVERS", |s| {
            s["servers"].as_array().map_or(0, Vec::len).to_string()
        })],
        Kind::ServiceEntry => vec![
            ("HOSTS", |s| list(&s["hosts"])),
            ("LOCATION", |s| text(&s["location"])),
        ],
        Kind::PeerAuthentication => vec![("MODE", |s| text(&s["mtls"]["mode"]))],
        Kind::AuthorizationPolicy => vec![("ACTION", |s| text(&s["action"]))],
    }
}

/// Drops what the store fills in but nobody wrote: nulls, empty lists and mappings, empty
/// strings (except string matches, where `prefix: ""` means something). The result applies
/// back unchanged (a test checks it).
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(k, v)| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    Value::String(s) => {
                        !s.is_empty() || matches!(k.as_str(), "exact" | "prefix" | "regex")
                    }
                    _ => true,
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(prune).collect()),
        other => other,
    }
}

fn list(v: &Value) -> String {
    match v.as_array() {
        Some(items) if !items.is_empty() => {
            let names: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", names.join(","))
        }
        _ => String::new(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
