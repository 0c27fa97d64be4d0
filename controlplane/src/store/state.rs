//! The store's contents and the pure rules of a change: validation, created / configured /
//! unchanged, generations and revisions. Every backend plans a change here, persists the
//! plan its own way, then commits the plan to its in-memory copy; so the rules live once.

use std::collections::hash_map::{self, HashMap};
use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_api::istio::{validate::validate, Diagnostic, Diagnostics, Kind};

use super::error::StoreError;
use super::key::{with_namespace, Key};
use super::types::{Applied, ApplyItem, DeleteOptions, Outcome, Stored};

/// The file name diagnostics use for a resource that did not come from a file.
const NO_FILE: &str = "<api>";

/// Everything stored, and the store-wide revision.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub(crate) entries: BTreeMap<Key, Arc<Stored>>,
    /// Bumped once per apply or delete that changed anything.
    pub(crate) revision: u64,
}

/// A planned change: what to write, what to remove, and what to tell the caller.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// The revision after the change.
    pub(crate) revision: u64,
    /// Resources to write (created or configured).
    pub(crate) upserts: Vec<Arc<Stored>>,
    /// Keys to remove.
    pub(crate) removals: Vec<Key>,
    /// Per resource of an apply, in batch order.
    pub(crate) applied: Vec<Applied>,
}

impl Change {
    /// False when the change leaves the store as it was (nothing to persist or announce).
    pub(crate) fn changes_anything(&self) -> bool {
        !self.upserts.is_empty() || !self.removals.is_empty()
    }
}

impl State {
    /// Validates the whole batch and plans it. Any problem (invalid resource, the same
    /// resource twice in the batch) fails the whole batch with every problem listed.
    pub(crate) fn plan_apply(&self, batch: Vec<ApplyItem>) -> Result<Change, StoreError> {
        let mut problems = Vec::new();
        let mut first_seen: HashMap<Key, String> = HashMap::new();
        for item in &batch {
            let file = item.source.as_ref().map_or(NO_FILE, |s| s.file.as_str());
            problems.extend(validate(&item.resource, file, item.source_map.as_ref()));
            let key = Key::of(&item.resource);
            let here = item
                .source
                .as_ref()
                .map_or_else(String::new, |s| format!("{}:{}", s.file, s.pos.line));
            match first_seen.entry(key) {
                hash_map::Entry::Occupied(first) => {
                    problems.push(Diagnostic {
                        file: file.to_string(),
                        pos: item.source.as_ref().map(|s| s.pos).unwrap_or_default(),
                        path: "metadata.name".to_string(),
                        message: format!(
                            "{} appears twice in this batch (first at {}); remove one copy",
                            first.key(),
                            if first.get().is_empty() {
                                "an earlier item"
                            } else {
                                first.get()
                            }
                        ),
                    });
                }
                hash_map::Entry::Vacant(v) => {
                    v.insert(here);
                }
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(Diagnostics(problems)));
        }

        let mut change = Change {
            revision: self.revision.saturating_add(1),
            ..Change::default()
        };
        for item in batch {
            let resource = with_namespace(item.resource);
            let key = Key::of(&resource);
            let (outcome, generation, created_revision) = match self.entries.get(&key) {
                None => (Outcome::Created, 1, change.revision),
                Some(old) if old.resource == resource => {
                    (Outcome::Unchanged, old.generation, old.created_revision)
                }
                Some(old) => (
                    Outcome::Configured,
                    old.generation.saturating_add(1),
                    old.created_revision,
                ),
            };
            change.applied.push(Applied {
                key: key.clone(),
                outcome,
                generation,
            });
            if outcome != Outcome::Unchanged {
                change.upserts.push(Arc::new(Stored {
                    key,
                    resource,
                    generation,
                    created_revision,
                    updated_revision: change.revision,
                    source: item.source,
                }));
            }
        }
        if !change.changes_anything() {
            change.revision = self.revision;
        }
        Ok(change)
    }

