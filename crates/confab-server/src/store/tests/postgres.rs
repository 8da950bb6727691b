//! What only PostgreSQL can show: several stores (nodes) on one database writing at once,
//! migrations raced by nodes starting together, and a database that goes away and comes back
//! (through a TCP proxy the test cuts).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::{open_pg, test_database, PgSchema};
use crate::store::postgres::PgStore;
use crate::store::{
    Appended, CommitObserver, Committed, NewEntry, NewMessage, Post, Store, StoreError, User,
};

fn message(conv: i64, sender: &User, content: &str, client_id: Option<String>) -> NewMessage {
    NewMessage {
        conv,
        sender: sender.clone(),
        receiver: "#general".into(),
        entry: NewEntry::Post(Post {
            content: content.into(),
            ..Post::default()
        }),
        client_id,
        origin: 0,
    }
}

type Fed = Arc<Mutex<Vec<Committed>>>;

async fn node(url: &str, observer: Arc<dyn CommitObserver>) -> (Arc<PgStore>, Fed) {
    let fed: Fed = Arc::new(Mutex::new(Vec::new()));
    let sink = fed.clone();
    let store = open_pg(
        url,
        64,
        Box::new(move |c| sink.lock().unwrap().push(c)),
        observer,
    )
    .await;
    (Arc::new(store), fed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_appending_to_one_conversation_share_one_gap_free_sequence() {
    let schema = PgSchema::new();
    let (a, fed_a) = node(&schema.url(), Arc::new(())).await;
    let (b, fed_b) = node(&schema.url(), Arc::new(())).await;
    let (alice, general) = a.create_user("alice", "h", "#general").await.unwrap();
    let (bob, _) = b.create_user("bob", "h", "#general").await.unwrap();
    let send = |store: Arc<PgStore>, user: User, tag: &'static str| {
        let pending: Vec<_> = (0..500)
            .map(|i| {
                store.append(message(
                    general.id,
                    &user,
                    &format!("{tag}{i}"),
                    Some(format!("{tag}{i}")),
                ))
            })
            .collect();
        tokio::spawn(futures_util::future::join_all(pending))
    };
    let (from_a, from_b) = tokio::join!(send(a.clone(), alice, "a"), send(b.clone(), bob, "b"));
    let mut seqs = Vec::new();
    for appended in from_a.unwrap().into_iter().chain(from_b.unwrap()) {
        let Appended::New(stored) = appended.unwrap() else {
            panic!("not new")
        };
        seqs.push(stored.seq);
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=1000).collect::<Vec<u64>>(),
        "no gap, no duplicate"
    );
    for fed in [fed_a, fed_b] {
        let fed: Vec<u64> = fed.lock().unwrap().iter().map(|c| c.message.seq).collect();
        assert_eq!(fed.len(), 500);
        assert!(
            fed.windows(2).all(|w| w[0] < w[1]),
            "each node's feed sees its commits in seq order"
        );
    }
    let stored = a.changes(general.id, 0, 2000).await.unwrap();
    let stored: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(stored, (1..=1000).collect::<Vec<u64>>());
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_id_sent_through_two_nodes_at_once_is_stored_once() {
    let schema = PgSchema::new();
    let (a, _) = node(&schema.url(), Arc::new(())).await;
    let (b, _) = node(&schema.url(), Arc::new(())).await;
    let (alice, general) = a.create_user("alice", "h", "#general").await.unwrap();
    for round in 0..30 {
        let key = Some(format!("k{round}"));
        let (x, y) = tokio::join!(
            a.append(message(general.id, &alice, "via a", key.clone())),
            b.append(message(general.id, &alice, "via b", key)),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        match (&x, &y) {
            (Appended::New(new), Appended::Duplicate(original))
            | (Appended::Duplicate(original), Appended::New(new)) => {
                assert_eq!(new.id, original.id);
                assert_eq!(new.seq, original.seq);
            }
            _ => panic!("round {round}: {x:?} / {y:?}"),
        }
    }
    let stored = a.changes(general.id, 0, 100).await.unwrap();
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=30).collect::<Vec<u64>>(),
        "one row per key, no gap"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_limits_hold_across_nodes() {
    use crate::store::social::{LinkCreated, LinkUse, NewLink};
    use crate::store::SocialStore;
    let schema = PgSchema::new();
    let (a, _) = node(&schema.url(), Arc::new(())).await;
    let (b, _) = node(&schema.url(), Arc::new(())).await;
    let (alice, general) = a.create_user("alice", "h", "#general").await.unwrap();
    let now = crate::clock::now_ms();
    for round in 0..10 {
        let link = |code: String| NewLink {
            code,
            conv: general.id,
            creator: alice.id,
            expires_ms: now + 60_000,
            max_uses: 1,
        };
        let max_live = round + 1;
        let (x, y) = tokio::join!(
            a.create_link(link(format!("a{round}")), max_live, now),
            b.create_link(link(format!("b{round}")), max_live, now),
        );
        let created = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|c| matches!(c, LinkCreated::Created(_)))
            .count();
        assert_eq!(created, 1, "round {round}: one room, one more live link");
        let code = match a.live_links(general.id, now).await.unwrap().last() {
            Some(link) => link.code.clone(),
            None => panic!("no live link"),
        };
        let (x, y) = tokio::join!(a.take_link_use(&code, now), b.take_link_use(&code, now));
        let taken = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|u| matches!(u, LinkUse::Taken(_)))
            .count();
        assert_eq!(taken, 1, "round {round}: the last use is taken once");
        a.release_link_use(&code).await.unwrap();
    }
    a.close().await;
    b.close().await;
}

