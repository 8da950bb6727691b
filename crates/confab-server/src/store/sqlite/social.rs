//! [`crate::store::SocialStore`] on SQLite.

use super::SqliteStore;
use crate::store::SocialStore;

impl SocialStore for SqliteStore {}
