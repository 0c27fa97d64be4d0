//! A user's own `istio-proxy` or `istio-init` container customizes ours, as in Istio: every
//! field the user sets wins (mappings merge key by key, lists are replaced), except `env`
//! and `volumeMounts`, which merge entry by entry (Kubernetes' strategic-merge keys), and
//! `image: auto`, which means "the injected image".

use crate::yaml::{Map, Node};

/// Merges `user` over `base` (both containers).
pub(crate) fn merge_container(base: &mut Node, user: &Node) {
    let (Some(base), Some(user)) = (base.as_map_mut(), user.as_map()) else {
        return;
    };
    for (key, value) in user.str_entries() {
        if key == "image" && value.as_str() == Some("auto") {
            continue;
        }
        match key {
            "env" => merge_list(base, key, value, "name"),
            "volumeMounts" => merge_list(base, key, value, "mountPath"),
            _ => merge_value(base, key, value),
        }
    }
}

fn merge_value(base: &mut Map, key: &str, value: &Node) {
    match (base.get_mut(key), value) {
        (Some(Node::Map(b)), Node::Map(u)) => {
            for (k, v) in u.str_entries() {
                merge_value(b, k, v);
            }
        }
        _ => base.insert(key, value.clone()),
    }
}

/// Entries of `value` replace the entries of `base[key]` with the same `id`; others are
/// appended.
fn merge_list(base: &mut Map, key: &str, value: &Node, id: &str) {
    let Some(user) = value.as_seq() else {
        base.insert(key, value.clone());
        return;
    };
    let Some(list) = base.seq_entry(key) else {
        base.insert(key, value.clone());
        return;
    };
    for item in user {
        let item_id = item.as_map().and_then(|m| m.get_str(id));
        let existing = item_id.and_then(|want| {
            list.iter()
                .position(|e| e.as_map().and_then(|m| m.get_str(id)) == Some(want))
        });
        match existing {
            Some(i) => list[i] = item.clone(),
            None => list.push(item.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::parse_document;

    fn node(yaml: &str) -> Node {
        parse_document(yaml).expect("parses").expect("not empty")
    }

    #[test]
    fn user_fields_win_and_lists_merge_by_key() {
        let mut base = node(
            "name: istio-proxy\nimage: ours\nargs: [run]\nenv: [{name: A, value: '1'}, {name: B, value: '2'}]\nsecurityContext: {runAsUser: 1337, readOnlyRootFilesystem: true}\n",
        );
        let user = node(
            "name: istio-proxy\nimage: auto\nargs: [-c, x]\nenv: [{name: B, value: '3'}, {name: C, value: '4'}]\nsecurityContext: {runAsUser: 1234}\ntty: true\n",
        );
        merge_container(&mut base, &user);
        let want = node(
            "name: istio-proxy\nimage: ours\nargs: [-c, x]\nenv: [{name: A, value: '1'}, {name: B, value: '3'}, {name: C, value: '4'}]\nsecurityContext: {runAsUser: 1234, readOnlyRootFilesystem: true}\ntty: true\n",
        );
        assert_eq!(base, want);
    }
}
