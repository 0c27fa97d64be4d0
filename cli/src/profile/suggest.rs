//! "Did you mean ...?": the valid keys nearest to a mistyped one, by edit distance.

/// Levenshtein distance, case-insensitive (so `xdsport` is 0 from `xdsPort`).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidates closest to `word`: those at the smallest distance, if that distance is small
/// enough to be a typo (at most a third of the word, and at least 2), plus any candidate that
/// contains the word or that the word contains.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Vec<&'a str> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    let best = candidates.iter().map(|c| distance(word, c)).min();
    candidates
        .iter()
        .copied()
        .filter(|c| {
            let d = distance(word, c);
            let cl = c.to_lowercase();
            (Some(d) == best && d <= limit)
                || (lower.len() >= 3 && (cl.contains(&lower) || lower.contains(&cl)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos() {
        assert_eq!(distance("kitten", "sitting"), 3);
        let keys = ["xdsPort", "xdsTlsPort", "monitoringPort", "logLevel"];
        assert_eq!(nearest("monitorPort", &keys), vec!["monitoringPort"]);
        assert_eq!(nearest("xdsport", &keys), vec!["xdsPort"]);
        assert!(nearest("banana", &keys).is_empty());
    }
}
