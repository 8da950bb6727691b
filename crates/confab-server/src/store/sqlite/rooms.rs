//! [`crate::store::RoomStore`] on SQLite.

use super::SqliteStore;
use crate::store::RoomStore;

impl RoomStore for SqliteStore {}
