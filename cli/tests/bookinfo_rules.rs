//! Istio's own Bookinfo routing files, applied unchanged with `meshctl apply -f` into a
//! default install with Bookinfo deployed, take effect through the ingress gateway as in
//! Istio's tasks: request routing (all-v1, then jason to v2), traffic shifting (50/50 and
//! 80/20 splits, checked statistically) and fault injection (a delay and an abort for jason).
//! The files are read from the shared fixtures, never copied. One mesh serves the whole
//! sequence, each step replacing the previous rule of the same name; after each apply the
//! test polls until the new behaviour is seen (the push is asynchronous), then measures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{fixtures, Mesh};

/// What a page shows of reviews, as [`shown`] names it.
const V1: &str = "reviews-v1-0, no stars";
const V2: &str = "reviews-v2-0, black stars";
const V3: &str = "reviews-v3-0, red stars";
const V2_WITHOUT_RATINGS: &str = "reviews-v2-0, ratings unavailable";
const NO_REVIEWS: &str = "reviews unavailable";

/// productpage's message when reviews did not answer in time (Istio's text).
const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
/// reviews' message, per review, when ratings failed (Istio's text).
const RATINGS_ERROR: &str = "Ratings service is currently unavailable";

/// Deadline for a pushed rule to be seen through the gateway. Generous: the machine may be
/// busy building.
const PUSH: Duration = Duration::from_secs(45);
/// How long one page may take: a delayed one takes ~6 s (productpage's two 3 s tries).
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);
/// Pages in a row showing the new behaviour before it counts as in force.
const STREAK: usize = 10;
/// Pages measured for a weighted split.
const SPLIT_PAGES: usize = 200;

/// Applies Istio's file `name` unchanged.
fn apply(mesh: &Mesh, name: &str) {
    let path = fixtures().join(name).display().to_string();
    mesh.run(&["apply", "-f", &path]).expect_code(0);
}

/// A browser on the ingress gateway: anonymous, or logged in with its `session` cookie.
#[derive(Clone)]
struct Browser {
    gateway: SocketAddr,
    cookie: Option<String>,
}

impl Browser {
    fn anonymous(gateway: SocketAddr) -> Browser {
        Browser {
            gateway,
            cookie: None,
        }
    }

    /// Logs in as `user` through the gateway (`POST /login`, the form field `username`) and
    /// keeps the `session` cookie productpage sets.
    fn login(gateway: SocketAddr, user: &str) -> Browser {
        let form = format!("username={user}");
        let head = format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        );
        let reply = exchange(gateway, "POST", "/login", &head, &form, PAGE_TIMEOUT)
            .expect("an answer to POST /login");
        assert_eq!(reply.status, 302, "login redirects: {reply:?}");
        let cookie = reply
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .filter(|c| c.starts_with("session="))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("login sets the session cookie: {reply:?}"));
        Browser {
            gateway,
            cookie: Some(cookie),
        }
    }

    /// `GET /productpage`: what it shows of reviews (see [`shown`]).
    fn page(&self) -> String {
        let head = self
            .cookie
            .as_ref()
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        match exchange(self.gateway, "GET", "/productpage", &head, "", PAGE_TIMEOUT) {
            Some(r) if r.status == 200 => shown(&r.body),
            Some(r) => format!("status {}", r.status),
            None => "no answer".to_string(),
        }
    }

    /// The page and how long it took.
    fn timed_page(&self) -> (String, Duration) {
        let start = Instant::now();
        let shown = self.page();
        (shown, start.elapsed())
    }

    /// Polls until `STREAK` pages in a row show `expected`.
    fn wait_for(&self, expected: &str) {
        let mut streak = 0;
        poll(
            &format!("{STREAK} pages in a row showing {expected:?}"),
            || {
                let seen = self.page();
                streak = if seen == expected { streak + 1 } else { 0 };
                (streak >= STREAK)
                    .then_some(())
                    .ok_or_else(|| format!("the last showed {seen:?}"))
            },
        );
    }

    /// Polls until one page shows `expected` (a split shows each side only sometimes).
    fn wait_for_one(&self, expected: &str) {
        let mut seen = BTreeMap::new();
        poll(&format!("a page showing {expected:?}"), || {
            let page = self.page();
            if page == expected {
                return Ok(());
            }
            *seen.entry(page).or_insert(0) += 1;
            Err(format!("saw {seen:?}"))
        });
    }

    /// `n` pages (from 4 threads at once), counted by what they show.
    fn sample(&self, n: usize) -> BTreeMap<String, usize> {
        const THREADS: usize = 4;
        let counts: Vec<Vec<String>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let share = n / THREADS + usize::from(t < n % THREADS);
                    s.spawn(move || (0..share).map(|_| self.page()).collect())
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut out = BTreeMap::new();
        for shown in counts.into_iter().flatten() {
            *out.entry(shown).or_insert(0) += 1;
        }
        out
    }
}

