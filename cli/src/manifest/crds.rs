//! The CustomResourceDefinitions of the Istio kinds meshctl understands, with OpenAPI v3
//! schemas generated from `mesh_api`'s own types: what the CRD accepts is exactly what
//! `meshctl apply` accepts (field names, enums, durations), field docs included.
//!
//! Schemas go through kube's structural rewrite (the one `#[derive(CustomResource)]` uses):
//! every subschema inlined, enums as `object`s with their variants' properties, optional
//! fields `nullable`. Served versions are Istio's (`v1`, `v1beta1`, `v1alpha3` for
//! networking; `v1`, `v1beta1` for security), all with the same schema, `v1` stored.

use kube_core::schema::{OptionalEnum, StructuralSchemaRewriter};
use mesh_api::istio::destination_rule::DestinationRuleSpec;
use mesh_api::istio::gateway::GatewaySpec;
use mesh_api::istio::resource::{NETWORKING_VERSIONS, SECURITY_VERSIONS};
use mesh_api::istio::security::{AuthorizationPolicySpec, PeerAuthenticationSpec};
use mesh_api::istio::service_entry::ServiceEntrySpec;
use mesh_api::istio::virtual_service::VirtualServiceSpec;
use mesh_api::istio::Kind;
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::kinds;

/// One CRD per kind, in [`Kind::ALL`]'s order.
pub fn all(labels: &Value) -> Vec<Value> {
    Kind::ALL.iter().map(|k| crd(*k, labels)).collect()
}

/// The `openAPIV3Schema` of `kind`: `spec` from the Rust type, `status` free-form (the
/// control plane's to write, as Istio's).
pub fn schema(kind: Kind) -> Value {
    let spec = match kind {
        Kind::VirtualService => spec_schema::<VirtualServiceSpec>(),
        Kind::DestinationRule => spec_schema::<DestinationRuleSpec>(),
        Kind::Gateway => spec_schema::<GatewaySpec>(),
        Kind::ServiceEntry => spec_schema::<ServiceEntrySpec>(),
        Kind::PeerAuthentication => spec_schema::<PeerAuthenticationSpec>(),
        Kind::AuthorizationPolicy => spec_schema::<AuthorizationPolicySpec>(),
    };
    json!({
        "type": "object",
        "properties": {
            "spec": spec,
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        },
    })
}

fn crd(kind: Kind, labels: &Value) -> Value {
    let group = kinds::group(kind);
    let plural = kinds::plural(kind);
    let versions = match group {
        "security.istio.io" => SECURITY_VERSIONS,
        _ => NETWORKING_VERSIONS,
    };
    let schema = schema(kind);
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let name = v.rsplit('/').next().unwrap_or(v);
            json!({
                "name": name,
                "served": true,
                "storage": name == "v1",
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns(kind),
            })
        })
        .collect();
    let category = format!("{}-io", group.trim_end_matches(".io").replace('.', "-"));
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}"), "labels": labels},
        "spec": {
            "group": group,
            "names": {
                "kind": kind.as_str(),
                "listKind": format!("{}List", kind.as_str()),
                "plural": plural,
                "singular": kind.as_str().to_lowercase(),
                "shortNames": [kinds::short(kind)],
                "categories": ["istio-io", category],
            },
            "scope": "Namespaced",
            "versions": versions,
        },
    })
}

/// What `kubectl get` shows, as Istio's CRDs.
fn columns(kind: Kind) -> Value {
    let age = json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"});
    let col = |name: &str, path: &str, description: &str| json!({"name": name, "type": "string", "jsonPath": path, "description": description});
    let mut out = match kind {
        Kind::VirtualService => vec![
            col(
                "Gateways",
                ".spec.gateways",
                "The gateways these routes apply to.",
            ),
            col(
                "Hosts",
                ".spec.hosts",
                "The destination hosts these routes apply to.",
            ),
        ],
        Kind::DestinationRule => vec![col(
            "Host",
            ".spec.host",
            "The service this rule applies to.",
        )],
        Kind::ServiceEntry => vec![
            col("Hosts", ".spec.hosts", "The hosts of the entry."),
            col(
                "Location",
                ".spec.location",
                "MESH_EXTERNAL or MESH_INTERNAL.",
            ),
            col("Resolution", ".spec.resolution", "How endpoints are found."),
        ],
        Kind::PeerAuthentication => vec![col("Mode", ".spec.mtls.mode", "The mutual TLS mode.")],
        Kind::AuthorizationPolicy => vec![col(
            "Action",
            ".spec.action",
            "ALLOW, DENY, AUDIT or CUSTOM.",
        )],
        Kind::Gateway => Vec::new(),
    };
    out.push(age);
    Value::Array(out)
}

/// The structural schema of `T`.
fn spec_schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(OptionalEnum)
        .with_transform(StructuralSchemaRewriter)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    tidy(&mut value);
    value
}

/// Takes out (or fills in) what Kubernetes rejects or ignores in a CRD schema: JSON Schema's
/// `$schema`, `title`; `default`s (the API server would write them into every stored object,
/// and Istio's own defaults are applied when the config is read, as `meshctl apply` does);
/// `additionalProperties: false` next to `properties` (structural schemas prune unknown
/// fields instead); the integer `format`s schemars names after Rust's types (`uint32`, ...),
/// which OpenAPI does not define. A field kept as written (`serde_json::Value`: `targetRef`,
/// `localityLbSetting`) becomes any mapping, its fields kept unpruned.
fn tidy(v: &mut Value) {
    let Value::Object(map) = v else { return };
    map.remove("$schema");
    map.remove("title");
    map.remove("default");
    if map.get("additionalProperties") == Some(&Value::Bool(false)) {
        map.remove("additionalProperties");
    }
    if let Some(Value::String(f)) = map.get("format") {
        if !matches!(f.as_str(), "int32" | "int64" | "float" | "double") {
            let f = f.clone();
            map.remove("format");
            narrow_integer(map, &f);
        }
    }
    let shaped = [
        "type",
        "properties",
        "oneOf",
        "anyOf",
        "allOf",
        "enum",
        "items",
        "required",
    ];
    if !shaped.iter().any(|k| map.contains_key(*k)) {
        map.insert("type".into(), Value::from("object"));
        map.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    // Subschemas: property schemas, items, map values, and the branches of junctions
    // (which hold only `required` after the structural rewrite: left as they are).
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        props.values_mut().for_each(tidy);
    }
    if let Some(items) = map.get_mut("items") {
        tidy(items);
    }
    if let Some(extra @ Value::Object(_)) = map.get_mut("additionalProperties") {
        tidy(extra);
    }
}

/// `uint8`/`uint16`/`uint32` become `int32`/`int64` with their range kept as bounds.
fn narrow_integer(map: &mut Map<String, Value>, format: &str) {
    let (openapi, max) = match format {
        "uint8" => ("int32", Some(u64::from(u8::MAX))),
        "uint16" => ("int32", Some(u64::from(u16::MAX))),
        "uint32" => ("int64", Some(u64::from(u32::MAX))),
        "uint64" | "uint" => ("int64", None),
        "int8" | "int16" => ("int32", None),
        _ => return,
    };
    map.insert("format".into(), Value::from(openapi));
    if let Some(max) = max {
        map.entry("maximum").or_insert(Value::from(max));
    }
}
