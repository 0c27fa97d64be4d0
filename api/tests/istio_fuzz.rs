//! Fuzzing the config reader: whatever bytes a user feeds it, parsing and validation return
//! diagnostics or resources, never panic, and every diagnostic has a position.

use std::path::PathBuf;

use mesh_api::istio::{load, load_bytes};
use proptest::prelude::*;

fn fixtures() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/istio-bookinfo/networking");
    let mut texts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    texts.sort();
    assert!(!texts.is_empty(), "no fixtures found in {}", dir.display());
    texts
}

/// Loads and checks the invariants every result must hold.
fn check(text: &str) {
    match load("fuzz.yaml", text) {
        Ok(parsed) => {
            for p in parsed {
                assert!(p.pos.line >= 1);
                let _ = p.resource.name();
            }
        }
        Err(all) => {
            assert!(!all.is_empty());
            for d in all.iter() {
                assert!(
                    d.pos.line >= 1 && d.pos.column >= 1,
                    "diagnostic without a position: {d}"
                );
                assert!(!d.message.is_empty());
            }
        }
    }
}

/// Pieces of YAML and Istio vocabulary, so random sequences reach deep into the parser.
const TOKENS: &[&str] = &[
    "apiVersion: networking.istio.io/v1\n",
    "apiVersion: security.istio.io/v1\n",
    "kind: VirtualService\n",
    "kind: DestinationRule\n",
    "kind: Gateway\n",
    "kind: ServiceEntry\n",
    "kind: PeerAuthentication\n",
    "kind: AuthorizationPolicy\n",
    "metadata: {name: x}\n",
    "spec:\n",
    "  hosts: [a]\n",
    "  http:\n",
    "  - route:\n",
    "    - destination: {host: a}\n",
    "      weight: ",
    "-1",
    "101",
    "50\n",
    "  host: ",
    "*",
    "a*b",
    "  subsets:\n",
    "  - name: v1\n",
    "    fault: {abort: {httpStatus: 700}}\n",
    "regex: \"(\"",
    "timeout: 1s\n",
    "timeout: -1s\n",
    "  servers:\n",
    "  - port: {number: 80}\n",
    "  portLevelMtls:\n    80: {mode: STRICT}\n",
    "  action: CUSTOM\n",
    "  rules:\n  - when:\n    - key: \"\"\n",
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "? ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "\t",
    "\n",
    "  ",
    "#c\n",
    "%YAML 1.2\n",
    "!!str ",
    "<<: *a\n",
    "|\n  x\n",
    "~",
    "null",
    "\u{feff}",
    "é",
];

// 256 cases by default; raise with PROPTEST_CASES=20000 for a longer fuzzing run.
proptest! {

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,400}") {
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        match load_bytes("fuzz.yaml", &bytes) {
            Ok(_) => {}
            Err(all) => prop_assert!(!all.is_empty()),
        }
    }

    #[test]
    fn token_soup_never_panics(picks in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let text: String = picks.iter().map(|i| TOKENS[*i]).collect();
        check(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, ".{0,8}"), 1..6),
    ) {
        let all = fixtures();
        let mut text = all[which % all.len()].clone();
        for (at, op, payload) in edits {
            if text.is_empty() {
                text.push_str(&payload);
                continue;
            }
            // Pick a char boundary so edits keep the text UTF-8.
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let i = boundaries[at.index(boundaries.len())];
            match op {
                0 => text.insert_str(i, &payload),
                1 => {
                    let end = boundaries.iter().copied().find(|b| *b >= i + payload.len().max(1)).unwrap_or(text.len());
                    text.replace_range(i..end, "");
                }
                2 => {
                    // Duplicate the line containing `i`.
                    let start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                    let end = text[i..].find('\n').map_or(text.len(), |n| i + n + 1);
                    let line = text[start..end].to_string();
                    text.insert_str(start, &line);
                }
                _ => {
                    let end = boundaries.iter().copied().find(|b| *b > i).unwrap_or(text.len());
                    text.replace_range(i..end, &payload);
                }
            }
        }
        check(&text);
    }
}
