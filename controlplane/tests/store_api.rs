//! The store's contract, run against both backends: apply/get/list/delete, generations,
//! all-or-nothing batches with every diagnostic, delete of missing resources, the revision
//! watch.
#![allow(clippy::unwrap_used)]

use mesh_api::istio::Kind;
use mesh_controlplane::store::testing::{reviews_split_yaml, reviews_subsets_yaml, TempDir};
use mesh_controlplane::store::{
    ConfigStore, DeleteOptions, Key, LocalStore, MemoryStore, Outcome, StoreError,
};

/// Runs `check` on a fresh MemoryStore and a fresh LocalStore.
macro_rules! on_both_stores {
    ($check:ident) => {
        #[tokio::test]
        async fn memory() {
            super::$check(&MemoryStore::new()).await;
        }
        #[tokio::test]
        async fn local() {
            let dir = TempDir::new("store-api").unwrap();
            super::$check(&LocalStore::open(dir.path().join("store")).unwrap()).await;
        }
    };
}

async fn apply_get_list_delete(store: &impl ConfigStore) {
    let text = format!(
        "{}---\n{}",
        reviews_split_yaml("reviews", 80),
        reviews_subsets_yaml("reviews", "bookinfo")
    );
    let applied = store.apply_yaml("reviews.yaml", &text).await.unwrap();
    assert_eq!(applied.len(), 2);
    assert!(applied
        .iter()
        .all(|a| a.outcome == Outcome::Created && a.generation == 1));
    assert_eq!(
        applied[0].to_string(),
        "VirtualService default/reviews created (generation 1)"
    );

    // No namespace in the file means `default`, and the stored copy says so.
    let vs = store.get(Kind::VirtualService, "", "reviews").unwrap();
    assert_eq!(vs.resource.namespace(), "default");
    assert_eq!(vs.source.as_ref().unwrap().file, "reviews.yaml");
    assert_eq!(vs.source.as_ref().unwrap().pos.line, 1);
    let dr = store
        .get(Kind::DestinationRule, "bookinfo", "reviews")
        .unwrap();
    assert!(dr.source.as_ref().unwrap().pos.line > 1);
    assert!(store
        .get(Kind::DestinationRule, "default", "reviews")
        .is_none());

    assert_eq!(store.list(None, None).len(), 2);
    assert_eq!(store.list(Some(Kind::VirtualService), None).len(), 1);
    assert_eq!(store.list(None, Some("bookinfo")).len(), 1);
    assert!(store.list(Some(Kind::Gateway), None).is_empty());

    let deleted = store
        .delete(
            vec![Key::new(Kind::VirtualService, "", "reviews")],
            DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        deleted,
        vec![Key::new(Kind::VirtualService, "default", "reviews")]
    );
    assert!(store
        .get(Kind::VirtualService, "default", "reviews")
        .is_none());
    assert_eq!(store.list(None, None).len(), 1);
}

async fn generations_and_unchanged_reapply(store: &impl ConfigStore) {
    let first = store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 80))
        .await
        .unwrap();
    assert_eq!(
        (first[0].outcome, first[0].generation),
        (Outcome::Created, 1)
    );
    let rev_after_create = store.revision();
    assert_eq!(rev_after_create, 1);

    let same = store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 80))
        .await
        .unwrap();
    assert_eq!(
        (same[0].outcome, same[0].generation),
        (Outcome::Unchanged, 1)
    );
    assert_eq!(
        store.revision(),
        rev_after_create,
        "an unchanged apply bumps nothing"
    );

    let changed = store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 50))
        .await
        .unwrap();
    assert_eq!(
        (changed[0].outcome, changed[0].generation),
        (Outcome::Configured, 2)
    );
    let again = store
        .apply_yaml("b.yaml", &reviews_split_yaml("r", 10))
        .await
        .unwrap();
    assert_eq!(
        (again[0].outcome, again[0].generation),
        (Outcome::Configured, 3)
    );

    let stored = store.get(Kind::VirtualService, "default", "r").unwrap();
    assert_eq!(stored.generation, 3);
    assert_eq!(stored.created_revision, 1);
    assert_eq!(stored.updated_revision, 3);
    assert_eq!(store.revision(), 3);
    assert_eq!(stored.source.as_ref().unwrap().file, "b.yaml");
}

