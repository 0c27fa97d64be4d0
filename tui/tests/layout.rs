//! The Topology layout: columns by call depth, and geometry without overlaps at any size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mesh_tui::graph::{self, Columns};
use mesh_tui::model::{Edge, Mesh, Node, Protocol};
use mesh_tui::services::ServiceMap;
use mesh_tui::synthetic;
use mesh_tui::testing::{bookinfo, t0};
use mesh_tui::ui::layout::{self, Geometry};
use ratatui::layout::Rect;
use ratatui::text::Span;

fn depth_of(map: &ServiceMap, cols: &Columns, key: &str) -> usize {
    cols.depth[map.position(key).unwrap()]
}

#[test]
fn bookinfo_columns_follow_call_depth_ingress_first() {
    let map = ServiceMap::from_mesh(&bookinfo(t0()).mesh);
    let cols = graph::columns(&map);
    let d = |k| depth_of(&map, &cols, k);
    assert_eq!(d("istio-ingressgateway.istio-system"), 0);
    assert_eq!(d("productpage.default"), 1);
    assert_eq!(d("details.default"), 2);
    assert_eq!(d("reviews.default"), 2);
    assert_eq!(d("ratings.default"), 3);
    // Idle, called by nobody: a root, after the ingress gateway.
    assert_eq!(d("istio-egressgateway.istio-system"), 0);
    let first = &map.services[cols.columns[0][0]];
    assert_eq!(first.key, "istio-ingressgateway.istio-system");
    assert_eq!(cols.columns.len(), 4);
}

fn node(name: &str) -> Node {
    Node {
        id: format!("{name}-v1.default"),
        workload: format!("{name}-v1"),
        namespace: "default".into(),
        app: name.into(),
        version: "v1".into(),
        services: vec![],
    }
}

fn call(from: &str, to: &str) -> Edge {
    Edge {
        source: format!("{from}-v1"),
        source_id: format!("{from}-v1.default"),
        destination: format!("{to}-v1"),
        destination_id: format!("{to}-v1.default"),
        protocol: Protocol::Http,
        requests: 10,
        rps: 1.0,
        success_rate: Some(1.0),
        ..Edge::default()
    }
}

#[test]
fn cycles_without_a_root_still_get_columns() {
    let mesh = Mesh {
        nodes: vec![node("a"), node("b"), node("c")],
        edges: vec![call("a", "b"), call("b", "c"), call("c", "a")],
        ..Mesh::default()
    };
    let map = ServiceMap::from_mesh(&mesh);
    let cols = graph::columns(&map);
    assert_eq!(cols.depth, vec![0, 1, 2]);
    let g = layout::place(&map, &cols, 120, 30);
    // c -> a goes back to column 0: listed, not drawn.
    assert_eq!(g.undrawn.len(), 1);
    assert_eq!(g.edges.len(), 2);
}

#[test]
fn every_drawn_edge_goes_right() {
    let map = ServiceMap::from_mesh(&synthetic::mesh(50));
    let cols = graph::columns(&map);
    let g = layout::place(&map, &cols, 200, 56);
    for e in &g.edges {
        let l = &map.links[e.link];
        let (s, d) = (
            map.position(&l.source).unwrap(),
            map.position(&l.destination).unwrap(),
        );
        assert!(cols.depth[d] > cols.depth[s], "{l:?}");
    }
    assert_eq!(g.edges.len() + g.undrawn.len(), map.links.len());
}

fn overlaps(a: Rect, b: Rect) -> bool {
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

fn label_rect(map: &ServiceMap, g: &Geometry, e: &layout::EdgePath) -> Rect {
    let text = e
        .tag
        .clone()
        .unwrap_or_else(|| layout::label(&map.links[e.link]));
    let w = Span::raw(text).width() as u16;
    Rect::new(e.label_at.0, e.label_at.1, w, 1).intersection(Rect::new(
        0,
        0,
        g.width.max(1),
        g.height.max(1),
    ))
}

fn check(map: &ServiceMap, g: &Geometry, what: &str) {
    for (i, a) in g.boxes.iter().enumerate() {
        for b in &g.boxes[i + 1..] {
            assert!(
                !overlaps(a.rect, b.rect),
                "{what}: boxes overlap: {a:?} {b:?}"
            );
        }
        assert!(
            a.rect.x + a.rect.width <= g.width && a.rect.y + a.rect.height <= g.height,
            "{what}: box off the canvas"
        );
    }
    let labels: Vec<Rect> = g.edges.iter().map(|e| label_rect(map, g, e)).collect();
    for (i, l) in labels.iter().enumerate() {
        for b in &g.boxes {
            assert!(
                !overlaps(*l, b.rect),
                "{what}: label {i} {l:?} covers box {b:?}"
            );
        }
        for (j, m) in labels.iter().enumerate().skip(i + 1) {
            assert!(!overlaps(*l, *m), "{what}: labels {i} and {j} overlap");
        }
    }
    for e in &g.edges {
        for b in &g.boxes {
            let (x, y) = e.arrow;
            assert!(
                !layout::contains(b.rect, x, y),
                "{what}: arrow inside a box"
            );
        }
        for pair in e.points.windows(2) {
            assert!(
                pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1,
                "{what}: diagonal segment"
            );
        }
    }
}

#[test]
fn no_overlaps_at_any_size() {
    let meshes = [
        ("bookinfo", bookinfo(t0()).mesh),
        ("50", synthetic::mesh(50)),
        ("500", synthetic::mesh(500)),
        ("1", synthetic::mesh(1)),
    ];
    for (name, mesh) in &meshes {
        let map = ServiceMap::from_mesh(mesh);
        let cols = graph::columns(&map);
        for (w, h) in [(200, 56), (80, 18), (60, 12), (30, 8), (1, 1)] {
            let g = layout::place(&map, &cols, w, h);
            assert_eq!(g.boxes.len(), map.services.len());
            check(&map, &g, &format!("{name} at {w}x{h}"));
        }
    }
}

#[test]
fn labels_inline_when_wide_tags_when_narrow() {
    let map = ServiceMap::from_mesh(&bookinfo(t0()).mesh);
    let cols = graph::columns(&map);
    let wide = layout::place(&map, &cols, 200, 56);
    assert!(wide.inline_labels);
    assert!(wide.edges.iter().all(|e| e.tag.is_none()));
    assert!(wide.width <= 200, "uses the width without exceeding it");
    let narrow = layout::place(&map, &cols, 80, 18);
    assert!(!narrow.inline_labels);
    let tags: Vec<_> = narrow
        .edges
        .iter()
        .map(|e| e.tag.clone().unwrap())
        .collect();
    assert_eq!(tags, ["a", "b", "c", "d"]);
    assert!(narrow.width <= 80, "bookinfo fits 80 columns");
}

#[test]
fn labels_say_rps_success_p99_and_mtls() {
    let map = ServiceMap::from_mesh(&bookinfo(t0()).mesh);
    let link = map
        .links
        .iter()
        .find(|l| l.destination == "ratings.default")
        .unwrap();
    assert_eq!(layout::label(link), "🔒 2.2/s 100% 6.7ms");
    assert_eq!(layout::tag(0), "a");
    assert_eq!(layout::tag(25), "z");
    assert_eq!(layout::tag(26), "aa");
    assert_eq!(layout::tag(27), "ab");
}
