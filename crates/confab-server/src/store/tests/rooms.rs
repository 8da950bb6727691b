//! Room settings and host powers on every backend.

use confab_protocol::{Role, Visibility};

use super::{both_backends, Harness};
use crate::clock;
use crate::store::rooms::{Admission, RoomSettings, SettingsChange};
use crate::store::{NewMessage, StoreError};

fn settings(password: Option<&str>) -> RoomSettings {
    RoomSettings {
        visibility: Visibility::Private,
        password_hash: password.map(str::to_owned),
        topic: "t".into(),
    }
}

pub async fn rooms_have_owners_settings_and_bans(h: Harness) {
    let store = h.store.clone();
    let (alice, _) = store.create_user("alice", "h", "#general").await.unwrap();
    let (bob, _) = store.create_user("bob", "h", "#general").await.unwrap();
    let room = store
        .create_room("#ops", alice.id, settings(Some("hash")))
        .await
        .unwrap();
    assert!(matches!(
        store.create_room("#ops", bob.id, settings(None)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.admit_member(room.id, bob.id).await.unwrap(),
        Admission::Joined
    );
    assert_eq!(
        store.admit_member(room.id, bob.id).await.unwrap(),
        Admission::AlreadyMember
    );
    store
        .set_role(room.id, bob.id, Role::Moderator)
        .await
        .unwrap();
    assert!(matches!(
        store.set_role(room.id, alice.id, Role::Member).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .mute_user(room.id, bob.id, clock::now_ms() + 60_000, alice.id)
        .await
        .unwrap();
    store
        .change_settings(
            room.id,
            SettingsChange {
                topic: Some("new".into()),
                password_hash: Some(None),
            },
        )
        .await
        .unwrap();
    let snap = store.room_snapshot().await.unwrap();
    let ops = snap.rooms.iter().find(|(id, _)| *id == room.id).unwrap();
    assert_eq!(ops.1.topic, "new");
    assert_eq!(ops.1.password_hash, None);
    assert_eq!(ops.1.visibility, Visibility::Private);
    let mut roles = snap.roles.clone();
    roles.sort_by_key(|r| r.1);
    assert_eq!(
        roles,
        vec![
            (room.id, alice.id, Role::Owner),
            (room.id, bob.id, Role::Moderator)
        ]
    );
    assert_eq!(snap.mutes.len(), 1);

    assert_eq!(
        store.ban_user(room.id, bob.id, alice.id).await.unwrap(),
        (true, true)
    );
    assert_eq!(
        store.ban_user(room.id, bob.id, alice.id).await.unwrap(),
        (false, false)
    );
    assert_eq!(
        store.admit_member(room.id, bob.id).await.unwrap(),
        Admission::Banned
    );
    assert!(store.unban_user(room.id, bob.id).await.unwrap());
    assert!(!store.unban_user(room.id, bob.id).await.unwrap());
    assert_eq!(
        store.admit_member(room.id, bob.id).await.unwrap(),
        Admission::Joined
    );
    // The mute outlived the ban and the membership.
    assert!(store.unmute_user(room.id, bob.id).await.unwrap());
    assert!(!store.unmute_user(room.id, bob.id).await.unwrap());
}

pub async fn a_failed_transfer_changes_nothing(h: Harness) {
    let store = h.store.clone();
    let (alice, _) = store.create_user("alice", "h", "#general").await.unwrap();
    let (bob, _) = store.create_user("bob", "h", "#general").await.unwrap();
    let room = store
        .create_room("#ops", alice.id, settings(None))
        .await
        .unwrap();
    assert!(matches!(
        store.transfer_ownership(room.id, alice.id, bob.id).await,
        Err(StoreError::NotFound(_))
    ));
    let snap = store.room_snapshot().await.unwrap();
    assert_eq!(snap.roles, vec![(room.id, alice.id, Role::Owner)]);
    store.admit_member(room.id, bob.id).await.unwrap();
    store
        .transfer_ownership(room.id, alice.id, bob.id)
        .await
        .unwrap();
    let mut roles = store.room_snapshot().await.unwrap().roles;
    roles.sort_by_key(|r| r.1);
    assert_eq!(
        roles,
        vec![
            (room.id, alice.id, Role::Moderator),
            (room.id, bob.id, Role::Owner)
        ]
    );
}

pub async fn deleting_a_room_erases_it_and_frees_the_name(h: Harness) {
    let store = h.store.clone();
    let (alice, _) = store.create_user("alice", "h", "#general").await.unwrap();
    let room = store
        .create_room("#ops", alice.id, settings(Some("hash")))
        .await
        .unwrap();
    let post = |content: &str| NewMessage {
        conv: room.id,
        sender: alice.clone(),
        receiver: "#ops".into(),
        entry: crate::store::NewEntry::Post(crate::store::Post {
            content: content.into(),
            ..Default::default()
        }),
        client_id: None,
        origin: 0,
    };
    store.append(post("one")).await.unwrap();
    store.append(post("two")).await.unwrap();
    store
        .save_cursors(vec![(alice.id, room.id, 2)])
        .await
        .unwrap();
    store.delete_room(room.id).await.unwrap();
    assert!(matches!(
        store.delete_room(room.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.admit_member(room.id, alice.id).await,
        Err(StoreError::NotFound(_))
    ));
    let page = store.changes(room.id, 0, 10).await.unwrap();
    assert!(page.is_empty());
    let snap = store.room_snapshot().await.unwrap();
    assert_eq!(snap.deleted, vec![room.id]);
    assert!(snap.rooms.iter().all(|(id, _)| *id != room.id));
    assert!(snap.roles.is_empty());
    assert!(store.unread(alice.id).await.unwrap().is_empty());

    // A message that raced the deletion is swept away.
    store.append(post("late")).await.unwrap();
    store.sweep_deleted_rooms().await.unwrap();
    let page = store.changes(room.id, 0, 10).await.unwrap();
    assert!(page.is_empty());

    let again = store
        .create_room("#ops", alice.id, settings(None))
        .await
        .unwrap();
    assert_ne!(again.id, room.id, "ids are never reused");
    assert_eq!(again.last_seq, 0);
}

both_backends!(
    rooms_have_owners_settings_and_bans,
    a_failed_transfer_changes_nothing,
    deleting_a_room_erases_it_and_frees_the_name,
);