/// What a product page shows of reviews: `reviews unavailable` (productpage gave up), or
/// the instance that served them and their stars (`reviews-v2-0, black stars`), `no stars`
/// (v1), or `ratings unavailable` (v2/v3 without an answer from ratings).
fn shown(page: &str) -> String {
    if page.contains(REVIEWS_ERROR) {
        return NO_REVIEWS.to_string();
    }
    let by = page
        .split("Reviews served by: ")
        .nth(1)
        .and_then(|rest| rest.split(['<', ' ']).next())
        .unwrap_or("nobody");
    let color = page
        .split("<div class=\"stars\" style=\"color: ")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    let stars = match color {
        Some(c) => format!("{c} stars"),
        None if page.contains(RATINGS_ERROR) => "ratings unavailable".to_string(),
        None => "no stars".to_string(),
    };
    format!("{by}, {stars}")
}

/// Asserts that `counts` holds only `a` and `b`, with `a` in `n * weight_a / 100` ± 5
/// binomial standard deviations. A correct weighted choice falls outside with probability
/// below 1e-6 (the normal approximation's two-sided 5 sigma tail, 5.7e-7), while a rule
/// not in force (all `a`, or the old split) falls outside for the weights tested here.
fn assert_split(counts: &BTreeMap<String, usize>, a: &str, weight_a: u32, b: &str) {
    let n: usize = counts.values().sum();
    let other: Vec<_> = counts.keys().filter(|k| *k != a && *k != b).collect();
    assert!(other.is_empty(), "only {a:?} and {b:?}: {counts:?}");
    let p = f64::from(weight_a) / 100.0;
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    let got = counts.get(a).copied().unwrap_or(0) as f64;
    eprintln!(
        "{weight_a}% {a:?}: {counts:?} (accepted: {mean} ± {:.1})",
        5.0 * sigma
    );
    assert!(
        (got - mean).abs() <= 5.0 * sigma,
        "{a:?} on {got} of {n} pages, expected {mean} ± {:.1} (5 sigma): {counts:?}",
        5.0 * sigma
    );
}

