//! The store's core: users, tokens, conversations, appends (seqs, idempotency, the feed),
//! pages, cursors, updates and search, on every backend.

use super::{both_backends, Harness};
use crate::auth::Token;
use crate::store::{
    Appended, NewEntry, NewMessage, Page, Post, SearchQuery, Store, StoreError, User,
};

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

pub async fn users_are_unique_and_join_the_default_room(h: Harness) {
    let store = h.store.clone();
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
    let origin = crate::store::sessions::TokenOrigin {
        device: "test".into(),
        ip: "127.0.0.1".into(),
    };
    store
        .create_session(alice.id, token.hash(), origin)
        .await
        .unwrap();
    assert_eq!(
        store.user_by_token(token.hash()).await.unwrap(),
        Some(alice.clone())
    );
    assert!(store.revoke_token(token.hash()).await.unwrap());
    assert_eq!(store.user_by_token(token.hash()).await.unwrap(), None);
    assert!(!store.revoke_token(token.hash()).await.unwrap());
}

pub async fn concurrent_appends_get_gap_free_sequences_in_feed_order(h: Harness) {
    let (store, fed) = (h.store.clone(), h.fed.clone());
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

pub async fn duplicates_return_the_original_even_within_one_batch(h: Harness) {
    let (store, fed) = (h.store.clone(), h.fed.clone());
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

pub async fn pages_and_cursors(h: Harness) {
    let store = h.store.clone();
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
    let (latest, more) = store
        .history(general.id, alice.id, Page::Latest, 3)
        .await
        .unwrap();
    assert_eq!((seqs(&latest), more), (vec![5, 6, 7], true));
    let (before, more) = store
        .history(general.id, alice.id, Page::Before(5), 10)
        .await
        .unwrap();
    assert_eq!((seqs(&before), more), (vec![1, 2, 3, 4], false));
    let (after, more) = store
        .history(general.id, alice.id, Page::After(5), 10)
        .await
        .unwrap();
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

pub async fn rooms_directs_and_membership(h: Harness) {
    let store = h.store.clone();
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
    let reopened = h.open_again().await;
    let directory = reopened.directory().await.unwrap();
    assert_eq!(directory.users.len(), 2);
    assert_eq!(directory.conversations.len(), 3);
    assert!(directory.members.contains(&(dm.id, alice.id)));
    assert!(directory.members.contains(&(dm.id, bob.id)));
}

fn update(conv: i64, sender: &User, entry: NewEntry) -> NewMessage {
    NewMessage {
        conv,
        sender: sender.clone(),
        receiver: "#general".into(),
        entry,
        client_id: None,
        origin: 7,
    }
}

async fn posted(store: &dyn Store, message: NewMessage) -> crate::store::StoredMessage {
    match store.append(message).await.unwrap() {
        Appended::New(stored) => stored,
        other => panic!("{other:?}"),
    }
}

pub async fn updates_take_seqs_and_change_the_message(h: Harness) {
    let store = h.store.clone();
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    let (bob, _) = store.create_user("bob", "h", "#general").await.unwrap();
    let first = posted(&*store, message(general.id, &alice, "hello wrold", None)).await;
    let edit = NewEntry::Edit {
        target: first.id.clone(),
        content: "hello world".into(),
    };
    let edited = posted(&*store, update(general.id, &alice, edit.clone())).await;
    assert_eq!(edited.seq, 2);
    let (change, state) = edited.update.clone().unwrap();
    assert_eq!(change, confab_protocol::messaging::Change::Edited);
    assert_eq!(state.content, "hello world");
    assert!(state.edited_ms.is_some());
    // Someone else's message cannot be edited, nor deleted without moderation rights.
    let not_bob = store.append(update(general.id, &bob, edit)).await;
    assert!(
        matches!(not_bob, Err(StoreError::Forbidden(_))),
        "{not_bob:?}"
    );
    let delete = NewEntry::Delete {
        target: first.id.clone(),
        moderator: false,
    };
    let refused = store.append(update(general.id, &bob, delete.clone())).await;
    assert!(matches!(refused, Err(StoreError::Forbidden(_))));
    // Reactions toggle.
    let react = |emoji: &str| NewEntry::React {
        target: first.id.clone(),
        emoji: emoji.into(),
        max_emojis: 2,
    };
    let reacted = posted(&*store, update(general.id, &bob, react("👍"))).await;
    let state = reacted.update.unwrap().1;
    assert_eq!(state.reactions[0].users, vec!["bob".to_owned()]);
    posted(&*store, update(general.id, &alice, react("🎉"))).await;
    let too_many = store.append(update(general.id, &alice, react("🔥"))).await;
    assert!(matches!(too_many, Err(StoreError::TooMany(_))));
    let unreacted = posted(&*store, update(general.id, &bob, react("👍"))).await;
    assert_eq!(unreacted.update.unwrap().1.reactions.len(), 1);
    // A reply shows an excerpt of what it answers.
    let mut reply = message(general.id, &bob, "agreed", None);
    if let NewEntry::Post(post) = &mut reply.entry {
        post.reply_to = Some(first.id.clone());
    }
    let reply = posted(&*store, reply).await;
    assert_eq!(reply.reply.as_ref().unwrap().excerpt, "hello world");
    // The sender deletes: a tombstone, nothing left to find, the reply shows it deleted.
    let deleted = posted(&*store, update(general.id, &alice, delete.clone())).await;
    let state = deleted.update.unwrap().1;
    assert!(state.deleted && state.content.is_empty() && state.reactions.is_empty());
    let again = store.append(update(general.id, &alice, delete)).await;
    assert!(matches!(again, Err(StoreError::Gone(_))));
    let query = |terms: &[&str]| SearchQuery {
        terms: terms.iter().map(|t| t.to_string()).collect(),
        conv: None,
        before: None,
        limit: 10,
    };
    assert!(store
        .search(alice.id, query(&["world"]))
        .await
        .unwrap()
        .is_empty());
    let (page, _) = store
        .history(general.id, alice.id, Page::Latest, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 2, "updates are not history: {page:?}");
    assert!(page[1].reply.as_ref().unwrap().deleted);
    // Catch-up replays everything after a seq, updates included.
    let changes = store.changes(general.id, 0, 100).await.unwrap();
    assert_eq!(changes.len() as u64, changes.last().unwrap().seq);
}

pub async fn search_finds_parts_of_words_and_cjk_in_visible_conversations(h: Harness) {
    let store = h.store.clone();
    let (alice, general) = store.create_user("alice", "h", "#general").await.unwrap();
    let (bob, _) = store.create_user("bob", "h", "#general").await.unwrap();
    let (carol, _) = store.create_user("carol", "h", "#general").await.unwrap();
    let secret = store.direct(alice.id, bob.id).await.unwrap();
    for text in [
        "Deployment on Friday",
        "東京タワーへ行く",
        "서울에서 만나요",
        "ok go",
    ] {
        posted(&*store, message(general.id, &alice, text, None)).await;
    }
    let mut dm = message(secret.id, &bob, "the deploy key is in the vault", None);
    dm.receiver = "alice".into();
    posted(&*store, dm).await;
    let query = |terms: &[&str]| SearchQuery {
        terms: terms.iter().map(|t| t.to_string()).collect(),
        conv: None,
        before: None,
        limit: 10,
    };
    let found = |user, terms: &'static [&'static str]| {
        let store = store.clone();
        async move {
            store
                .search(user, query(terms))
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.content)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found(alice.id, &["deploy"]).await,
        ["the deploy key is in the vault", "Deployment on Friday"]
    );
    assert_eq!(found(carol.id, &["deploy"]).await, ["Deployment on Friday"]);
    assert_eq!(found(carol.id, &["タワー"]).await, ["東京タワーへ行く"]);
    assert_eq!(found(carol.id, &["서울"]).await, ["서울에서 만나요"]);
    assert_eq!(found(carol.id, &["go", "ok"]).await, ["ok go"]);
    assert_eq!(
        found(carol.id, &["ploy", "fri"]).await,
        ["Deployment on Friday"]
    );
    assert!(found(carol.id, &["nothing"]).await.is_empty());
    assert!(found(carol.id, &["100%"]).await.is_empty());
}

/// Found by the SIGTERM harness (`crates/confab/tests/durability`): a session that outlived
/// the shutdown's grace went on reading after the store closed, opening new connections that
/// waited on the database's locks and held the process's exit up for seconds.
pub async fn reads_after_close_are_refused_at_once(h: Harness) {
    let store = h.store.clone();
    store
        .create_user("alice", "hash", "#general")
        .await
        .unwrap();
    assert!(store.credentials("alice").await.unwrap().is_some());
    store.close().await;
    let started = std::time::Instant::now();
    let read = store.credentials("alice").await;
    assert!(matches!(read, Err(StoreError::Backend(_))), "{read:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

both_backends!(
    users_are_unique_and_join_the_default_room,
    concurrent_appends_get_gap_free_sequences_in_feed_order,
    duplicates_return_the_original_even_within_one_batch,
    pages_and_cursors,
    rooms_directs_and_membership,
    updates_take_seqs_and_change_the_message,
    search_finds_parts_of_words_and_cjk_in_visible_conversations,
    reads_after_close_are_refused_at_once,
);
