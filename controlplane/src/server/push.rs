//! What the hub hands a proxy's stream: a [`Push`], the full snapshot frame and, when the
//! proxy can take it, a delta frame against the version pushed before.
//!
//! Sidecars alike in namespace, certificate and selected labels get the same outbound part
//! ([`translate::OutboundKey`]), and in a mesh of 1000 services that part is nearly all of the
//! ~2 MB snapshot. It is translated and serialized once per push ([`SharedOutbound`]); every
//! proxy's frames are its own small JSON (node, listeners, inbound table and clusters) around
//! reference-counted slices of the shared bytes, so 2000 proxies cost one outbound part in
//! memory, not 2000. Between two shared parts the changed virtual hosts and clusters are
//! diffed once ([`SharedDelta`]) and go to every proxy that had the older part.
//!
//! Versions stay content hashes: SHA-256 over the proxy's own JSON and the shared part's
//! digest, so equal snapshots get equal versions.
//!
//! The frames are the JSON of [`mesh_api::xds::ServerMessage`] written piecewise; the tests
//! decode them and compare with [`translate::sidecar`].

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use mesh_api::snapshot::delta::{self, VirtualHostsDelta};

use serde::Serialize;

use crate::translate::{OutboundPart, OwnPart, Warning};

/// The frames for one proxy and one version. The stream sends `delta` when the last frame it
/// sent was `delta.0` (the delta's base), else the full frame, which is assembled only then:
/// a push waiting in 2000 streams' channels holds each proxy's own JSON and its delta, not
/// 2000 full frames.
#[derive(Debug)]
pub struct Push {
    pub version: String,
    full: Full,
    pub delta: Option<(String, Vec<Bytes>)>,
}

#[derive(Debug)]
enum Full {
    Frame(Bytes),
    Parts(Arc<OwnJson>, Arc<SharedOutbound>),
}

impl Push {
    /// A full snapshot frame only (gateways).
    pub fn full(version: String, frame: Bytes) -> Push {
        Push {
            version,
            full: Full::Frame(frame),
            delta: None,
        }
    }

    /// A sidecar's push: its own part and the shared one, and the delta if there is a base.
    pub fn sidecar(
        version: String,
        own: Arc<OwnJson>,
        shared: Arc<SharedOutbound>,
        delta: Option<(String, Vec<Bytes>)>,
    ) -> Push {
        Push {
            version,
            full: Full::Parts(own, shared),
            delta,
        }
    }

    /// The full frame, as the chunks the stream writes.
    pub fn full_chunks(&self) -> Vec<Bytes> {
        match &self.full {
            Full::Frame(f) => vec![f.clone()],
            Full::Parts(own, shared) => full_frame(&self.version, own, shared),
        }
    }

    /// The full frame as one buffer.
    pub fn full_bytes(&self) -> Bytes {
        concat(&self.full_chunks())
    }

    /// The delta frame as one buffer, with its base.
    pub fn delta_bytes(&self) -> Option<(&str, Bytes)> {
        self.delta.as_ref().map(|(b, f)| (b.as_str(), concat(f)))
    }
}

fn concat(chunks: &[Bytes]) -> Bytes {
    match chunks {
        [one] => one.clone(),
        _ => chunks.concat().into(),
    }
}

/// An outbound part, translated and serialized once for every proxy of its key.
#[derive(Debug)]
pub struct SharedOutbound {
    pub part: OutboundPart,
    /// The outbound virtual hosts' JSON, comma-separated (no brackets).
    vhosts_json: Bytes,
    /// The outbound clusters' JSON, comma-separated.
    clusters_json: Bytes,
    digest: [u8; 32],
}

impl SharedOutbound {
    pub fn new(part: OutboundPart) -> Result<SharedOutbound, serde_json::Error> {
        let vhosts_json = joined(&part.routes.virtual_hosts)?;
        let clusters_json = joined(&part.clusters)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(part.routes.name.as_bytes());
        ctx.update(b"\0");
        ctx.update(&vhosts_json);
        ctx.update(b"\0");
        ctx.update(&clusters_json);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(ctx.finish().as_ref());
        Ok(SharedOutbound {
            part,
            vhosts_json,
            clusters_json,
            digest,
        })
    }

    pub fn warnings(&self) -> &[Warning] {
        &self.part.warnings
    }
}

