//! What only the SQLite store has: its search index file, rebuilt from the messages. The
//! tests every backend passes are in `store/tests/`.

use super::SqliteStore;
use crate::store::{Appended, NewEntry, NewMessage, Post, SearchQuery, Store, StoredMessage, User};

fn message(conv: i64, sender: &User, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        conv,
        sender: sender.clone(),
        receiver: "#general".into(),
        entry: NewEntry::Post(Post {
            content: content.into(),
            ..Post::default()
        }),
        client_id: client_id.map(str::to_owned),
        origin: 7,
    }
}

async fn posted(store: &SqliteStore, message: NewMessage) -> StoredMessage {
    match store.append(message).await.unwrap() {
        Appended::New(stored) => stored,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_search_index_is_rebuilt_from_the_messages() {
    let dir = tempfile::tempdir().unwrap();
    let open_at = || SqliteStore::open(dir.path(), 64, Box::new(|_| {})).unwrap();
    let store = open_at();
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    posted(&store, message(general.id, &alice, "rebuild me", None)).await;
    store.close().await;
    drop(store);
    for file in ["search.db", "search.db-wal", "search.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    let store = open_at();
    let found = store
        .search(
            alice.id,
            SearchQuery {
                terms: vec!["build".into()],
                conv: None,
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    store.close().await;
}

/// Found by the SIGTERM harness: closing waited for the indexer's whole backlog (4.8 s after
/// heavy load), so a shutdown could pass 10 s. Now it stops after the pass under way, and
/// what it left is indexed at the next start.
#[tokio::test]
async fn an_index_backlog_left_at_close_is_indexed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let open_at = || SqliteStore::open(dir.path(), 512, Box::new(|_| {})).unwrap();
    let store = open_at();
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    let total = 3000;
    let appends: Vec<_> = (0..total)
        .map(|i| {
            store.append(message(
                general.id,
                &alice,
                &format!("note number{i:05}"),
                None,
            ))
        })
        .collect();
    for appended in futures_util::future::join_all(appends).await {
        appended.unwrap();
    }
    store.close().await;
    drop(store);
    let store = open_at();
    for i in [0, total / 2, total - 1] {
        let term = format!("number{i:05}");
        let found = store
            .search(
                alice.id,
                SearchQuery {
                    terms: vec![term.clone()],
                    conv: None,
                    before: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{term}: {found:?}");
    }
    store.close().await;
}
