//! A real crash: a child process (this test binary re-run with an env var) applies batches
//! to a LocalStore and prints an `ACK` line after each apply returns; the parent kills it
//! with SIGKILL at a random point, reopens the store, and checks every acknowledged write
//! is there, and that the batch in flight at the kill is either wholly there or wholly not
//! (each batch changes a pair of resources together; a store that committed them one by one
//! fails this test). While the child runs, the parent's own open must be refused.
//!
//! A kill -9 cannot show a missing fsync (the page cache outlives the process); that part
//! of durability rests on redb's commit, see `store/local.rs`.
#![allow(clippy::unwrap_used)]

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mesh_api::istio::Kind;
use mesh_controlplane::store::testing::{reviews_split_yaml, TempDir};
use mesh_controlplane::store::{ConfigStore, LocalStore, StoreError};

/// Set (to the store directory) in the child process.
const CHILD_ENV: &str = "MESHCTL_STORE_CRASH_CHILD";
const TEST_NAME: &str = "acknowledged_applies_survive_sigkill";
/// Resources are written in pairs `vs-<k>` and `vs-<k>-twin`, changed together.
const PAIRS: u64 = 4;
/// More applies than any kill point, so the child is always killed mid-stream.
const CHILD_APPLIES: u64 = 10_000;
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn acknowledged_applies_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = TempDir::new("store-crash").unwrap();
    // Several crashes on the same file: each reopen must find a consistent store that
    // takes new writes.
    for round in 0..5 {
        crash_once(dir.path(), round);
    }
}

/// Kills the child by pid if the test fails before it is killed on purpose.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Acks {
    /// name -> generation the child was told.
    generations: BTreeMap<String, u64>,
    /// The highest store revision the child was told.
    revision: u64,
    count: u64,
}

impl Acks {
    /// Records `ACK <revision> <name>=<generation> ...`; other output is ignored.
    fn record(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if words.next() != Some("ACK") {
            return;
        }
        self.revision = words.next().unwrap().parse().unwrap();
        for pair in words {
            let (name, generation) = pair.split_once('=').unwrap();
            self.generations
                .insert(name.to_string(), generation.parse().unwrap());
        }
        self.count += 1;
    }
}

fn crash_once(dir: &Path, round: u32) {
    let random = RandomState::new().hash_one(round);
    let kill_after = 1 + random % 40;
    // Killing right after an ack would mostly land while the child parses its next batch;
    // a random delay of up to a few commits spreads kills over every phase of a write.
    let jitter = Duration::from_micros((random >> 8) % 20_000);
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + DEADLINE;
    let mut acks = Acks::default();
    while acks.count < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => acks.record(&line),
            Err(e) => panic!(
                "round {round}: child gave {} acks of {kill_after} before {e:?}",
                acks.count
            ),
        }
    }
    // While the child runs, it holds the store: another process must be refused.
    let refused = LocalStore::open(dir);
    assert!(
        matches!(refused, Err(StoreError::AlreadyOpen(_))),
        "round {round}: a second process opened a store in use: {refused:?}"
    );
    // Not a wait for a condition: this picks the moment of the crash.
    std::thread::sleep(jitter);
    child.0.kill().unwrap(); // SIGKILL: no destructors, no flush, mid-write.
    let status = child.0.wait().unwrap();
    assert!(
        !status.success(),
        "the child was killed, not finished: {status}"
    );
    // Lines already in the pipe were printed after their commit: they count as acks too.
    for line in rx.iter() {
        acks.record(&line);
    }
    reader.join().unwrap();

    let store = LocalStore::open(dir).unwrap();
    let revision = store.revision();
    assert!(
        (acks.revision..=acks.revision + 1).contains(&revision),
        "round {round}: store at revision {revision}, last acknowledged {}",
        acks.revision
    );
    for (name, acked) in &acks.generations {
        let stored = store
            .get(Kind::VirtualService, "default", name)
            .unwrap_or_else(|| panic!("round {round}: acknowledged {name} is missing"));
        // At most one batch can have committed after its ack was printed.
        assert!(
            (*acked..=acked + 1).contains(&stored.generation),
            "round {round}: {name} at generation {}, acknowledged {acked}",
            stored.generation
        );
    }
    for pair in 0..PAIRS {
        let one = store.get(Kind::VirtualService, "", &format!("vs-{pair}"));
        let twin = store.get(Kind::VirtualService, "", &format!("vs-{pair}-twin"));
        assert_eq!(
            one.map(|s| (s.generation, s.updated_revision)),
            twin.map(|s| (s.generation, s.updated_revision)),
            "round {round}: a batch was half applied"
        );
    }
}

/// The child: applies pairs forever (until killed), acknowledging each commit.
fn child(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = LocalStore::open(dir).unwrap();
        let start = store.revision();
        let mut out = std::io::stdout().lock();
        for i in 0..CHILD_APPLIES {
            let pair = i % PAIRS;
            // Weights cycle, so nearly every apply changes both resources of the pair.
            let weight = u32::try_from((start + i) % 97).unwrap_or(0) + 1;
            let name = format!("vs-{pair}");
            let text = format!(
                "{}---\n{}",
                reviews_split_yaml(&name, weight),
                reviews_split_yaml(&format!("{name}-twin"), weight)
            );
            let applied = store.apply_yaml("crash.yaml", &text).await.unwrap();
            let mut line = format!("ACK {}", store.revision());
            for a in &applied {
                line.push_str(&format!(" {}={}", a.key.name, a.generation));
            }
            writeln!(out, "{line}").unwrap();
            out.flush().unwrap();
        }
    });
}
