//! The durable store on disk: reopening keeps everything, a second opener is refused, a
//! corrupt file is reported (not a panic), and every Bookinfo routing file applies and
//! reads back identical.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use mesh_api::istio::Kind;
use mesh_controlplane::store::testing::{reviews_split_yaml, reviews_subsets_yaml, TempDir};
use mesh_controlplane::store::{ConfigStore, DeleteOptions, Key, LocalStore, StoreError};

/// Istio's Bookinfo routing samples, kept in the shared fixtures beside the checkout.
const BOOKINFO_NETWORKING: &str = "../../shared/fixtures/istio-bookinfo/networking";

#[tokio::test]
async fn reopen_after_drop_keeps_everything() {
    let dir = TempDir::new("store-reopen").unwrap();
    let before = {
        let store = LocalStore::open(dir.path()).unwrap();
        store
            .apply_yaml("vs.yaml", &reviews_split_yaml("reviews", 80))
            .await
            .unwrap();
        store
            .apply_yaml("vs.yaml", &reviews_split_yaml("reviews", 60))
            .await
            .unwrap();
        store
            .apply_yaml("dr.yaml", &reviews_subsets_yaml("reviews", "bookinfo"))
            .await
            .unwrap();
        store
            .apply_yaml("gone.yaml", &reviews_split_yaml("gone", 80))
            .await
            .unwrap();
        store
            .delete(
                vec![Key::new(Kind::VirtualService, "", "gone")],
                DeleteOptions::default(),
            )
            .await
            .unwrap();
        (store.list(None, None), store.revision())
    };
    assert_eq!(before.1, 5);

    let store = LocalStore::open(dir.path()).unwrap();
    assert_eq!(store.revision(), 5);
    assert_eq!(*store.watch().borrow(), 5);
    let after = store.list(None, None);
    assert_eq!(
        after, before.0,
        "same resources, generations, revisions and sources"
    );
    let vs = store
        .get(Kind::VirtualService, "default", "reviews")
        .unwrap();
    assert_eq!(
        (vs.generation, vs.created_revision, vs.updated_revision),
        (2, 1, 2)
    );
    assert!(store.get(Kind::VirtualService, "default", "gone").is_none());

    // Revisions continue from where they were, generations too.
    let applied = store
        .apply_yaml("vs.yaml", &reviews_split_yaml("reviews", 10))
        .await
        .unwrap();
    assert_eq!(applied[0].generation, 3);
    assert_eq!(store.revision(), 6);
}

#[tokio::test]
async fn second_open_is_refused_with_what_to_do() {
    let dir = TempDir::new("store-locked").unwrap();
    let first = LocalStore::open(dir.path()).unwrap();
    let err = LocalStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyOpen(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&first.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("stop it, or use another state directory"),
        "{message}"
    );
    drop(first);
    LocalStore::open(dir.path()).unwrap();
}

#[test]
fn corrupt_file_is_an_error_not_a_panic() {
    let dir = TempDir::new("store-corrupt").unwrap();
    let file = dir.path().join("config.redb");
    for junk in [
        b"kind: VirtualService\nthis is not a database\n".to_vec(),
        vec![0xA5; 64 * 1024],
    ] {
        std::fs::write(&file, &junk).unwrap();
        let err = LocalStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("move the file aside"), "{message}");
    }
}

#[tokio::test]
async fn every_bookinfo_routing_file_applies_and_reads_back() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join(BOOKINFO_NETWORKING);
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; shared/ must sit beside the checkout",
                fixtures.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "found only {} fixtures", files.len());

    let dir = TempDir::new("store-bookinfo").unwrap();
    let mut applied_total = 0;
    let stored = {
        let store = LocalStore::open(dir.path()).unwrap();
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(file).unwrap();
            let applied = store
                .apply_yaml(&name, &text)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!applied.is_empty(), "{name} holds resources");
            applied_total += applied.len();
        }
        store.list(None, None)
    };
    assert!(applied_total >= stored.len());
    let kinds: std::collections::BTreeSet<_> = stored.iter().map(|s| s.key.kind).collect();
    for kind in [
        Kind::VirtualService,
        Kind::DestinationRule,
        Kind::Gateway,
        Kind::ServiceEntry,
    ] {
        assert!(kinds.contains(&kind), "no {kind} in the fixtures");
    }

    // Everything written as JSON reads back as the same typed resources.
    let reopened = LocalStore::open(dir.path()).unwrap();
    assert_eq!(reopened.list(None, None), stored);
}

#[tokio::test]
async fn damaged_store_file_opens_or_fails_cleanly() {
    let dir = TempDir::new("store-damaged").unwrap();
    let file = {
        let store = LocalStore::open(dir.path()).unwrap();
        for i in 0..20 {
            store
                .apply_yaml("vs.yaml", &reviews_split_yaml(&format!("vs-{i}"), 50))
                .await
                .unwrap();
        }
        store.path().to_path_buf()
    };
    let mut bytes = std::fs::read(&file).unwrap();
    // Damage everything after the header: records, tree pages, allocator state.
    for b in bytes.iter_mut().skip(4096).step_by(97) {
        *b ^= 0xFF;
    }
    std::fs::write(&file, &bytes).unwrap();
    // Either redb rolls back to a checksummed commit, or the store says the file is bad;
    // what must not happen is a panic or a store that serves garbage.
    match LocalStore::open(dir.path()) {
        Ok(store) => {
            for stored in store.list(None, None) {
                assert_eq!(stored.resource.kind(), Kind::VirtualService);
            }
        }
        Err(e) => assert!(
            matches!(e, StoreError::Corrupt { .. } | StoreError::Backend { .. }),
            "{e:?}"
        ),
    }
}
