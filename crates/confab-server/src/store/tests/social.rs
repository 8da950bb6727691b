//! Profiles, contacts, invitations and invite links on every backend.

use super::{both_backends, Harness};
use crate::clock;
use crate::store::social::{
    ContactAdded, Invited, LinkCreated, LinkUse, NewLink, ProfileChange, StoredLink, StoredProfile,
};

pub async fn profiles_change_only_the_fields_given(h: Harness) {
    let store = h.store.clone();
    let (alice, _) = store.create_user("alice", "h", "#general").await.unwrap();
    assert_eq!(
        store.profile(alice.id).await.unwrap(),
        Some(StoredProfile::default())
    );
    let change = ProfileChange {
        display_name: Some("Alice".into()),
        avatar: Some(Some(("01AV".into(), "{}".into()))),
        ..ProfileChange::default()
    };
    let after = store.set_profile(alice.id, change).await.unwrap();
    assert_eq!(after.display_name, "Alice");
    assert_eq!(after.avatar_id.as_deref(), Some("01AV"));
    let status = ProfileChange {
        status_text: Some("away".into()),
        ..ProfileChange::default()
    };
    let after = store.set_profile(alice.id, status).await.unwrap();
    assert_eq!(
        (after.display_name.as_str(), after.status_text.as_str()),
        ("Alice", "away")
    );
    let clear = ProfileChange {
        avatar: Some(None),
        ..ProfileChange::default()
    };
    let after = store.set_profile(alice.id, clear).await.unwrap();
    assert_eq!((after.avatar_id, after.avatar_json), (None, None));
    assert_eq!(store.profile(9999).await.unwrap(), None);
}

pub async fn contacts_are_idempotent_and_bounded(h: Harness) {
    let store = h.store.clone();
    let (a, _) = store.create_user("a", "h", "#general").await.unwrap();
    let (b, _) = store.create_user("b", "h", "#general").await.unwrap();
    let (c, _) = store.create_user("c", "h", "#general").await.unwrap();
    assert_eq!(
        store.add_contact(a.id, b.id, 1).await.unwrap(),
        ContactAdded::Added
    );
    assert_eq!(
        store.add_contact(a.id, b.id, 1).await.unwrap(),
        ContactAdded::Already
    );
    assert_eq!(
        store.add_contact(a.id, c.id, 1).await.unwrap(),
        ContactAdded::Full
    );
    assert_eq!(store.contact_pairs().await.unwrap(), vec![(a.id, b.id)]);
    assert_eq!(store.contacts(a.id).await.unwrap().len(), 1);
    assert!(store.remove_contact(a.id, b.id).await.unwrap());
    assert!(!store.remove_contact(a.id, b.id).await.unwrap());
}

pub async fn invitations_are_one_per_room_and_bounded(h: Harness) {
    let store = h.store.clone();
    let (a, general) = store.create_user("a", "h", "#general").await.unwrap();
    let (b, _) = store.create_user("b", "h", "#general").await.unwrap();
    let ops = store.room("#ops").await.unwrap();
    let Invited::New(first) = store.invite(ops.id, a.id, b.id, 1).await.unwrap() else {
        panic!("not new")
    };
    assert_eq!(first.id.len(), 26);
    assert_eq!(
        store.invite(ops.id, a.id, b.id, 1).await.unwrap(),
        Invited::Existing(first.clone())
    );
    assert_eq!(
        store.invite(general.id, a.id, b.id, 1).await.unwrap(),
        Invited::Full
    );
    assert_eq!(store.invitations(b.id).await.unwrap(), vec![first.clone()]);
    assert_eq!(
        store.invitation(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert!(store.delete_invitation(&first.id).await.unwrap());
    assert!(!store.delete_invitation(&first.id).await.unwrap());
    assert!(store.invitations(b.id).await.unwrap().is_empty());
}

pub async fn link_uses_are_counted_atomically(h: Harness) {
    let store = h.store.clone();
    let (a, general) = store.create_user("a", "h", "#general").await.unwrap();
    let now = clock::now_ms();
    let link = NewLink {
        code: "one-use".into(),
        conv: general.id,
        creator: a.id,
        expires_ms: now + 60_000,
        max_uses: 1,
    };
    assert!(matches!(
        store.create_link(link.clone(), 1, now).await.unwrap(),
        LinkCreated::Created(_)
    ));
    let second = NewLink {
        code: "two".into(),
        ..link.clone()
    };
    assert_eq!(
        store.create_link(second, 1, now).await.unwrap(),
        LinkCreated::Full
    );
    let (x, y) = tokio::join!(
        store.take_link_use("one-use", now),
        store.take_link_use("one-use", now)
    );
    let taken = [x.unwrap(), y.unwrap()];
    assert_eq!(
        taken
            .iter()
            .filter(|u| matches!(u, LinkUse::Taken(_)))
            .count(),
        1,
        "{taken:?}"
    );
    assert!(taken
        .iter()
        .any(|u| matches!(u, LinkUse::Dead(l) if l.uses == 1)));
    assert!(store.live_links(general.id, now).await.unwrap().is_empty());
    store.release_link_use("one-use").await.unwrap();
    assert_eq!(store.live_links(general.id, now).await.unwrap().len(), 1);
    assert!(matches!(
        store.take_link_use("one-use", now + 60_000).await.unwrap(),
        LinkUse::Dead(_)
    ));
    assert!(store.revoke_link("one-use").await.unwrap());
    assert!(matches!(
        store.take_link_use("one-use", now).await.unwrap(),
        LinkUse::Dead(StoredLink { revoked: true, .. })
    ));
    assert_eq!(
        store.take_link_use("nope", now).await.unwrap(),
        LinkUse::Unknown
    );
    assert!(!store.revoke_link("nope").await.unwrap());
}

both_backends!(
    profiles_change_only_the_fields_given,
    contacts_are_idempotent_and_bounded,
    invitations_are_one_per_room_and_bounded,
    link_uses_are_counted_atomically,
);
