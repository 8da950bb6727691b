//! The Redis bus between two nodes, on the machine's real Redis (`CONFAB_TEST_REDIS`, default
//! `redis://127.0.0.1:6379`), each run in a namespace of its own: what one node publishes
//! reaches the other once and in order, never comes back to itself, a node knows when it is
//! on the bus (a resync), and presence keys say which nodes are alive.

use std::time::Duration;

use bytes::Bytes;
use confab_server::bus::redis::RedisBus;
use confab_server::bus::{Audience, Bus, CacheSync, Event, Remote};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

fn url() -> String {
    std::env::var("CONFAB_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn metrics() -> std::sync::Arc<confab_server::metrics::Metrics> {
    std::sync::Arc::new(confab_server::metrics::Metrics::new())
}

fn namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("bustest{}x{nanos}", std::process::id())
}

/// The next event that is not `skip`, within 10 s.
async fn next(events: &mut UnboundedReceiver<Event>, skip: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.expect("bus open");
            if !skip(&event) {
                return event;
            }
        }
    })
    .await
    .expect("an event within 10 s")
}

fn housekeeping(event: &Event) -> bool {
    matches!(
        event,
        Event::Resync { .. } | Event::Remote(Remote::LiveNodes(_))
    )
}

async fn on_bus(events: &mut UnboundedReceiver<Event>) -> Vec<(String, Vec<i64>)> {
    match next(events, |e| !matches!(e, Event::Resync { .. })).await {
        Event::Resync { presence } => presence,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn events_cross_once_in_order_and_never_echo() {
    let stop = CancellationToken::new();
    let ns = namespace();
    let (a, mut a_events) = RedisBus::start(&url(), &ns, metrics(), stop.clone()).unwrap();
    let (b, mut b_events) = RedisBus::start(&url(), &ns, metrics(), stop.clone()).unwrap();
    on_bus(&mut a_events).await;
    on_bus(&mut b_events).await;
    assert_ne!(a.node(), b.node());

    for i in 0..200u64 {
        a.publish(Event::Typing {
            sender: 1,
            audience: Audience::Conversation(7),
            frame: Bytes::from(format!("{{\"n\":{i}}}")),
        });
    }
    a.publish(Event::Sync(CacheSync::Contact {
        user: 1,
        contact: 2,
        added: true,
    }));
    a.publish(Event::Presence {
        user: 5,
        online: true,
    });
    // The publisher's own dispatcher gets its events at once (but never a cache change).
    for i in 0..200u64 {
        match next(&mut a_events, housekeeping).await {
            Event::Typing { frame, .. } => assert_eq!(frame, format!("{{\"n\":{i}}}")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(
        next(&mut a_events, housekeeping).await,
        Event::Presence {
            user: 5,
            online: true
        }
    ));
    // The other node gets them once, in order, as another node's.
    for i in 0..200u64 {
        match next(&mut b_events, housekeeping).await {
            Event::Typing {
                sender: 1,
                audience: Audience::Conversation(7),
                frame,
            } => assert_eq!(frame, format!("{{\"n\":{i}}}")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(
        next(&mut b_events, housekeeping).await,
        Event::Remote(Remote::Sync(CacheSync::Contact {
            user: 1,
            contact: 2,
            added: true
        }))
    ));
    match next(&mut b_events, housekeeping).await {
        Event::Remote(Remote::Presence {
            node,
            user: 5,
            online: true,
        }) => {
            assert_eq!(node, a.node())
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing came back to a: only housekeeping for a second.
    let quiet =
        tokio::time::timeout(Duration::from_secs(1), next(&mut a_events, housekeeping)).await;
    assert!(quiet.is_err(), "an echo: {quiet:?}");
    stop.cancel();
}

#[tokio::test]
async fn a_new_node_learns_who_is_online_and_a_stopped_node_leaves() {
    let stop_a = CancellationToken::new();
    let stop_b = CancellationToken::new();
    let ns = namespace();
    let (a, mut a_events) = RedisBus::start(&url(), &ns, metrics(), stop_a.clone()).unwrap();
    on_bus(&mut a_events).await;
    a.publish(Event::Presence {
        user: 42,
        online: true,
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (b, mut b_events) = RedisBus::start(&url(), &ns, metrics(), stop_b.clone()).unwrap();
    let presence = on_bus(&mut b_events).await;
    assert_eq!(presence, vec![(a.node().to_owned(), vec![42])]);
    // b lists a among the live nodes at its keepalives.
    match next(&mut b_events, |e| {
        !matches!(e, Event::Remote(Remote::LiveNodes(_)))
    })
    .await
    {
        Event::Remote(Remote::LiveNodes(nodes)) => assert_eq!(nodes, vec![a.node().to_owned()]),
        _ => unreachable!(),
    }
    // a stops: it takes its keys with it, so b's next keepalive lists nobody.
    stop_a.cancel();
    let gone = tokio::time::timeout(Duration::from_secs(12), async {
        loop {
            if let Event::Remote(Remote::LiveNodes(nodes)) = next(&mut b_events, |e| {
                !matches!(e, Event::Remote(Remote::LiveNodes(_)))
            })
            .await
            {
                if nodes.is_empty() {
                    return;
                }
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "a stopped node stayed listed");
    drop(b);
    stop_b.cancel();
}

#[tokio::test]
async fn an_unreachable_redis_delays_nothing_local() {
    let stop = CancellationToken::new();
    // Nothing listens on port 1.
    let (bus, mut events) =
        RedisBus::start("redis://127.0.0.1:1", &namespace(), metrics(), stop.clone()).unwrap();
    bus.publish(Event::Notice {
        audience: Audience::User(1),
        frame: Bytes::from_static(b"{}"),
    });
    assert!(matches!(
        next(&mut events, housekeeping).await,
        Event::Notice { .. }
    ));
    assert!(RedisBus::start("not a url", "x", metrics(), stop.clone()).is_err());
    stop.cancel();
}
