//! User and room names and receivers (`confab_protocol::names`), as frames, REST paths and
//! bodies give them: a name is accepted exactly when it follows the documented rule,
//! normalizes to lowercase once, and reads the same through serde as through `parse`.

#![no_main]

use confab_protocol::names::{check_password, MAX_ROOM_NAME_LEN, MAX_USERNAME_LEN};
use confab_protocol::{Receiver, RoomName, Username};
use libfuzzer_sys::fuzz_target;

fn follows_rule(body: &str, max: usize, extra: &[char]) -> bool {
    (1..=max).contains(&body.len())
        && body.as_bytes()[0].is_ascii_alphanumeric()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

fuzz_target!(|raw: &str| {
    let user = Username::parse(raw);
    assert_eq!(
        user.is_ok(),
        follows_rule(raw, MAX_USERNAME_LEN, &['_', '-', '.']),
        "{raw:?}"
    );
    if let Ok(user) = &user {
        assert_eq!(user.as_str(), raw.to_ascii_lowercase());
        assert_eq!(Username::parse(user.as_str()).as_ref(), Ok(user));
    }
    let json = serde_json::Value::String(raw.to_owned());
    assert_eq!(
        serde_json::from_value::<Username>(json.clone()).ok(),
        user.ok()
    );

    let room = RoomName::parse(raw);
    let rule = raw
        .strip_prefix('#')
        .is_some_and(|body| follows_rule(body, MAX_ROOM_NAME_LEN, &['_', '-']));
    assert_eq!(room.is_ok(), rule, "{raw:?}");
    if let Ok(room) = &room {
        assert_eq!(room.as_str(), raw.to_ascii_lowercase());
        assert_eq!(RoomName::parse(room.as_str()).as_ref(), Ok(room));
    }
    assert_eq!(
        serde_json::from_value::<RoomName>(json.clone()).ok(),
        room.ok()
    );

    if let Ok(receiver) = Receiver::parse(raw) {
        assert_eq!(Receiver::parse(receiver.as_str()), Ok(receiver.clone()));
        assert_eq!(receiver.as_str().starts_with('#'), raw.starts_with('#'));
    }
    assert_eq!(
        serde_json::from_value::<Receiver>(json).ok(),
        Receiver::parse(raw).ok()
    );
    assert_eq!(check_password(raw).is_ok(), (8..=1024).contains(&raw.len()));
});
