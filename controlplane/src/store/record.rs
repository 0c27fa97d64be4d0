//! How one stored resource is written on disk: a small JSON envelope (generation,
//! revisions, source) around the resource exactly as `Resource` serializes it. JSON, not a
//! binary format, so a store file can be inspected and a record survives field additions.

use mesh_api::istio::{
    AuthorizationPolicy, DestinationRule, Gateway, Kind, PeerAuthentication, Pos, Resource,
    ServiceEntry, VirtualService,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::key::Key;
use super::types::{Source, Stored};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    generation: u64,
    created_revision: u64,
    updated_revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<RecordSource>,
    resource: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct RecordSource {
    file: String,
    line: usize,
    column: usize,
}

/// The record's JSON text.
pub(crate) fn encode(stored: &Stored) -> Result<String, serde_json::Error> {
    let record = Record {
        generation: stored.generation,
        created_revision: stored.created_revision,
        updated_revision: stored.updated_revision,
        source: stored.source.as_ref().map(|s| RecordSource {
            file: s.file.clone(),
            line: s.pos.line,
            column: s.pos.column,
        }),
        resource: serde_json::to_value(&stored.resource)?,
    };
    serde_json::to_string(&record)
}

/// Reads a record stored under `key`; the error says what is wrong with it.
pub(crate) fn decode(key: Key, json: &str) -> Result<Stored, String> {
    let record: Record =
        serde_json::from_str(json).map_err(|e| format!("record of {key} is unreadable: {e}"))?;
    let resource = match key.kind {
        Kind::VirtualService => {
            typed::<VirtualService>(record.resource).map(Resource::VirtualService)
        }
        Kind::DestinationRule => {
            typed::<DestinationRule>(record.resource).map(Resource::DestinationRule)
        }
        Kind::Gateway => typed::<Gateway>(record.resource).map(Resource::Gateway),
        Kind::ServiceEntry => typed::<ServiceEntry>(record.resource).map(Resource::ServiceEntry),
        Kind::PeerAuthentication => {
            typed::<PeerAuthentication>(record.resource).map(Resource::PeerAuthentication)
        }
        Kind::AuthorizationPolicy => {
            typed::<AuthorizationPolicy>(record.resource).map(Resource::AuthorizationPolicy)
        }
    }
    .map_err(|e| format!("resource {key} does not read back: {e}"))?;
    if Key::of(&resource) != key {
        return Err(format!(
            "record stored as {key} holds {}",
            Key::of(&resource)
        ));
    }
    Ok(Stored {
        key,
        resource,
        generation: record.generation,
        created_revision: record.created_revision,
        updated_revision: record.updated_revision,
        source: record.source.map(|s| Source {
            file: s.file,
            pos: Pos {
                line: s.line,
                column: s.column,
            },
        }),
    })
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_records_say_which_and_why() {
        let key = Key::new(Kind::Gateway, "default", "g");
        let not_json = decode(key.clone(), "{not json");
        assert!(not_json.is_err_and(|e| e.contains("record of Gateway default/g is unreadable")));
        let wrong_shape = r#"{"generation":1,"createdRevision":1,"updatedRevision":1,
            "resource":{"apiVersion":"networking.istio.io/v1","kind":"Gateway","bogus":1}}"#;
        let err = decode(key.clone(), wrong_shape);
        assert!(err.is_err_and(|e| e.contains("does not read back")));
        let elsewhere = r#"{"generation":1,"createdRevision":1,"updatedRevision":1,
            "resource":{"apiVersion":"networking.istio.io/v1","kind":"Gateway",
                        "metadata":{"name":"other","namespace":"default"}}}"#;
        let err = decode(key, elsewhere);
        assert!(err.is_err_and(|e| e.contains("holds Gateway default/other")));
    }
}
