//! `meshctl samples traffic`: a load generator for a sample's front end. It sends `GET
//! <path>` to the ingress gateway at a fixed rate (open loop: a slow answer does not slow
//! the sending), optionally as a logged-in user (Bookinfo's `POST /login` and its session
//! cookie), and sums up what came back: status counts, errors, latencies, the rate reached.
//! [`Summary`] is pure (record outcomes, render the text); [`run`] does the IO.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// At most this many requests wait for an answer at once; a tick beyond it is counted as
/// not sent (the target is far slower than the asked rate).
const MAX_IN_FLIGHT: usize = 1024;

/// What to send.
#[derive(Clone, Debug)]
pub struct Options {
    /// The ingress gateway.
    pub target: SocketAddr,
    /// The path every request asks for (`/productpage`).
    pub path: String,
    /// Requests per second.
    pub rps: u32,
    /// How long to send.
    pub duration: Duration,
    /// Log in as this user first (Bookinfo: `POST /login`, form field `username`).
    pub user: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Options {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.target)
    }
}

/// Why the traffic could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The login gave no session.
    #[error(
        "logging in as {user} (POST {url}) {what}; is the sample's gateway config applied \
         (`meshctl apply -f samples/bookinfo/networking/bookinfo-gateway.yaml` routes /login) \
         and the sample deployed (`meshctl samples deploy bookinfo`)?"
    )]
    Login {
        /// Who.
        user: String,
        /// Where.
        url: String,
        /// What came back.
        what: String,
    },
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An answer with this status, after this long.
    Answered(u16, Duration),
    /// No answer: why (`connection refused`, `timed out after 15 s`).
    Failed(String),
}

/// What a run sent and got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Requests sent.
    pub sent: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests without an answer, by reason.
    pub errors: BTreeMap<String, u64>,
    /// Ticks when too many requests were waiting, so none was sent.
    pub skipped: u64,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Stopped by Ctrl-C (requests still waiting were dropped).
    pub interrupted: bool,
    /// Latency of every answer, in microseconds.
    latencies_us: Vec<u64>,
}

impl Summary {
    /// Counts one request's outcome.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Answered(status, took) => {
                *self.statuses.entry(status).or_default() += 1;
                self.latencies_us
                    .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
            }
            Outcome::Failed(why) => *self.errors.entry(why).or_default() += 1,
        }
    }

    /// Requests that got an answer or an error.
    pub fn completed(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    /// Answers with a 2xx or 3xx status.
    pub fn succeeded(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..400).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// The `q` quantile of the latencies (0.5 = median), when there are answers.
    fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let last = sorted.len().checked_sub(1)?;
        let i = ((last as f64) * q).round() as usize;
        sorted.get(i.min(last)).map(|us| Duration::from_micros(*us))
    }

    /// The text `meshctl samples traffic` prints: one line for the run, one per status and
    /// error, and the latencies.
    pub fn render(&self, opts: &Options) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.completed() as f64 / secs
        } else {
            0.0
        };
        let who = opts
            .user
            .as_ref()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default();
        let mut out = format!(
            "{} requests in {secs:.1} s to {}{who}: {rate:.1} rps achieved (asked {})\n",
            self.sent,
            opts.url(&opts.path),
            opts.rps
        );
        for (status, n) in &self.statuses {
            let reason = StatusCode::from_u16(*status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            out.push_str(&format!("  {status} {reason}: {n}\n"));
        }
        for (why, n) in &self.errors {
            out.push_str(&format!("  no answer ({why}): {n}\n"));
        }
        let dropped = self.sent.saturating_sub(self.completed());
        if dropped > 0 {
            out.push_str(&format!("  still waiting at Ctrl-C: {dropped}\n"));
        }
        if self.skipped > 0 {
            out.push_str(&format!(
                "  not sent ({MAX_IN_FLIGHT} requests were waiting): {}\n",
                self.skipped
            ));
        }
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        if !self.latencies_us.is_empty() {
            out.push_str(&format!(
                "  latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n",
                ms(self.quantile(0.5)),
                ms(self.quantile(0.9)),
                ms(self.quantile(0.99)),
                ms(self.quantile(1.0)),
            ));
        }
        if self.interrupted {
            out.push_str("  (stopped by Ctrl-C)\n");
        }
        out
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client(timeout: Duration) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The innermost cause of an error ("connection refused"), which says the most.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(s) = cause.source() {
        cause = s;
    }
    cause.to_string()
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `session=...` pair of a `Set-Cookie` header, if it sets the session.
fn session_cookie(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let value = pair.strip_prefix("session=")?;
    (!value.is_empty()).then(|| pair.to_string())
}

/// Logs in as `user`: `POST /login` with the form field `username`; returns the session
/// cookie to send with every request.
async fn login(http: &HttpClient, opts: &Options, user: &str) -> Result<String, TrafficError> {
    let url = opts.url("/login");
    let fail = |what: String| TrafficError::Login {
        user: user.to_string(),
        url: url.clone(),
        what,
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!(
            "username={}",
            form_encode(user)
        ))))
        .map_err(|e| fail(format!("could not be sent ({e})")))?;
    let resp = tokio::time::timeout(opts.timeout, http.request(req))
        .await
        .map_err(|_| fail(format!("got no answer within {:?}", opts.timeout)))?
        .map_err(|e| fail(format!("got no answer ({})", root_cause(&e))))?;
    let status = resp.status();
    let cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session_cookie);
    // Drain the body so the connection goes back to the pool.
    let _ = resp.into_body().collect().await;
    cookie.ok_or_else(|| fail(format!("answered {status} without a session cookie")))
}

