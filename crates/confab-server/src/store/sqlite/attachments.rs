//! [`crate::store::AttachmentStore`] on SQLite.

use super::SqliteStore;
use crate::store::AttachmentStore;

impl AttachmentStore for SqliteStore {}
