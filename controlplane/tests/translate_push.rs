//! The frames the hub pushes, built from shared outbound parts ([`push`]), carry exactly the
//! snapshot [`translate::sidecar`] computes; and a delta frame, applied to the snapshot before
//! a change as mesh-proxy applies it, gives exactly the snapshot after the change. Over
//! Istio's Bookinfo rule files, step by step, for every Bookinfo sidecar.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use std::collections::HashMap;
use std::net::SocketAddr;

use mesh_api::istio::Resource;
use mesh_api::snapshot::Snapshot;
use mesh_api::xds::{FrameDecoder, ServerMessage};
use mesh_controlplane::registry::Registry;
use mesh_controlplane::server::push::{self, OwnJson, SharedDelta, SharedOutbound};
use mesh_controlplane::translate::{self, Input, OutboundKey, SidecarOptions};
use translate_support::{bookinfo, bookinfo_files, yaml};

fn decode(chunks: &[bytes::Bytes]) -> ServerMessage {
    let mut dec = FrameDecoder::new();
    // Chunk by chunk, as the stream delivers them.
    for c in chunks {
        dec.push(c);
    }
    let msg = dec.decode().unwrap().expect("one complete frame");
    assert!(
        dec.decode::<ServerMessage>().unwrap().is_none(),
        "exactly one frame"
    );
    msg
}

fn sorted(mut s: Snapshot) -> Snapshot {
    s.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    s
}

struct Built {
    version: String,
    full: Vec<bytes::Bytes>,
    own: OwnJson,
    shared: std::sync::Arc<SharedOutbound>,
}

/// What the hub builds for every sidecar in one push, sharing parts by key.
fn build_all(resources: &[Resource], reg: &Registry) -> (HashMap<String, Built>, usize) {
    let resources: Vec<&Resource> = resources.iter().collect();
    let input = Input {
        resources: &resources,
        registry: reg,
    };
    let keys = translate::selector_keys(&resources);
    let mut parts: HashMap<OutboundKey, std::sync::Arc<SharedOutbound>> = HashMap::new();
    let mut out = HashMap::new();
    for w in &reg.workloads {
        let key = OutboundKey::of(w, false, &keys);
        let shared = parts
            .entry(key.clone())
            .or_insert_with(|| {
                std::sync::Arc::new(
                    SharedOutbound::new(translate::sidecar_outbound(&input, key.view(), false))
                        .unwrap(),
                )
            })
            .clone();
        let own = OwnJson::new(translate::sidecar_own(&input, w, &opts(w))).unwrap();
        let version = push::version(&own, &shared);
        let full = push::full_frame(&version, &own, &shared);
        out.insert(
            w.workload.clone(),
            Built {
                version,
                full,
                own,
                shared,
            },
        );
    }
    (out, parts.len())
}

fn opts(w: &mesh_controlplane::registry::Workload) -> SidecarOptions {
    SidecarOptions {
        outbound: SocketAddr::new(w.app.ip(), 15001),
        inbound: w.inbound,
        version: String::new(),
        auto_mtls: false,
    }
}

fn expected(resources: &[Resource], reg: &Registry, workload: &str) -> Snapshot {
    let w = reg
        .workloads
        .iter()
        .find(|w| w.workload == workload)
        .unwrap();
    let resources: Vec<&Resource> = resources.iter().collect();
    let input = Input {
        resources: &resources,
        registry: reg,
    };
    translate::sidecar(&input, w, &opts(w)).snapshot
}

