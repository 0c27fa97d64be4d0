//! The Prometheus parser against generated input: whatever it reads it answers (never
//! panics), and what a well-behaved exporter writes it reads back exactly.

use mesh_controlplane::telemetry::parse::{parse, Sample};
use proptest::prelude::*;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render(samples: &[Sample]) -> String {
    let mut out = String::from("# HELP m help text\n# TYPE m counter\n");
    for s in samples {
        out.push_str(&s.name);
        if !s.labels.is_empty() {
            let l: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            out.push_str(&format!("{{{}}}", l.join(",")));
        }
        out.push_str(&format!(" {}\n", s.value));
    }
    out
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
        proptest::collection::vec(
            ("[a-zA-Z_][a-zA-Z0-9_]{0,10}", "\\PC{0,12}|[\\\\\"\n]{0,4}"),
            0..5,
        ),
        prop_oneof![any::<u32>().prop_map(f64::from), 0.0..1e12f64],
    )
        .prop_map(|(name, labels, value)| Sample {
            name,
            labels,
            value,
        })
}

proptest! {
    #[test]
    fn garbage_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn near_miss_lines_never_panic(text in "[a-z_{}=\",\\\\ .0-9+\\-\n]{0,120}") {
        let _ = parse(&text);
    }

    #[test]
    fn what_an_exporter_writes_reads_back(samples in proptest::collection::vec(sample(), 0..8)) {
        let text = render(&samples);
        let got = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(got, samples);
    }
}

#[test]
fn reads_a_real_proxy_exposition_line() {
    let line = r#"istio_request_duration_milliseconds_bucket{reporter="source",source_workload="productpage-v1",destination_service="reviews.default.svc.cluster.local",response_code="200",connection_security_policy="unknown",le="0.5"} 3"#;
    let s = parse(line).expect("parses");
    assert_eq!(s[0].label("le"), Some("0.5"));
    assert_eq!(s[0].label("response_code"), Some("200"));
    assert_eq!(s[0].value, 3.0);
}