    /// Plans deleting `keys`; missing keys fail the whole delete unless ignored.
    pub(crate) fn plan_delete(
        &self,
        keys: Vec<Key>,
        options: DeleteOptions,
    ) -> Result<Change, StoreError> {
        let mut removals: Vec<Key> = Vec::new();
        let mut missing = Vec::new();
        for key in keys {
            // Normalise the namespace so `Key { namespace: "" }` finds `default/...`.
            let key = Key::new(key.kind, &key.namespace, &key.name);
            if removals.contains(&key) || missing.contains(&key) {
                continue;
            }
            if self.entries.contains_key(&key) {
                removals.push(key);
            } else {
                missing.push(key);
            }
        }
        if !missing.is_empty() && !options.ignore_missing {
            return Err(StoreError::NotFound(missing));
        }
        let revision = if removals.is_empty() {
            self.revision
        } else {
            self.revision.saturating_add(1)
        };
        Ok(Change {
            revision,
            removals,
            ..Change::default()
        })
    }

    /// Makes a planned change visible.
    pub(crate) fn commit(&mut self, change: &Change) {
        for stored in &change.upserts {
            self.entries.insert(stored.key.clone(), Arc::clone(stored));
        }
        for key in &change.removals {
            self.entries.remove(key);
        }
        self.revision = change.revision;
    }

    /// Stored resources of `kind` (all kinds when `None`) in `namespace` (all when `None`),
    /// ordered by kind, namespace, name.
    pub(crate) fn list(&self, kind: Option<Kind>, namespace: Option<&str>) -> Vec<Arc<Stored>> {
        self.entries
            .values()
            .filter(|s| kind.is_none_or(|k| s.key.kind == k))
            .filter(|s| namespace.is_none_or(|n| s.key.namespace == n))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use mesh_api::istio::{load, Resource};

    use super::*;
    use crate::store::testing::reviews_split_yaml;

    fn items(text: &str) -> Vec<ApplyItem> {
        match load("t.yaml", text) {
            Ok(parsed) => parsed.into_iter().map(ApplyItem::from).collect(),
            Err(d) => panic!("test YAML is invalid: {d}"),
        }
    }

    fn apply(state: &mut State, batch: Vec<ApplyItem>) -> Vec<Applied> {
        match state.plan_apply(batch) {
            Ok(change) => {
                state.commit(&change);
                change.applied
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn explicit_default_namespace_equals_none() {
        let mut state = State::default();
        apply(&mut state, items(&reviews_split_yaml("r", 80)));
        let explicit =
            reviews_split_yaml("r", 80).replace("  name: r\n", "  name: r\n  namespace: default\n");
        let again = apply(&mut state, items(&explicit));
        assert_eq!(again[0].outcome, Outcome::Unchanged);
        assert_eq!(state.revision, 1);
    }

    #[test]
    fn resources_without_a_file_are_validated_too() {
        let mut resource = items(&reviews_split_yaml("r", 80)).remove(0).resource;
        if let Resource::VirtualService(vs) = &mut resource {
            vs.metadata.name.clear();
        }
        let err = State::default().plan_apply(vec![ApplyItem::from(resource)]);
        let Err(StoreError::Invalid(d)) = err else {
            panic!("expected a validation error, got {err:?}");
        };
        assert!(
            d.to_string().contains("<api>:0:0: metadata.name: required"),
            "{d}"
        );
    }

    #[test]
    fn one_revision_per_batch_and_per_delete() {
        let mut state = State::default();
        let text = format!(
            "{}---\n{}",
            reviews_split_yaml("a", 80),
            reviews_split_yaml("b", 80)
        );
        apply(&mut state, items(&text));
        assert_eq!(state.revision, 1);
        assert!(state.entries.values().all(|s| s.updated_revision == 1));
        let keys = vec![
            Key::new(Kind::VirtualService, "", "a"),
            Key::new(Kind::VirtualService, "default", "a"),
            Key::new(Kind::VirtualService, "", "b"),
        ];
        let change = state.plan_delete(keys, DeleteOptions::default());
        let Ok(change) = change else {
            panic!("{change:?}");
        };
        assert_eq!(
            change.removals.len(),
            2,
            "the same key twice is deleted once"
        );
        state.commit(&change);
        assert_eq!(state.revision, 2);
        assert!(state.entries.is_empty());
    }
}