#[test]
fn full_and_delta_frames_carry_exactly_the_translated_snapshots() {
    let reg = bookinfo();
    let steps: Vec<Vec<Resource>> = vec![
        Vec::new(),
        bookinfo_files(&["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]),
        bookinfo_files(&[
            "destination-rule-all.yaml",
            "virtual-service-reviews-50-v3.yaml",
        ]),
        bookinfo_files(&[
            "destination-rule-all.yaml",
            "virtual-service-reviews-jason-v2-v3.yaml",
            "virtual-service-ratings-test-abort.yaml",
            "fault-injection-details-v1.yaml",
        ]),
        // A rule selecting its sources by label: the reviews sidecars get their own part.
        {
            let mut r = bookinfo_files(&["destination-rule-all.yaml"]);
            r.extend(yaml(
                "source-labels.yaml",
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\nspec:\n  hosts: [ratings]\n  http:\n  - match: [{sourceLabels: {app: reviews, version: v2}}]\n    route: [{destination: {host: ratings, subset: v2}}]\n  - route: [{destination: {host: ratings, subset: v1}}]\n",
            ));
            r
        },
        Vec::new(),
    ];
    let mut before: Option<(HashMap<String, Built>, HashMap<String, Snapshot>)> = None;
    let mut deltas_checked = 0;
    let mut delta_bytes = 0;
    let mut full_bytes = 0;
    for (i, resources) in steps.iter().enumerate() {
        let (built, parts) = build_all(resources, &reg);
        let labelled = !translate::selector_keys(&resources.iter().collect::<Vec<_>>()).is_empty();
        if labelled {
            assert!(
                parts > 1,
                "step {i}: sourceLabels must split the shared parts"
            );
        } else {
            assert_eq!(
                parts, 1,
                "step {i}: one namespace, no selectors: one shared part"
            );
        }
        let mut snapshots = HashMap::new();
        for w in &reg.workloads {
            let b = &built[&w.workload];
            let want = sorted(expected(resources, &reg, &w.workload));
            let ServerMessage::Snapshot { version, snapshot } = decode(&b.full) else {
                panic!("not a snapshot frame");
            };
            assert_eq!(version, b.version);
            assert_eq!(
                sorted(snapshot.clone()),
                want,
                "step {i}: full frame of {}",
                w.workload
            );
            snapshot.validate().unwrap();
            full_bytes += b.full.iter().map(|c| c.len()).sum::<usize>();

            if let Some((old_built, old_snaps)) = &before {
                let old = &old_built[&w.workload];
                let sd = SharedDelta::between(&old.shared, &b.shared).unwrap();
                let frame = push::delta_frame(
                    &b.version,
                    &old.version,
                    &b.own,
                    &old_own_clusters(old),
                    &sd,
                )
                .unwrap();
                delta_bytes += frame.iter().map(|c| c.len()).sum::<usize>();
                let ServerMessage::Delta {
                    version,
                    base,
                    delta,
                } = decode(&frame)
                else {
                    panic!("not a delta frame");
                };
                assert_eq!(
                    (version.as_str(), base.as_str()),
                    (b.version.as_str(), old.version.as_str())
                );
                let mut running = old_snaps[&w.workload].clone();
                running.version = old.version.clone();
                let got = delta.apply(&running, &base, &version).unwrap();
                let mut want = want.clone();
                want.version = b.version.clone();
                assert_eq!(sorted(got), want, "step {i}: delta for {}", w.workload);
                deltas_checked += 1;
            }
            snapshots.insert(w.workload.clone(), want);
        }
        before = Some((built, snapshots));
    }
    assert_eq!(deltas_checked, reg.workloads.len() * (steps.len() - 1));
    // Deltas are smaller than the snapshots they replace (here: a handful of services).
    assert!(
        delta_bytes < full_bytes,
        "deltas {delta_bytes} B vs full {full_bytes} B"
    );
}

fn old_own_clusters(b: &Built) -> Vec<String> {
    b.own.cluster_names.clone()
}

#[test]
fn equal_snapshots_get_equal_versions_and_a_change_a_new_one() {
    let reg = bookinfo();
    let rules = bookinfo_files(&["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]);
    let (a, _) = build_all(&rules, &reg);
    let (b, _) = build_all(&rules, &reg);
    let (c, _) = build_all(
        &bookinfo_files(&[
            "destination-rule-all.yaml",
            "virtual-service-reviews-v3.yaml",
        ]),
        &reg,
    );
    for w in &reg.workloads {
        assert_eq!(a[&w.workload].version, b[&w.workload].version);
        assert_ne!(
            a[&w.workload].version, c[&w.workload].version,
            "{}",
            w.workload
        );
    }
    // Different sidecars have different own parts, so different versions.
    let versions: std::collections::HashSet<_> = a.values().map(|b| b.version.clone()).collect();
    assert_eq!(versions.len(), reg.workloads.len());
}
