//! The hub in-process, with a memory store and a fake stream: pushes are debounced (a burst
//! of changes is one push), a config change that does not change a proxy's snapshot is not
//! pushed, and ACK/NACK move the proxy through STALE, SYNCED and NACKED.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use mesh_api::snapshot::Snapshot;
use mesh_api::xds::{FrameDecoder, NodeIdentity, NodePort, ServerMessage};
use mesh_controlplane::server::hub::{self, Cmd, HubOptions};
use mesh_controlplane::server::status::{ProxyStatus, SyncState};
use mesh_controlplane::store::{ConfigStore, MemoryStore};
use mesh_proxy::testing::eventually;
use tokio::sync::{mpsc, watch};

const WAIT: Duration = Duration::from_secs(10);

fn node() -> NodeIdentity {
    NodeIdentity {
        name: "reviews-v1-0".into(),
        workload: String::new(),
        service: "reviews".into(),
        namespace: "default".into(),
        service_account: "reviews".into(),
        labels: [("version".to_string(), "v1".to_string())].into(),
        ports: vec![NodePort {
            name: "http".into(),
            port: 9080,
            target_port: None,
        }],
        inbound: "127.0.0.1:15006".parse().unwrap(),
        outbound: "127.0.0.1:15001".parse().unwrap(),
        app: "127.0.0.1:9080".parse().unwrap(),
        admin: None,
        stats: None,
        proxy_type: Default::default(),
    }
}

