//! Names of users and rooms, and the receiver of a message.
//!
//! Both are case-insensitive: they are normalised to lowercase when parsed, so `Alice` and
//! `alice` are the same user. A username is 1 to 32 characters of ASCII letters, digits, `_`,
//! `-` and `.`, starting with a letter or digit. A room name is `#` followed by 1 to 64
//! characters of ASCII letters, digits, `_` and `-`, starting with a letter or digit.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

/// Longest username, in characters.
pub const MAX_USERNAME_LEN: usize = 32;
/// Longest room name without its `#`, in characters.
pub const MAX_ROOM_NAME_LEN: usize = 64;
/// Shortest password, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn check_chars(what: &str, body: &str, max: usize, extra: &[char]) -> Result<String, NameError> {
    if body.is_empty() || body.len() > max {
        return Err(NameError(format!("{what} must be 1 to {max} characters")));
    }
    let first = body.as_bytes()[0];
    if !first.is_ascii_alphanumeric() {
        return Err(NameError(format!(
            "{what} must start with a letter or digit"
        )));
    }
    if let Some(bad) = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || extra.contains(c)))
    {
        let allowed: String = extra.iter().map(|c| format!(" '{c}'")).collect();
        return Err(NameError(format!(
            "{what} may hold only ASCII letters, digits and{allowed}, not {bad:?}"
        )));
    }
    Ok(body.to_ascii_lowercase())
}

/// A valid, lowercase username.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Validates and normalises a username.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_chars("a username", raw, MAX_USERNAME_LEN, &['_', '-', '.']).map(Self)
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid, lowercase room name, including its leading `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// Validates and normalises a room name; the leading `#` is required.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let Some(body) = raw.strip_prefix('#') else {
            return Err(NameError("a room name starts with '#'".into()));
        };
        let body = check_chars("a room name", body, MAX_ROOM_NAME_LEN, &['_', '-'])?;
        Ok(Self(format!("#{body}")))
    }

    /// The normalised name, with its `#`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a password's length (its content is the user's business).
pub fn check_password(password: &str) -> Result<(), NameError> {
    if password.len() < MIN_PASSWORD_BYTES || password.len() > MAX_PASSWORD_BYTES {
        return Err(NameError(format!(
            "a password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Where a message or typing notice goes: a room (`#name`) or a user (a direct message).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Receiver {
    /// A room the sender is a member of.
    Room(RoomName),
    /// Another user (or the sender, for notes to self).
    User(Username),
}

impl Receiver {
    /// Parses `#room` as a room and anything else as a username.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.starts_with('#') {
            RoomName::parse(raw).map(Self::Room)
        } else {
            Username::parse(raw).map(Self::User)
        }
    }

    /// The receiver as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Room(room) => room.as_str(),
            Self::User(user) => user.as_str(),
        }
    }
}

macro_rules! string_conversions {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(raw: String) -> Result<Self, NameError> {
                Self::parse(&raw)
            }
        }
        impl From<$ty> for String {
            fn from(name: $ty) -> String {
                name.as_str().to_owned()
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

string_conversions!(Username, RoomName, Receiver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(
            Username::parse("Alice.B-1_x").unwrap().as_str(),
            "alice.b-1_x"
        );
        assert!(Username::parse("").is_err());
        assert!(Username::parse("_alice").is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("ålice").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn room_names_need_hash_and_valid_body() {
        assert_eq!(RoomName::parse("#Ops-2").unwrap().as_str(), "#ops-2");
        assert!(RoomName::parse("ops").is_err());
        assert!(RoomName::parse("#").is_err());
        assert!(RoomName::parse("#a.b").is_err());
        assert!(RoomName::parse(&format!("#{}", "r".repeat(65))).is_err());
    }

    #[test]
    fn receiver_tells_rooms_from_users() {
        assert_eq!(
            Receiver::parse("#general").unwrap(),
            Receiver::Room(RoomName::parse("#general").unwrap())
        );
        assert_eq!(
            Receiver::parse("Bob").unwrap(),
            Receiver::User(Username::parse("bob").unwrap())
        );
        assert!(Receiver::parse("#bad room").is_err());
    }

    #[test]
    fn password_length_is_bounded() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
