//! One bad-input test per VirtualService validation rule: each asserts the field path and
//! the line the problem is reported at.

mod common;
use common::{expect, problems, valid, vs};

const ROUTE_A: &str = "  http:\n  - route:\n    - destination: {host: a}\n";

#[test]
fn hosts_are_required() {
    // line 6
    expect(
        &vs("  gateways: [mesh]\n  http:\n  - route:\n    - destination: {host: a}\n"),
        5,
        "spec.hosts",
        "required",
    );
}

#[test]
fn empty_host_string_is_rejected() {
    expect(
        &vs(&format!("  hosts:\n  - a\n  - \"\"\n{ROUTE_A}")),
        8,
        "spec.hosts[1]",
        "must not be empty",
    );
}

#[test]
fn wildcard_not_at_start_is_rejected() {
    let text = vs(&format!(
        "  hosts: [\"*.ok.com\", \"*\", \"bad.*.com\"]\n{ROUTE_A}"
    ));
    expect(
        &text,
        6,
        "spec.hosts[2]",
        "only allowed as the first character",
    );
    assert_eq!(problems(&text).len(), 1, "`*` and `*.ok.com` are fine");
}

#[test]
fn destination_host_is_required() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination:\n        subset: v1\n");
    expect(
        &text,
        9,
        "spec.http[0].route[0].destination.host",
        "required",
    );
}

#[test]
fn weight_out_of_range() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 101\n    - destination: {host: b}\n      weight: -1\n");
    expect(&text, 10, "spec.http[0].route[0].weight", "must be 0..=100");
    expect(&text, 12, "spec.http[0].route[1].weight", "must be 0..=100");
}

#[test]
fn weights_must_sum_to_100_with_several_destinations() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 80\n    - destination: {host: b}\n      weight: 10\n");
    expect(
        &text,
        8,
        "spec.http[0].route",
        "must sum to 100, they sum to 90",
    );
}

#[test]
fn single_destination_needs_no_weight() {
    valid(&vs(&format!("  hosts: [a]\n{ROUTE_A}")));
}

#[test]
fn redirect_and_route_together_are_rejected() {
    let text = vs("  hosts: [a]\n  http:\n  - redirect:\n      uri: /new\n    route:\n    - destination: {host: a}\n");
    expect(
        &text,
        8,
        "spec.http[0].redirect",
        "cannot be set together with route",
    );
}

#[test]
fn a_route_needs_an_action() {
    let text = vs("  hosts: [a]\n  http:\n  - name: nothing\n");
    expect(
        &text,
        8,
        "spec.http[0]",
        "set one of route, redirect, directResponse or delegate",
    );
}

#[test]
fn negative_timeout_is_rejected_at_parse_time_with_its_path() {
    let text =
        vs("  hosts: [a]\n  http:\n  - timeout: -2s\n    route:\n    - destination: {host: a}\n");
    expect(&text, 8, "spec.http[0].timeout", "must not be negative");
}

#[test]
fn malformed_duration_is_rejected_with_its_path() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    retries:\n      attempts: 3\n      perTryTimeout: 2 seconds\n");
    expect(
        &text,
        12,
        "spec.http[0].retries.perTryTimeout",
        "invalid duration",
    );
}

#[test]
fn negative_retry_attempts() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    retries:\n      attempts: -3\n");
    expect(&text, 11, "spec.http[0].retries.attempts", "must be >= 0");
}

#[test]
fn abort_status_out_of_range() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    fault:\n      abort:\n        httpStatus: 600\n        percentage: {value: 10}\n");
    expect(
        &text,
        12,
        "spec.http[0].fault.abort.httpStatus",
        "must be 200..=599",
    );
}

#[test]
fn fault_percentages_out_of_range() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    fault:\n      delay:\n        fixedDelay: 1s\n        percentage:\n          value: 100.5\n      abort:\n        httpStatus: 503\n        percentage:\n          value: -0.1\n");
    expect(
        &text,
        14,
        "spec.http[0].fault.delay.percentage.value",
        "must be 0..=100",
    );
    expect(
        &text,
        18,
        "spec.http[0].fault.abort.percentage.value",
        "must be 0..=100",
    );
}