/// One `GET`, timed.
async fn get(http: HttpClient, url: String, cookie: Option<String>, timeout: Duration) -> Outcome {
    let mut req = Request::builder().method(Method::GET).uri(url);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let req = match req.body(Full::new(Bytes::new())) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("bad request: {e}")),
    };
    let start = Instant::now();
    let exchange = async {
        let resp = http.request(req).await.map_err(|e| root_cause(&e))?;
        let status = resp.status().as_u16();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| root_cause(&e))?;
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(status)) => Outcome::Answered(status, start.elapsed()),
        Ok(Err(why)) => Outcome::Failed(why),
        Err(_) => Outcome::Failed(format!("timed out after {} s", timeout.as_secs())),
    }
}

/// Sends the traffic `opts` asks for until its duration is over or `stop` completes
/// (Ctrl-C), and returns the summary. Fails only when the login fails.
pub async fn run(opts: &Options, stop: impl Future<Output = ()>) -> Result<Summary, TrafficError> {
    let http = client(opts.timeout);
    let cookie = match &opts.user {
        Some(user) => Some(login(&http, opts, user).await?),
        None => None,
    };
    let url = opts.url(&opts.path);
    let mut summary = Summary::default();
    let period = Duration::from_secs_f64(1.0 / f64::from(opts.rps.max(1)));
    let mut tick = tokio::time::interval(period);
    // Open loop: ticks missed while the runtime was busy are sent at once, keeping the rate.
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let end = tokio::time::Instant::now() + opts.duration;
    let mut waiting = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => {
                summary.interrupted = true;
                break;
            }
            _ = tokio::time::sleep_until(end) => break,
            Some(done) = waiting.join_next(), if !waiting.is_empty() => {
                if let Ok(outcome) = done {
                    summary.record(outcome);
                }
            }
            _ = tick.tick() => {
                if tokio::time::Instant::now() >= end {
                    break;
                }
                if waiting.len() >= MAX_IN_FLIGHT {
                    summary.skipped += 1;
                    continue;
                }
                summary.sent += 1;
                waiting.spawn(get(http.clone(), url.clone(), cookie.clone(), opts.timeout));
            }
        }
    }
    // The answers still on their way (each has its timeout), unless Ctrl-C.
    while !summary.interrupted {
        tokio::select! {
            _ = &mut stop => summary.interrupted = true,
            next = waiting.join_next() => match next {
                Some(Ok(outcome)) => summary.record(outcome),
                Some(Err(_)) => {}
                None => break,
            },
        }
    }
    waiting.abort_all();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            target: "127.0.0.1:8080".parse().expect("addr"),
            path: "/productpage".into(),
            rps: 20,
            duration: Duration::from_secs(2),
            user: Some("jason".into()),
            timeout: Duration::from_secs(15),
        }
    }

    #[test]
    fn the_summary_counts_statuses_errors_and_latencies() {
        let mut s = Summary {
            sent: 5,
            elapsed: Duration::from_secs(2),
            ..Summary::default()
        };
        for ms in [10, 20, 30] {
            s.record(Outcome::Answered(200, Duration::from_millis(ms)));
        }
        s.record(Outcome::Answered(503, Duration::from_millis(40)));
        s.record(Outcome::Failed("connection refused".into()));
        assert_eq!((s.completed(), s.succeeded()), (5, 3));
        let text = s.render(&opts());
        assert_eq!(
            text,
            "5 requests in 2.0 s to http://127.0.0.1:8080/productpage as jason: 2.5 rps \
             achieved (asked 20)\n  200 OK: 3\n  503 Service Unavailable: 1\n  no answer \
             (connection refused): 1\n  latency p50 30.0 ms, p90 40.0 ms, p99 40.0 ms, max \
             40.0 ms\n"
        );
    }

    #[test]
    fn an_interrupted_run_says_what_was_still_waiting() {
        let s = Summary {
            sent: 3,
            interrupted: true,
            elapsed: Duration::from_secs(1),
            ..Summary::default()
        };
        let text = s.render(&opts());
        assert!(text.contains("still waiting at Ctrl-C: 3"), "{text}");
        assert!(text.contains("(stopped by Ctrl-C)"), "{text}");
    }

    #[test]
    fn login_form_and_cookie() {
        assert_eq!(form_encode("jason"), "jason");
        assert_eq!(form_encode("a b&c=d"), "a+b%26c%3Dd");
        assert_eq!(
            session_cookie("session=jason; Path=/; HttpOnly").as_deref(),
            Some("session=jason")
        );
        assert_eq!(session_cookie("session=; Path=/; Max-Age=0"), None);
        assert_eq!(session_cookie("other=1"), None);
    }
}
