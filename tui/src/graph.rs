//! Columns of the Topology view, independent of the terminal's size: a service's column is
//! its call depth, found by breadth-first search from the roots (ingress gateways first,
//! then services nobody calls); a service in a cycle nobody enters becomes a root itself.
//! Within a column, services are ordered by the mean row of their callers (fewer crossing
//! edges), then by name.

use std::collections::{HashMap, VecDeque};

use crate::services::ServiceMap;

/// Service indices (into [`ServiceMap::services`]) per column, left to right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub columns: Vec<Vec<usize>>,
    /// Each service's column, by service index.
    pub depth: Vec<usize>,
}

impl Columns {
    /// Column and row of a service.
    pub fn locate(&self, service: usize) -> Option<(usize, usize)> {
        let col = *self.depth.get(service)?;
        let row = self.columns.get(col)?.iter().position(|&s| s == service)?;
        Some((col, row))
    }
}

pub fn columns(map: &ServiceMap) -> Columns {
    let n = map.services.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut inbound: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in &map.links {
        if let (Some(s), Some(d)) = (map.position(&l.source), map.position(&l.destination)) {
            out[s].push(d);
            inbound[d].push(s);
        }
    }
    let mut depth: Vec<Option<usize>> = vec![None; n];
    let by_name = |&a: &usize, &b: &usize| map.services[a].key.cmp(&map.services[b].key);
    let mut roots: Vec<usize> = (0..n).filter(|&i| map.services[i].ingress).collect();
    roots.sort_by(by_name);
    let mut plain: Vec<usize> = (0..n)
        .filter(|&i| !map.services[i].ingress && inbound[i].is_empty())
        .collect();
    plain.sort_by(by_name);
    roots.extend(plain);
    bfs(&roots, &out, &mut depth);
    // What is left sits in cycles unreachable from any root: the one with the fewest callers
    // (then by name) starts a new search, until every service has a column.
    while let Some(next) = (0..n)
        .filter(|&i| depth[i].is_none())
        .min_by_key(|&i| (inbound[i].len(), &map.services[i].key))
    {
        bfs(&[next], &out, &mut depth);
    }
    let depth: Vec<usize> = depth.into_iter().map(|d| d.unwrap_or(0)).collect();
    let count = depth.iter().max().map_or(0, |d| d + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &d) in depth.iter().enumerate() {
        columns[d].push(i);
    }
    if let Some(first) = columns.first_mut() {
        // Ingress gateways first, then by name.
        first.sort_by(|&a, &b| {
            let (sa, sb) = (&map.services[a], &map.services[b]);
            sb.ingress.cmp(&sa.ingress).then(sa.key.cmp(&sb.key))
        });
    }
    let mut row: HashMap<usize, f64> = HashMap::new();
    for (c, column) in columns.iter_mut().enumerate() {
        if c > 0 {
            let mean = |s: usize| {
                let rows: Vec<f64> = inbound[s]
                    .iter()
                    .filter(|p| depth[**p] < c)
                    .filter_map(|p| row.get(p).copied())
                    .collect();
                if rows.is_empty() {
                    f64::MAX
                } else {
                    rows.iter().sum::<f64>() / rows.len() as f64
                }
            };
            let mut keyed: Vec<(f64, usize)> = column.iter().map(|&s| (mean(s), s)).collect();
            keyed.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(map.services[a.1].key.cmp(&map.services[b.1].key))
            });
            *column = keyed.into_iter().map(|(_, s)| s).collect();
        }
        for (r, &s) in column.iter().enumerate() {
            row.insert(s, r as f64);
        }
    }
    Columns { columns, depth }
}

fn bfs(roots: &[usize], out: &[Vec<usize>], depth: &mut [Option<usize>]) {
    let mut queue: VecDeque<usize> = VecDeque::new();
    for &r in roots {
        if depth[r].is_none() {
            depth[r] = Some(0);
            queue.push_back(r);
        }
    }
    while let Some(s) = queue.pop_front() {
        let d = depth[s].unwrap_or(0) + 1;
        for &t in &out[s] {
            if depth[t].is_none() {
                depth[t] = Some(d);
                queue.push_back(t);
            }
        }
    }
}