/// What changed from one shared part to the next, serialized once.
#[derive(Debug)]
pub struct SharedDelta {
    /// A [`VirtualHostsDelta`] object, or empty when no outbound host changed.
    vhosts_json: Bytes,
    /// Upserted clusters, comma-separated.
    clusters_json: Bytes,
    /// Removed cluster names (JSON strings), comma-separated.
    removed_json: Bytes,
}

impl SharedDelta {
    pub fn between(
        old: &SharedOutbound,
        new: &SharedOutbound,
    ) -> Result<SharedDelta, serde_json::Error> {
        let vd: VirtualHostsDelta = delta::diff_virtual_hosts(&old.part.routes, &new.part.routes);
        let vhosts_json = if vd.upsert.is_empty() && vd.remove.is_empty() && vd.order.is_none() {
            Bytes::new()
        } else {
            serde_json::to_vec(&vd)?.into()
        };
        let (upserts, removed) = delta::diff_clusters(&old.part.clusters, &new.part.clusters);
        Ok(SharedDelta {
            vhosts_json,
            clusters_json: joined(&upserts)?,
            removed_json: joined(&removed)?,
        })
    }
}

/// A proxy's own part, serialized.
#[derive(Debug)]
pub struct OwnJson {
    node: Vec<u8>,
    listeners: Vec<u8>,
    routes: Vec<u8>,
    /// Comma-separated.
    clusters: Vec<u8>,
    pub cluster_names: Vec<String>,
    pub warnings: Vec<Warning>,
}

impl OwnJson {
    pub fn new(own: OwnPart) -> Result<OwnJson, serde_json::Error> {
        let exact = |mut v: Vec<u8>| {
            v.shrink_to_fit();
            v
        };
        Ok(OwnJson {
            node: exact(serde_json::to_vec(&own.node)?),
            listeners: exact(serde_json::to_vec(&own.listeners)?),
            routes: exact(serde_json::to_vec(&own.routes)?),
            clusters: joined(&own.clusters)?.to_vec(),
            cluster_names: own.clusters.iter().map(|c| c.name.clone()).collect(),
            warnings: own.warnings,
        })
    }
}

/// The version of the snapshot made of `own` and `shared`.
pub fn version(own: &OwnJson, shared: &SharedOutbound) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [&own.node, &own.listeners, &own.routes, &own.clusters] {
        ctx.update(part);
        ctx.update(b"\0");
    }
    ctx.update(&shared.digest);
    ctx.finish().as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The full snapshot frame: `{"type":"snapshot","version":..,"snapshot":{..}}`.
