//! Snapshot frames on the wire ([`mesh_api::xds`]): the version is a content hash, and a
//! frame is built from the snapshot's JSON without serializing it again.

use bytes::Bytes;

/// The version of a snapshot: the first 12 hex digits of the SHA-256 of its JSON (taken
/// with an empty `version`), so identical configs get identical versions across proxies
/// and control-plane restarts.
pub fn version_of(snapshot_json: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, snapshot_json);
    digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A [`mesh_api::xds::ServerMessage::Snapshot`] frame around already serialized JSON. The
/// snapshot inside keeps its empty `version`; the envelope's `version` is authoritative.
pub fn snapshot_frame(version: &str, snapshot_json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(snapshot_json.len() + 64);
    out.extend_from_slice(br#"{"type":"snapshot","version":""#);
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(br#"","snapshot":"#);
    out.extend_from_slice(snapshot_json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mesh_api::snapshot::Snapshot;
    use mesh_api::xds::{FrameDecoder, ServerMessage};

    #[test]
    fn frames_decode_as_server_messages() {
        let json = serde_json::to_vec(&Snapshot::default()).unwrap();
        let version = super::version_of(&json);
        assert_eq!(version.len(), 12);
        let mut dec = FrameDecoder::new();
        dec.push(&super::snapshot_frame(&version, &json));
        let Some(ServerMessage::Snapshot {
            version: v,
            snapshot,
        }) = dec.decode().unwrap()
        else {
            panic!("not a snapshot frame");
        };
        assert_eq!(v, version);
        assert_eq!(snapshot, Snapshot::default());
    }
}