#[test]
fn legacy_delay_percent_out_of_range_and_missing_fixed_delay() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    fault:\n      delay:\n        percent: 101\n");
    expect(
        &text,
        12,
        "spec.http[0].fault.delay.percent",
        "must be 0..=100",
    );
    // fixedDelay is missing: reported at its nearest written ancestor, `delay`.
    expect(&text, 11, "spec.http[0].fault.delay.fixedDelay", "required");
}

#[test]
fn mirror_percentage_out_of_range() {
    let text = vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    mirror: {host: b}\n    mirrorPercentage:\n      value: 250\n");
    expect(
        &text,
        12,
        "spec.http[0].mirrorPercentage.value",
        "must be 0..=100",
    );
}

#[test]
fn bad_regexes_in_every_match_field() {
    let text = vs(concat!(
        "  hosts: [a]\n",
        "  http:\n",
        "  - match:\n",
        "    - uri: {regex: \"(\"}\n",
        "      method: {regex: \"[\"}\n",
        "      authority: {regex: \"a{2,1}\"}\n",
        "      headers:\n",
        "        x-user: {regex: \"(?P<\"}\n",
        "      queryParams:\n",
        "        q: {regex: \"*\"}\n",
        "    route:\n",
        "    - destination: {host: a}\n",
    ));
    expect(&text, 9, "spec.http[0].match[0].uri.regex", "invalid regex");
    expect(
        &text,
        10,
        "spec.http[0].match[0].method.regex",
        "invalid regex",
    );
    expect(
        &text,
        11,
        "spec.http[0].match[0].authority.regex",
        "invalid regex",
    );
    expect(
        &text,
        13,
        "spec.http[0].match[0].headers.x-user.regex",
        "invalid regex",
    );
    expect(
        &text,
        15,
        "spec.http[0].match[0].queryParams.q.regex",
        "invalid regex",
    );
    assert_eq!(problems(&text).len(), 5);
}

#[test]
fn unknown_field_in_spec() {
    let text =
        vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    timout: 1s\n");
    expect(&text, 10, "spec.http[0].timout", "unknown field `timout`");
}

#[test]
fn tcp_route_weights_and_tls_route_sni() {
    let text = vs("  hosts: [a]\n  tcp:\n  - route:\n    - destination: {host: a}\n      weight: 60\n    - destination: {host: b}\n      weight: 60\n  tls:\n  - route:\n    - destination: {host: a}\n");
    expect(&text, 8, "spec.tcp[0].route", "must sum to 100");
    expect(&text, 14, "spec.tls[0].match", "sniHosts");
}

#[test]
fn several_problems_in_one_file_are_all_reported() {
    let text = format!(
        "{}---\n{}",
        vs("  hosts: [\"a*b\"]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 30\n    - destination: {host: b}\n      weight: 30\n    retries: {attempts: -1}\n"),
        vs("  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    fault:\n      abort: {httpStatus: 100}\n"),
    );
    let all = problems(&text);
    let s = all.to_string();
    assert_eq!(all.len(), 4, "{s}");
    assert!(s.contains("t.yaml:6:"), "{s}");
    assert!(s.contains("spec.hosts[0]"), "{s}");
    assert!(s.contains("spec.http[0].route: weights"), "{s}");
    assert!(
        s.contains("t.yaml:13:") && s.contains("spec.http[0].retries.attempts"),
        "{s}"
    );
    // The second document starts at line 14; its abort status is on line 25.
    assert!(
        s.contains("t.yaml:25:") && s.contains("spec.http[0].fault.abort.httpStatus"),
        "{s}"
    );
    // One line per problem, in file order.
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[3].starts_with("t.yaml:25:"), "{s}");
}

#[test]
fn header_presence_match_is_accepted_but_two_forms_are_not() {
    valid(&vs("  hosts: [a]\n  http:\n  - match:\n    - headers:\n        x-debug: {}\n    route:\n    - destination: {host: a}\n"));
    let text = vs("  hosts: [a]\n  http:\n  - match:\n    - headers:\n        x-debug: {exact: a, prefix: b}\n    route:\n    - destination: {host: a}\n");
    expect(
        &text,
        10,
        "spec.http[0].match[0].headers.x-debug",
        "set only one of exact, prefix, regex",
    );
}