async fn invalid_batch_stores_nothing(store: &impl ConfigStore) {
    store
        .apply_yaml("ok.yaml", &reviews_split_yaml("kept", 80))
        .await
        .unwrap();
    let revision = store.revision();
    // Three documents: one valid (a change to `kept`), two invalid, each in its own way.
    let bad_weight = reviews_split_yaml("bad-weight", 80).replace("weight: 20", "weight: 70");
    let no_hosts = reviews_split_yaml("no-hosts", 80).replace("  hosts:\n  - reviews\n", "");
    let text = format!(
        "{}---\n{bad_weight}---\n{no_hosts}",
        reviews_split_yaml("kept", 30)
    );
    let err = store.apply_yaml("batch.yaml", &text).await.unwrap_err();
    let StoreError::Invalid(diagnostics) = &err else {
        panic!("expected a validation error, got {err}");
    };
    assert!(
        diagnostics.len() >= 2,
        "every problem at once: {diagnostics}"
    );
    for d in diagnostics.iter() {
        assert_eq!(d.file, "batch.yaml");
        assert!(
            d.pos.line > 20,
            "points into the second or third document: {d}"
        );
    }
    let message = err.to_string();
    assert!(message.contains("nothing was applied"), "{message}");
    assert!(message.contains("batch.yaml:"), "{message}");

    assert_eq!(store.revision(), revision, "nothing stored");
    assert_eq!(store.list(None, None).len(), 1);
    let kept = store.get(Kind::VirtualService, "default", "kept").unwrap();
    assert_eq!(
        kept.generation, 1,
        "the valid part of the batch was not applied either"
    );
}

async fn duplicate_in_batch_is_rejected(store: &impl ConfigStore) {
    let text = format!(
        "{}---\n{}",
        reviews_split_yaml("r", 80),
        reviews_split_yaml("r", 50)
    );
    let err = store.apply_yaml("dup.yaml", &text).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("appears twice in this batch (first at dup.yaml:1)"),
        "{err}"
    );
    assert!(store.list(None, None).is_empty());
}

async fn delete_missing(store: &impl ConfigStore) {
    store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 80))
        .await
        .unwrap();
    let keys = vec![
        Key::new(Kind::VirtualService, "default", "r"),
        Key::new(Kind::Gateway, "default", "nope"),
    ];
    let err = store
        .delete(keys.clone(), DeleteOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Gateway default/nope"), "{err}");
    assert!(
        store.get(Kind::VirtualService, "default", "r").is_some(),
        "all or nothing"
    );

    let ignore = DeleteOptions {
        ignore_missing: true,
    };
    let deleted = store.delete(keys, ignore).await.unwrap();
    assert_eq!(
        deleted,
        vec![Key::new(Kind::VirtualService, "default", "r")]
    );
    assert!(store.list(None, None).is_empty());
    let revision = store.revision();
    assert!(store
        .delete(vec![Key::new(Kind::Gateway, "", "x")], ignore)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.revision(), revision, "deleting nothing bumps nothing");
}

async fn watch_sees_revisions(store: &impl ConfigStore) {
    let mut rx = store.watch();
    assert_eq!(*rx.borrow_and_update(), 0);
    store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 80))
        .await
        .unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 1);
    store
        .apply_yaml("a.yaml", &reviews_split_yaml("r", 80))
        .await
        .unwrap();
    assert!(
        !rx.has_changed().unwrap(),
        "an unchanged apply wakes nobody"
    );
    store
        .delete(
            vec![Key::new(Kind::VirtualService, "", "r")],
            DeleteOptions::default(),
        )
        .await
        .unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), rx.changed()).await;
    assert!(seen.is_ok_and(|r| r.is_ok()));
    assert_eq!(*rx.borrow(), 2);
}

mod apply_get_list_delete {
    use super::*;
    on_both_stores!(apply_get_list_delete);
}
mod generations_and_unchanged_reapply {
    use super::*;
    on_both_stores!(generations_and_unchanged_reapply);
}
mod invalid_batch_stores_nothing {
    use super::*;
    on_both_stores!(invalid_batch_stores_nothing);
}
mod duplicate_in_batch_is_rejected {
    use super::*;
    on_both_stores!(duplicate_in_batch_is_rejected);
}
mod delete_missing {
    use super::*;
    on_both_stores!(delete_missing);
}
mod watch_sees_revisions {
    use super::*;
    on_both_stores!(watch_sees_revisions);
}