fn vs(name: &str, timeout: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}}}\n\
         spec:\n  hosts: [reviews]\n  http:\n    - timeout: {timeout}\n      route:\n        \
         - destination: {{host: reviews}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_are_debounced_unchanged_snapshots_not_pushed_and_acks_tracked() {
    let store = Arc::new(MemoryStore::new());
    let (tx, rx) = mpsc::channel(64);
    let (status_tx, status) = watch::channel(Arc::new(Vec::<ProxyStatus>::new()));
    let (_stop, stop_rx) = watch::channel(false);
    let opts = HubOptions {
        debounce: Duration::from_millis(300),
        grace: Duration::from_secs(5),
        registry_file: None,
        scrape_interval: Duration::from_secs(1),
    };
    tokio::spawn(hub::run(
        store.clone(),
        opts,
        tx.clone(),
        rx,
        status_tx,
        stop_rx,
    ));
    let me = |status: &watch::Receiver<Arc<Vec<ProxyStatus>>>| status.borrow().first().cloned();

    let (frames, mut frames_rx) = watch::channel(None);
    tx.send(Cmd::Connect {
        node: Box::new(node()),
        conn: 1,
        tx: frames,
        principal: None,
    })
    .await
    .unwrap();
    let first = eventually(WAIT, "the first push", || async {
        me(&status).filter(|p| p.pushes == 1)
    })
    .await;
    assert_eq!(first.state, SyncState::Stale);
    let frame = frames_rx.borrow_and_update().clone().unwrap();
    assert!(
        frame.delta.is_none(),
        "the first push has no base to be a delta of"
    );
    let mut dec = FrameDecoder::new();
    dec.push(&frame.full_bytes());
    let Some(ServerMessage::Snapshot { version, snapshot }) = dec.decode().unwrap() else {
        panic!("expected a snapshot");
    };
    assert_eq!(Some(&version), first.version_sent.as_ref());
    assert_eq!(snapshot.node.workload, "reviews-v1-0");

    // ACK: SYNCED. A burst of five changes inside the debounce window: one push.
    tx.send(Cmd::Ack {
        id: "reviews-v1-0.default".into(),
        conn: 1,
        version: version.clone(),
    })
    .await
    .unwrap();
    eventually(WAIT, "SYNCED", || async {
        me(&status).filter(|p| p.state == SyncState::Synced)
    })
    .await;
    for t in ["1s", "2s", "3s", "4s", "5s"] {
        store
            .apply_yaml("vs.yaml", &vs("reviews", t))
            .await
            .unwrap();
    }
    let second = eventually(WAIT, "the second push", || async {
        me(&status).filter(|p| p.pushes == 2)
    })
    .await;
    assert_eq!(second.state, SyncState::Stale);
    let v2 = second.version_sent.clone().unwrap();
    // The second push is also a delta against the first: applied to the first snapshot it
    // gives the second in full.
    let push2 = frames_rx.borrow_and_update().clone().unwrap();
    let (base, delta) = push2.delta_bytes().expect("a delta after the first push");
    assert_eq!(base, version);
    let mut dec = FrameDecoder::new();
    dec.push(&delta);
    let Some(ServerMessage::Delta { delta, .. }) = dec.decode().unwrap() else {
        panic!("expected a delta");
    };
    let mut running = snapshot.clone();
    running.version = version.clone();
    let applied = delta.apply(&running, &version, &v2).unwrap();
    dec.push(&push2.full_bytes());
    let Some(ServerMessage::Snapshot {
        snapshot: full2, ..
    }) = dec.decode().unwrap()
    else {
        panic!("expected a snapshot");
    };
    assert_eq!(
        applied,
        Snapshot {
            version: v2.clone(),
            ..full2
        }
    );
    tx.send(Cmd::Ack {
        id: "reviews-v1-0.default".into(),
        conn: 1,
        version: v2.clone(),
    })
    .await
    .unwrap();

    // A change that leaves this proxy's snapshot as it is (a PeerAuthentication selecting
    // another workload) bumps the revision but is not pushed. Once the hub has processed it
    // (the ACKed version is marked current as of that revision), it has also processed the
    // whole burst: still two pushes, so the burst went out once and nothing was resent.
    let rev = store.revision();
    store
        .apply_yaml("pa.yaml", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: other}\nspec: {selector: {matchLabels: {app: someone-else}}, mtls: {mode: STRICT}}\n")
        .await
        .unwrap();
    let pa_rev = store.revision();
    assert!(pa_rev > rev);
    let current = eventually(
        WAIT,
        "the PeerAuthentication revision processed",
        || async { me(&status).filter(|p| p.acked_revision.is_some_and(|r| r >= pa_rev)) },
    )
    .await;
    assert_eq!(
        current.pushes, 2,
        "the burst was pushed once, the no-op not at all"
    );
    assert_eq!(current.state, SyncState::Synced);

    // A real change: a third push, which the proxy rejects.
    store
        .apply_yaml("vs.yaml", &vs("reviews", "6s"))
        .await
        .unwrap();
    let third = eventually(WAIT, "the third push", || async {
        me(&status).filter(|p| p.pushes == 3)
    })
    .await;

    // NACK of the current version: NACKED with the error.
    let v3 = third.version_sent.clone().unwrap();
    tx.send(Cmd::Nack {
        id: "reviews-v1-0.default".into(),
        conn: 1,
        version: v3,
        error: "boom".into(),
    })
    .await
    .unwrap();
    let nacked = eventually(WAIT, "NACKED", || async {
        me(&status).filter(|p| p.state == SyncState::Nacked)
    })
    .await;
    assert_eq!(nacked.error.as_deref(), Some("boom"));

    // A proxy that cannot apply a delta (it does not run the base) NACKs it as a base
    // mismatch: not a config error, the hub resends the same version in full.
    store
        .apply_yaml("vs.yaml", &vs("reviews", "7s"))
        .await
        .unwrap();
    let fourth = eventually(WAIT, "the fourth push", || async {
        me(&status).filter(|p| p.pushes == 4)
    })
    .await;
    let v4 = fourth.version_sent.clone().unwrap();
    assert!(frames_rx
        .borrow_and_update()
        .as_ref()
        .unwrap()
        .delta
        .is_some());
    tx.send(Cmd::Nack {
        id: "reviews-v1-0.default".into(),
        conn: 1,
        version: v4.clone(),
        error: "delta base mismatch: the delta applies to version \"x\" but this proxy runs \"y\""
            .into(),
    })
    .await
    .unwrap();
    let resent = eventually(WAIT, "the full resend", || async {
        me(&status).filter(|p| p.pushes == 5)
    })
    .await;
    assert_eq!(resent.version_sent.as_deref(), Some(v4.as_str()));
    assert_eq!(
        resent.state,
        SyncState::Stale,
        "a base mismatch is not NACKED"
    );
    let push5 = frames_rx.borrow_and_update().clone().unwrap();
    assert!(push5.delta.is_none(), "the resend is the full snapshot");
    tx.send(Cmd::Ack {
        id: "reviews-v1-0.default".into(),
        conn: 1,
        version: v4,
    })
    .await
    .unwrap();
    eventually(WAIT, "SYNCED after the full resend", || async {
        me(&status).filter(|p| p.state == SyncState::Synced)
    })
    .await;
}
