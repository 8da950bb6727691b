//! The SQLite store against a real database file.

use std::sync::{Arc, Mutex};

use super::SqliteStore;
use crate::auth::Token;
use crate::store::{Appended, Committed, NewMessage, Page, Store, StoreError, User};

fn open() -> (
    tempfile::TempDir,
    Arc<SqliteStore>,
    Arc<Mutex<Vec<Committed>>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let fed = Arc::new(Mutex::new(Vec::new()));
    let sink = fed.clone();
    let store = SqliteStore::open(
        dir.path(),
        64,
        Box::new(move |c| sink.lock().unwrap().push(c)),
    )
    .unwrap();
    (dir, Arc::new(store), fed)
}

fn message(conv: i64, sender: &User, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        conv,
        sender: sender.clone(),
        receiver: "#general".into(),
        content: content.into(),
        client_id: client_id.map(str::to_owned),
        origin: 7,
    }
}

#[tokio::test]
async fn users_are_unique_and_join_the_default_room() {
    let (_dir, store, _) = open();
    let (alice, general) = store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    assert!(matches!(
        store.create_user("alice", "hash", "#general").await,
        Err(StoreError::Conflict(_))
    ));
    let directory = store.directory().await.unwrap();
    assert_eq!(directory.members, vec![(general.id, alice.id)]);
    let token = Token::generate().unwrap();
    store.create_token(alice.id, token.hash()).await.unwrap();
    assert_eq!(
        store.user_by_token(token.hash()).await.unwrap(),
        Some(alice.clone())
    );
    assert!(store.revoke_token(token.hash()).await.unwrap());
    assert_eq!(store.user_by_token(token.hash()).await.unwrap(), None);
    assert!(!store.revoke_token(token.hash()).await.unwrap());
}

#[tokio::test]
async fn concurrent_appends_get_gap_free_sequences_in_feed_order() {
    let (_dir, store, fed) = open();
    let (alice, general) = store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    let pending: Vec<_> = (0..500)
        .map(|i| {
            store.append(message(
                general.id,
                &alice,
                &format!("m{i}"),
                Some(&format!("c{i}")),
            ))
        })
        .collect();
    let mut seqs = Vec::new();
    for (i, appended) in futures_util::future::join_all(pending)
        .await
        .into_iter()
        .enumerate()
    {
        let Appended::New(stored) = appended.unwrap() else {
            panic!("not new")
        };
        assert_eq!(
            stored.content,
            format!("m{i}"),
            "commit order is call order"
        );
        seqs.push(stored.seq);
    }
    assert_eq!(seqs, (1..=500).collect::<Vec<u64>>());
    let fed: Vec<u64> = fed.lock().unwrap().iter().map(|c| c.message.seq).collect();
    assert_eq!(fed, seqs, "the feed sees commits in order");
}

#[tokio::test]
async fn duplicates_return_the_original_even_within_one_batch() {
    let (_dir, store, fed) = open();
    let (alice, general) = store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    let first = store.append(message(general.id, &alice, "one", Some("k")));
    let second = store.append(message(general.id, &alice, "two", Some("k")));
    let (first, second) = tokio::join!(first, second);
    let Appended::New(original) = first.unwrap() else {
        panic!("first is new")
    };
    assert_eq!(second.unwrap(), Appended::Duplicate(original.clone()));
    let again = store
        .append(message(general.id, &alice, "three", Some("k")))
        .await;
    assert_eq!(again.unwrap(), Appended::Duplicate(original));
    assert_eq!(fed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn pages_and_cursors() {
    let (_dir, store, _) = open();
    let (alice, general) = store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    for i in 1..=7 {
        store
            .append(message(general.id, &alice, &format!("m{i}"), None))
            .await
            .unwrap();
    }
    let seqs =
        |page: &Vec<crate::store::StoredMessage>| page.iter().map(|m| m.seq).collect::<Vec<_>>();
    let (latest, more) = store.page(general.id, Page::Latest, 3).await.unwrap();
    assert_eq!((seqs(&latest), more), (vec![5, 6, 7], true));
    let (before, more) = store.page(general.id, Page::Before(5), 10).await.unwrap();
    assert_eq!((seqs(&before), more), (vec![1, 2, 3, 4], false));
    let (after, more) = store.page(general.id, Page::After(5), 10).await.unwrap();
    assert_eq!((seqs(&after), more), (vec![6, 7], false));
    assert_eq!(
        store.seq_of(general.id, &latest[0].id).await.unwrap(),
        Some(5)
    );

    let unread = store.unread(alice.id).await.unwrap();
    assert_eq!((unread[0].cursor, unread[0].last_seq), (0, 7));
    store
        .save_cursors(vec![(alice.id, general.id, 6)])
        .await
        .unwrap();
    store
        .save_cursors(vec![(alice.id, general.id, 2)])
        .await
        .unwrap();
    assert_eq!(
        store.unread(alice.id).await.unwrap()[0].cursor,
        6,
        "never lowered"
    );
    store
        .save_cursors(vec![(alice.id, general.id, 7)])
        .await
        .unwrap();
    assert!(store.unread(alice.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn rooms_directs_and_membership() {
    let (dir, store, _) = open();
    let (alice, _) = store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    let (bob, _) = store.create_user("bob", "hash", "#general").await.unwrap();
    let ops = store.room("#ops").await.unwrap();
    assert_eq!(store.room("#ops").await.unwrap().id, ops.id);
    assert!(store.join(ops.id, alice.id).await.unwrap());
    assert!(!store.join(ops.id, alice.id).await.unwrap());
    assert!(store.leave(ops.id, alice.id).await.unwrap());
    assert!(!store.leave(ops.id, alice.id).await.unwrap());
    let dm = store.direct(bob.id, alice.id).await.unwrap();
    assert_eq!(store.direct(alice.id, bob.id).await.unwrap().id, dm.id);
    store.close().await;

    // Everything is still there after reopening.
    let reopened = SqliteStore::open(dir.path(), 64, Box::new(|_| {})).unwrap();
    let directory = reopened.directory().await.unwrap();
    assert_eq!(directory.users.len(), 2);
    assert_eq!(directory.conversations.len(), 3);
    assert!(directory.members.contains(&(dm.id, alice.id)));
    assert!(directory.members.contains(&(dm.id, bob.id)));
}