pub fn full_frame(version: &str, own: &OwnJson, shared: &SharedOutbound) -> Vec<Bytes> {
    let mut f = Frame::default();
    f.small(br#"{"type":"snapshot","version":""#);
    f.small(version.as_bytes());
    f.small(br#"","snapshot":{"version":"","node":"#);
    f.small(&own.node);
    f.small(br#","listeners":"#);
    f.small(&own.listeners);
    f.small(br#","routes":[{"name":"#);
    f.json(&shared.part.routes.name);
    f.small(br#","virtualHosts":["#);
    f.shared(&shared.vhosts_json);
    f.small(b"]},");
    f.small(&own.routes);
    f.small(br#"],"clusters":["#);
    f.list(&[&own.clusters], &[&shared.clusters_json]);
    f.small(b"]}}\n");
    f.finish()
}

/// The delta frame from the snapshot pushed as `base` (own clusters `old_clusters`, shared
/// part as `sd` describes) to this one.
pub fn delta_frame(
    version: &str,
    base: &str,
    own: &OwnJson,
    old_clusters: &[String],
    sd: &SharedDelta,
) -> Result<Vec<Bytes>, serde_json::Error> {
    let removed_own: Vec<&String> = old_clusters
        .iter()
        .filter(|n| !own.cluster_names.contains(n))
        .collect();
    let removed_own = joined(&removed_own)?;
    let mut f = Frame::default();
    f.small(br#"{"type":"delta","version":""#);
    f.small(version.as_bytes());
    f.small(br#"","base":"#);
    f.json(base);
    f.small(br#","delta":{"node":"#);
    f.small(&own.node);
    f.small(br#","listeners":"#);
    f.small(&own.listeners);
    f.small(br#","routes":["#);
    f.small(&own.routes);
    f.small(br#"],"virtualHosts":["#);
    f.shared(&sd.vhosts_json);
    f.small(br#"],"clusters":["#);
    // The own clusters always travel (they are few); the proxy upserts them by name.
    f.list(&[&own.clusters], &[&sd.clusters_json]);
    f.small(br#"],"removeClusters":["#);
    f.list(&[&removed_own], &[&sd.removed_json]);
    f.small(b"]}}\n");
    Ok(f.finish())
}

/// Elements' JSON joined by commas, without brackets.
fn joined<T: Serialize>(items: &[T]) -> Result<Bytes, serde_json::Error> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, item)?;
    }
    // Frames in flight keep these bytes alive after newer pushes: no spare capacity.
    out.shrink_to_fit();
    Ok(out.into())
}

/// A frame written as small copied pieces and shared slices.
#[derive(Default)]
struct Frame {
    done: Vec<Bytes>,
    cur: BytesMut,
}

impl Frame {
    fn small(&mut self, b: &[u8]) {
        self.cur.put_slice(b);
    }

    fn json(&mut self, s: &str) {
        // A string always serializes.
        if let Ok(v) = serde_json::to_vec(s) {
            self.cur.put_slice(&v);
        }
    }

    /// Big shared bytes go by reference; small ones are copied.
    fn shared(&mut self, b: &Bytes) {
        if b.len() < 4096 {
            self.cur.put_slice(b);
        } else {
            self.flush();
            self.done.push(b.clone());
        }
    }

    /// The comma-joined non-empty pieces: own ones copied, shared ones by reference.
    fn list(&mut self, own: &[&[u8]], shared: &[&Bytes]) {
        let mut first = true;
        for part in own.iter().copied().filter(|p| !p.is_empty()) {
            if !first {
                self.small(b",");
            }
            self.small(part);
            first = false;
        }
        for part in shared.iter().copied().filter(|p| !p.is_empty()) {
            if !first {
                self.small(b",");
            }
            self.shared(part);
            first = false;
        }
    }

    /// The small pieces so far as one exact-size chunk (a frame may wait in a stream's
    /// channel: no spare capacity kept with it).
    fn flush(&mut self) {
        if !self.cur.is_empty() {
            self.done.push(Bytes::copy_from_slice(&self.cur));
            self.cur.clear();
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        self.flush();
        self.done
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mesh_api::snapshot::Snapshot;
    use mesh_api::xds::{FrameDecoder, ServerMessage};

    fn decode(b: &Bytes) -> ServerMessage {
        let mut dec = FrameDecoder::new();
        dec.push(b);
        dec.decode().unwrap().unwrap()
    }

    #[test]
    fn empty_parts_make_valid_frames() {
        let shared = SharedOutbound::new(OutboundPart {
            routes: mesh_api::snapshot::RouteConfig {
                name: "outbound".into(),
                virtual_hosts: Vec::new(),
            },
            clusters: Vec::new(),
            warnings: Vec::new(),
        })
        .unwrap();
        let own_part = OwnPart {
            node: Default::default(),
            listeners: Vec::new(),
            routes: mesh_api::snapshot::RouteConfig {
                name: "inbound".into(),
                virtual_hosts: Vec::new(),
            },
            clusters: Vec::new(),
            warnings: Vec::new(),
        };
        let own = OwnJson::new(own_part.clone()).unwrap();
        let shared = std::sync::Arc::new(shared);
        let v = version(&own, &shared);
        let delta = delta_frame(
            &v,
            "base",
            &own,
            &[],
            &SharedDelta::between(&shared, &shared).unwrap(),
        )
        .unwrap();
        let push = Push::sidecar(
            v.clone(),
            std::sync::Arc::new(own),
            shared.clone(),
            Some(("base".into(), delta)),
        );
        let ServerMessage::Snapshot {
            version: got,
            snapshot,
        } = decode(&push.full_bytes())
        else {
            panic!("not a snapshot");
        };
        assert_eq!(got, v);
        let want = Snapshot {
            version: String::new(),
            node: own_part.node.clone(),
            listeners: Vec::new(),
            routes: vec![shared.part.routes.clone(), own_part.routes.clone()],
            clusters: Vec::new(),
        };
        assert_eq!(snapshot, want);
        let (base, bytes) = push.delta_bytes().unwrap();
        assert_eq!(base, "base");
        let ServerMessage::Delta { delta, .. } = decode(&bytes) else {
            panic!("not a delta");
        };
        assert!(delta.clusters.is_empty() && delta.virtual_hosts.is_empty());
    }
}