/// Records the size of every batch committed.
#[derive(Default)]
struct Sizes(Mutex<Vec<usize>>);

impl CommitObserver for Sizes {
    fn batch_committed(&self, jobs: usize, _: Duration, ok: bool) {
        assert!(ok);
        self.0.lock().unwrap().push(jobs);
    }
}

#[tokio::test]
async fn group_commit_batches_concurrent_writes() {
    let schema = PgSchema::new();
    let sizes = Arc::new(Sizes::default());
    let (store, _) = node(&schema.url(), sizes.clone()).await;
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    let pending: Vec<_> = (0..300)
        .map(|i| store.append(message(general.id, &alice, &format!("m{i}"), None)))
        .collect();
    for appended in futures_util::future::join_all(pending).await {
        appended.unwrap();
    }
    let sizes = sizes.0.lock().unwrap().clone();
    let biggest = sizes.iter().copied().max().unwrap_or(0);
    assert!(biggest > 1, "no batch held more than one write: {sizes:?}");
    assert!(biggest <= 64, "max_batch holds: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 301);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let schema = PgSchema::new();
    let url = schema.url();
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                PgStore::open_observed(&url, 8, 2, Box::new(|_| {}), Arc::new(())).await
            })
        })
        .collect();
    let mut stores = Vec::new();
    for open in futures_util::future::join_all(opens).await {
        stores.push(open.unwrap().expect("every node opens"));
    }
    let (alice, _) = stores[0]
        .create_user("alice", "h", "#general")
        .await
        .unwrap();
    let found = stores[3].credentials("alice").await.unwrap().unwrap();
    assert_eq!(found.user, alice);
    for store in stores {
        store.close().await;
    }
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_unavailable() {
    // A port nothing listens on.
    let unused = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let url = format!("postgres://postgres@127.0.0.1:{port}/test?connect_timeout=2");
    let opened = PgStore::open(&url, 8, Box::new(|_| {})).await;
    assert!(
        matches!(opened, Err(StoreError::Unavailable(_))),
        "{:?}",
        opened.err()
    );
}

/// A TCP proxy to PostgreSQL that the test can cut (every connection dropped, new ones
/// refused), pause (bytes held, connections kept: a database that stopped answering) and
/// restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    /// Bumped on every cut: connections from before end.
    epoch: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let paused = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicUsize::new(0));
        let (up2, epoch2, paused2) = (up.clone(), epoch.clone(), paused.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let epoch = epoch2.clone();
                let paused = paused2.clone();
                let born = epoch.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (from_client, to_client) = client.split();
                    let (from_server, to_server) = server.split();
                    let copy = async {
                        tokio::join!(
                            pump(from_client, to_server, &paused),
                            pump(from_server, to_client, &paused)
                        )
                    };
                    let cut = async {
                        while epoch.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            paused,
            epoch,
        }
    }

    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes one way, holding them while `paused`.