/// Polls `check` every 20 ms until it returns Ok, panicking after [`PUSH`] with `what` and
/// what the last check saw.
fn poll<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PUSH;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {PUSH:?} waiting for {what}; {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn istio_bookinfo_rules_route_split_and_inject_faults_through_the_gateway() {
    let mesh = Mesh::new();
    mesh.install("default", &[]).expect_code(0);
    let first_ip = support::sample_first_ip(0);
    mesh.run(&["samples", "deploy", "bookinfo", "--first-ip", &first_ip])
        .expect_code(0);
    apply(&mesh, "bookinfo-gateway.yaml");
    let anonymous = Browser::anonymous(mesh.ingress.http);
    // The gateway serves the page once the Gateway and its VirtualService are pushed.
    poll("the page through the gateway", || {
        let seen = anonymous.page();
        seen.starts_with("reviews-v")
            .then_some(())
            .ok_or_else(|| format!("the last showed {seen:?}"))
    });
    let jason = Browser::login(mesh.ingress.http, "jason");

    // Request routing: everything to v1, for everyone.
    apply(&mesh, "destination-rule-all.yaml");
    apply(&mesh, "virtual-service-all-v1.yaml");
    anonymous.wait_for(V1);
    assert_eq!(anonymous.sample(40), BTreeMap::from([(V1.into(), 40)]));
    assert_eq!(jason.sample(20), BTreeMap::from([(V1.into(), 20)]));

    // jason to v2 (black stars), everyone else to v1. Replaces the `reviews` VirtualService.
    apply(&mesh, "virtual-service-reviews-test-v2.yaml");
    jason.wait_for(V2);
    assert_eq!(jason.sample(40), BTreeMap::from([(V2.into(), 40)]));
    assert_eq!(anonymous.sample(40), BTreeMap::from([(V1.into(), 40)]));

    // Traffic shifting: 50% to v3 (red stars), then 20% to v2.
    apply(&mesh, "virtual-service-reviews-50-v3.yaml");
    anonymous.wait_for_one(V3);
    assert_split(&anonymous.sample(SPLIT_PAGES), V1, 50, V3);
    apply(&mesh, "virtual-service-reviews-80-20.yaml");
    anonymous.wait_for_one(V2);
    assert_split(&anonymous.sample(SPLIT_PAGES), V1, 80, V2);

    // Fault injection, with jason on v2 as in Istio's task: ratings delayed 7 s for jason.
    // reviews v2 waits 10 s for ratings, productpage 3 s for reviews, twice: the page gives
    // up on reviews after ~6 s.
    apply(&mesh, "virtual-service-reviews-test-v2.yaml");
    jason.wait_for(V2);
    apply(&mesh, "virtual-service-ratings-test-delay.yaml");
    let took = poll("jason's page without reviews", || {
        let (seen, took) = jason.timed_page();
        (seen == NO_REVIEWS)
            .then_some(took)
            .ok_or_else(|| format!("the last showed {seen:?}"))
    });
    eprintln!("jason's page without reviews took {took:?}");
    assert!(
        took >= Duration::from_secs(5),
        "the page gave up on reviews after productpage's timeouts, not at once: {took:?}"
    );
    assert_eq!(jason.timed_page().0, NO_REVIEWS);
    assert_eq!(anonymous.sample(20), BTreeMap::from([(V1.into(), 20)]));

    // An HTTP 500 from ratings for jason instead. Replaces the `ratings` VirtualService.
    apply(&mesh, "virtual-service-ratings-test-abort.yaml");
    jason.wait_for(V2_WITHOUT_RATINGS);
    assert_eq!(
        jason.sample(20),
        BTreeMap::from([(V2_WITHOUT_RATINGS.into(), 20)])
    );
    assert_eq!(anonymous.sample(20), BTreeMap::from([(V1.into(), 20)]));
    // Everyone else on v3, which asks ratings too: only jason's calls are aborted.
    apply(&mesh, "virtual-service-reviews-jason-v2-v3.yaml");
    anonymous.wait_for(V3);
    assert_eq!(anonymous.sample(40), BTreeMap::from([(V3.into(), 40)]));
    assert_eq!(
        jason.sample(20),
        BTreeMap::from([(V2_WITHOUT_RATINGS.into(), 20)])
    );

    // Deleting the abort rule gives jason his stars back.
    let abort = fixtures().join("virtual-service-ratings-test-abort.yaml");
    mesh.run(&["delete", "-f", &abort.display().to_string()])
        .expect_code(0);
    jason.wait_for(V2);
}

/// A reply: the status, the header block, the body.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    /// The first value of header `name`.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// One HTTP/1.0 exchange (the connection closes after the reply): `head` is extra header
/// lines, each ending in CRLF. None when nothing answered within `timeout`.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    head: &str,
    body: &str,
    timeout: Duration,
) -> Option<Reply> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: bookinfo\r\n{head}\r\n{body}"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some(Reply {
        status: head.split_whitespace().nth(1)?.parse().ok()?,
        head: head.to_string(),
        body: body.to_string(),
    })
}