async fn pump(
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
    paused: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        while paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The URL of the test database through `proxy`, in `schema`.
fn via(proxy: &Proxy, schema: &PgSchema) -> String {
    let config: tokio_postgres::Config = test_database().parse().unwrap();
    let user = config.get_user().unwrap_or("postgres").to_owned();
    let db = config.get_dbname().unwrap_or("test").to_owned();
    format!(
        "postgres://{user}@127.0.0.1:{}/{db}?connect_timeout=2&schema={}",
        proxy.port, schema.name
    )
}

async fn proxy_to_test_database() -> Proxy {
    let config: tokio_postgres::Config = test_database().parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Proxy::start(format!("{host}:{port}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_unavailable_within_the_deadline() {
    let schema = PgSchema::new();
    let proxy = proxy_to_test_database().await;
    let (store, _) = node(&via(&proxy, &schema), Arc::new(())).await;
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    proxy.pause(true);
    let started = std::time::Instant::now();
    let (read, probe, sent) = tokio::join!(
        store.credentials("alice"),
        store.probe_write(),
        store.append(message(general.id, &alice, "held", Some("k".into()))),
    );
    let waited = started.elapsed();
    for outcome in [read.map(drop), probe, sent.map(drop)] {
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
    }
    // Bounded, not timed: generous slack, since a loaded 2-core machine stretches every wait.
    let limit = crate::store::postgres::STATEMENT_DEADLINE * 3 + Duration::from_secs(10);
    assert!(waited < limit, "waited {waited:?}");
    proxy.pause(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.probe_write().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.credentials("alice").await.unwrap().is_some());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_unavailable_while_the_database_is_gone_and_recovers_by_itself() {
    let schema = PgSchema::new();
    let proxy = proxy_to_test_database().await;
    let (store, fed) = node(&via(&proxy, &schema), Arc::new(())).await;
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    store.probe_write().await.unwrap();

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let probe = store.probe_write().await;
    assert!(
        matches!(probe, Err(StoreError::Unavailable(_))),
        "{probe:?}"
    );
    let sent = store
        .append(message(general.id, &alice, "lost?", Some("k1".into())))
        .await;
    assert!(matches!(sent, Err(StoreError::Unavailable(_))), "{sent:?}");
    let read = store.credentials("alice").await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.probe_write().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The retry of the send that failed is stored once.
    let again = store
        .append(message(general.id, &alice, "lost?", Some("k1".into())))
        .await
        .unwrap();
    assert!(
        matches!(again, Appended::New(ref m) if m.seq == 1),
        "{again:?}"
    );
    assert_eq!(fed.lock().unwrap().len(), 1, "no false commit was fed");
    store.close().await;
}

/// Appends per second through one and through two stores on one schema (a figure, not a
/// check): `cargo test -p confab-server --lib store::tests::postgres::append_throughput --
/// --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn append_throughput() {
    const TOTAL: usize = 4000;
    let schema = PgSchema::new();
    let (a, _) = node(&schema.url(), Arc::new(())).await;
    let (b, _) = node(&schema.url(), Arc::new(())).await;
    let (alice, general) = a.create_user("alice", "h", "#general").await.unwrap();
    let other = a.room("#other").await.unwrap();
    let run = |stores: Vec<(Arc<PgStore>, i64)>, tag: &'static str| {
        let alice = alice.clone();
        async move {
            let started = std::time::Instant::now();
            let per = TOTAL / stores.len();
            let tasks: Vec<_> = stores
                .into_iter()
                .enumerate()
                .map(|(n, (store, conv))| {
                    let pending: Vec<_> = (0..per)
                        .map(|i| {
                            store.append(message(
                                conv,
                                &alice,
                                "throughput",
                                Some(format!("{tag}-{n}-{i}")),
                            ))
                        })
                        .collect();
                    tokio::spawn(futures_util::future::join_all(pending))
                })
                .collect();
            for task in tasks {
                for appended in task.await.unwrap() {
                    appended.unwrap();
                }
            }
            let rate = TOTAL as f64 / started.elapsed().as_secs_f64();
            println!(
                "{tag}: {TOTAL} appends in {:?}: {rate:.0}/s",
                started.elapsed()
            );
        }
    };
    run(vec![(a.clone(), general.id)], "one store").await;
    run(
        vec![(a.clone(), general.id), (b.clone(), general.id)],
        "two stores, one conversation",
    )
    .await;
    run(
        vec![(a.clone(), general.id), (b.clone(), other.id)],
        "two stores, two conversations",
    )
    .await;
    a.close().await;
    b.close().await;
}
