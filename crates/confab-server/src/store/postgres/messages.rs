//! The SQL of conversation entries: appending messages and the updates about them (edits,
//! deletes, reactions), each with the conversation's next seq, and reading them back with
//! their current state (reply previews, reactions). As in `sqlite/messages.rs`.
//!
//! Idempotency across nodes: an entry with a client id is inserted with
//! `ON CONFLICT (sender_id, client_id) DO NOTHING`. When another node (or an earlier job of
//! this batch) already stored that key, nothing is inserted: the job rolls back to its
//! savepoint (the writer's `job`), which gives back the seq taken and undoes any edit made,
//! and the original is read back and answered as [`Appended::Duplicate`].
//!
//! A post is one statement (the seq taken and the row inserted together, see
//! [`append_post`]): with the writer's savepoint handling that is two round trips a message.

use confab_protocol::messaging::{Change, Location, MessageKind, Reaction, ReplyPreview};
use tokio_postgres::Row;

use super::sql::{big, exec, opt, rows, simple, unsigned, Conn};
use super::writer::WriterCtx;
use crate::store::{
    Appended, ConvId, NewEntry, NewMessage, Page, Post, StoreError, StoreResult, StoredMessage,
};

/// Entry kinds that are updates about another message (`target_id`), not messages.
const EDIT: &str = "edit";
const DELETE: &str = "delete";
const REACTION: &str = "reaction";

/// `SELECT` of entry rows from `messages m` with their sender's name and the answered
/// message ([`entry_row`] reads them); `WHERE ...` follows.
pub const SELECT_ENTRIES: &str = "SELECT m.id, m.conv_id, m.seq, u.username, m.receiver, \
     m.content, m.created_ms, m.kind, m.target_id, m.attachment_json, m.latitude, m.longitude, \
     m.location_label, m.edited_ms, m.deleted_ms, r.id, ru.username, r.content, r.deleted_ms \
     FROM messages m JOIN users u ON u.id = m.sender_id \
     LEFT JOIN messages r ON r.id = m.reply_to_id \
     LEFT JOIN users ru ON ru.id = r.sender_id ";

/// A row and, for an update, the kind of update and the id of its target.
pub struct EntryRow {
    message: StoredMessage,
    update: Option<(Change, String)>,
}

pub fn entry_row(row: &Row) -> EntryRow {
    let kind: String = row.get(7);
    let target: Option<String> = row.get(8);
    let attachment: Option<String> = row.get(9);
    let latitude: Option<f64> = row.get(10);
    let longitude: Option<f64> = row.get(11);
    let reply_id: Option<String> = row.get(15);
    let reply = reply_id.map(|id| {
        let content: Option<String> = row.get(17);
        ReplyPreview {
            id,
            sender: row.get::<_, Option<String>>(16).unwrap_or_default(),
            excerpt: content
                .unwrap_or_default()
                .chars()
                .take(confab_protocol::messaging::REPLY_EXCERPT_CHARS)
                .collect(),
            deleted: row.get::<_, Option<i64>>(18).is_some(),
        }
    });
    let message = StoredMessage {
        id: row.get(0),
        conv: row.get(1),
        seq: unsigned(row, 2),
        sender: row.get(3),
        receiver: row.get(4),
        content: row.get(5),
        created_ms: row.get(6),
        kind: MessageKind::parse(&kind).unwrap_or_default(),
        attachment: attachment.and_then(|json| serde_json::from_str(&json).ok()),
        location: match (latitude, longitude) {
            (Some(latitude), Some(longitude)) => Some(Location {
                latitude,
                longitude,
                label: row.get(12),
            }),
            _ => None,
        },
        reply,
        edited_ms: row.get(13),
        deleted: row.get::<_, Option<i64>>(14).is_some(),
        reactions: Vec::new(),
        update: None,
        erased_attachment: None,
    };
    let update = target.map(|target| {
        let change = match kind.as_str() {
            EDIT => Change::Edited,
            DELETE => Change::Deleted,
            _ => Change::Reactions,
        };
        (change, target)
    });
    EntryRow { message, update }
}

/// Completes rows into entries: reactions on messages, the target's state on updates.
pub async fn complete(conn: &Conn, rows: Vec<EntryRow>) -> StoreResult<Vec<StoredMessage>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut message = row.message;
        match row.update {
            None => message.reactions = reactions(conn, &message.id).await?,
            Some((change, target)) => {
                if let Some(target) = by_id(conn, &target).await? {
                    message.update = Some((change, Box::new(target)));
                }
            }
        }
        out.push(message);
    }
    Ok(out)
}

/// A message (not an update) as it is now.
pub async fn by_id(conn: &Conn, id: &str) -> StoreResult<Option<StoredMessage>> {
    let sql = format!("{SELECT_ENTRIES} WHERE m.id = $1 AND m.target_id IS NULL");
    let Some(row) = opt(conn, &sql, &[&id]).await? else {
        return Ok(None);
    };
    let mut message = entry_row(&row).message;
    message.reactions = reactions(conn, &message.id).await?;
    Ok(Some(message))
}

async fn reactions(conn: &Conn, message: &str) -> StoreResult<Vec<Reaction>> {
    let found = rows(
        conn,
        "SELECT r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id
         WHERE r.message_id = $1 ORDER BY r.created_ms, u.username",
        &[&message],
    )
    .await?;
    let mut out: Vec<Reaction> = Vec::new();
    for row in found {
        let (emoji, user): (String, String) = (row.get(0), row.get(1));
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => {
                reaction.count += 1;
                reaction.users.push(user);
            }
            None => out.push(Reaction {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    Ok(out)
}

/// The entry its sender already stored under this client id.
async fn existing(
    conn: &Conn,
    new: &NewMessage,
    client_id: &str,
) -> StoreResult<Option<StoredMessage>> {
    let sql = format!("{SELECT_ENTRIES} WHERE m.sender_id = $1 AND m.client_id = $2");
    let Some(row) = opt(conn, &sql, &[&new.sender.id, &client_id]).await? else {
        return Ok(None);
    };
    Ok(complete(conn, vec![entry_row(&row)]).await?.pop())
}

/// Appends an entry with the conversation's next sequence number, unless its sender already
/// used its client id. Runs inside the writer's savepoint `job`.
pub async fn append(ctx: &mut WriterCtx, new: &NewMessage, now: i64) -> StoreResult<Appended> {
    let is_post = matches!(new.entry, NewEntry::Post(_));
    if let (Some(client_id), false) = (&new.client_id, is_post) {
        // An update's target may have changed since (deleted): answer the original first.
        if let Some(found) = existing(&ctx.client, new, client_id).await? {
            return Ok(Appended::Duplicate(found));
        }
    }
    if let Some(stored) = append_entry(ctx, new, now).await? {
        return Ok(Appended::New(stored));
    }
    let no_conversation = || StoreError::NotFound("no such conversation".into());
    let Some(client_id) = &new.client_id else {
        return Err(no_conversation());
    };
    // Someone stored this key first (another node, committed meanwhile, or an earlier job of
    // this batch): undo what this job wrote, the seq it took included.
    simple(&ctx.client, "ROLLBACK TO SAVEPOINT job").await?;
    existing(&ctx.client, new, client_id)
        .await?
        .map(Appended::Duplicate)
        .ok_or_else(no_conversation)
}

/// The entry stored, or `None` when its idempotency key was taken meanwhile.
async fn append_entry(
    ctx: &mut WriterCtx,
    new: &NewMessage,
    now: i64,
) -> StoreResult<Option<StoredMessage>> {
    let conn = &ctx.client;
    match &new.entry {
        NewEntry::Post(post) => append_post(ctx, new, post, now).await,
        NewEntry::Edit { target, content } => {
            let target_row = target_of(conn, new, target).await?;
            if target_row.sender_id != new.sender.id {
                return Err(StoreError::Forbidden(
                    "only the sender may edit a message".into(),
                ));
            }
            exec(
                conn,
                "UPDATE messages SET content = $2, edited_ms = $3 WHERE id = $1",
                &[target, content, &now],
            )
            .await?;
            append_update(ctx, new, EDIT, Change::Edited, target, now, None).await
        }
        NewEntry::Delete { target, moderator } => {
            let target_row = target_of(conn, new, target).await?;
            if target_row.sender_id != new.sender.id && !moderator {
                return Err(StoreError::Forbidden(
                    "only the sender or a room moderator may delete a message".into(),
                ));
            }
            exec(
                conn,
                "UPDATE messages SET content = '', attachment_id = NULL, attachment_json = NULL,
                 latitude = NULL, longitude = NULL, location_label = NULL, edited_ms = NULL,
                 deleted_ms = $2 WHERE id = $1",
                &[target, &now],
            )
            .await?;
            exec(
                conn,
                "DELETE FROM reactions WHERE message_id = $1",
                &[target],
            )
            .await?;
            let erased = target_row.attachment_id;
            append_update(ctx, new, DELETE, Change::Deleted, target, now, erased).await
        }
        NewEntry::React {
            target,
            emoji,
            max_emojis,
        } => {
            target_of(conn, new, target).await?;
            let removed = exec(
                conn,
                "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                &[target, emoji, &new.sender.id],
            )
            .await?;
            if removed == 0 {
                let row = opt(
                    conn,
                    "SELECT count(DISTINCT emoji), COALESCE(bool_or(emoji = $2), false)
                     FROM reactions WHERE message_id = $1",
                    &[target, emoji],
                )
                .await?;
                let (distinct, present) =
                    row.map_or((0, false), |r| (unsigned(&r, 0), r.get::<_, bool>(1)));
                if !present && distinct >= *max_emojis as u64 {
                    return Err(StoreError::TooMany(format!(
                        "a message holds at most {max_emojis} different reactions"
                    )));
                }
                exec(
                    conn,
                    "INSERT INTO reactions (message_id, emoji, user_id, created_ms)
                     VALUES ($1, $2, $3, $4)",
                    &[target, emoji, &new.sender.id, &now],
                )
                .await?;
            }
            append_update(ctx, new, REACTION, Change::Reactions, target, now, None).await
        }
    }
}

async fn append_post(
    ctx: &mut WriterCtx,
    new: &NewMessage,
    post: &Post,
    now: i64,
) -> StoreResult<Option<StoredMessage>> {
    if let Some(reply) = &post.reply_to {
        let found = opt(
            &ctx.client,
            "SELECT conv_id FROM messages WHERE id = $1 AND target_id IS NULL",
            &[reply],
        )
        .await?
        .map(|r| r.get::<_, ConvId>(0));
        if found != Some(new.conv) {
            return Err(StoreError::NotFound(format!(
                "no message {reply} in this conversation"
            )));
        }
    }
    let id = ctx.ids.next(now);
    let conn = &ctx.client;
    let attachment_json = post
        .attachment
        .as_ref()
        .map(|a| serde_json::to_string(a).expect("attachments serialize"));
    let location = post.location.as_ref();
    // The next seq and the row in one statement. The batch already holds the conversation's
    // row lock (see the writer). When the key clashes the UPDATE still ran; the caller rolls
    // it back with the job.
    let inserted = opt(
        conn,
        "WITH s AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1
                    RETURNING last_seq)
         INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms,
         client_id, kind, reply_to_id, attachment_id, attachment_json, latitude, longitude,
         location_label)
         SELECT $1::bigint, s.last_seq, $2::text, $3::bigint, $4::text, $5::text, $6::bigint,
                $7::text, $8::text, $9::text, $10::text, $11::text, $12::float8, $13::float8,
                $14::text
         FROM s
         ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING seq",
        &[
            &new.conv,
            &id,
            &new.sender.id,
            &new.receiver,
            &post.content,
            &now,
            &new.client_id,
            &post.kind.as_str(),
            &post.reply_to,
            &post.attachment.as_ref().map(|a| a.id.as_str()),
            &attachment_json,
            &location.map(|l| l.latitude),
            &location.map(|l| l.longitude),
            &location.and_then(|l| l.label.as_deref()),
        ],
    )
    .await?;
    let Some(row) = inserted else {
        return Ok(None);
    };
    let mut stored = StoredMessage::text(
        id,
        new.conv,
        unsigned(&row, 0),
        new.sender.username.clone(),
        new.receiver.clone(),
    );
    stored.content = post.content.clone();
    stored.created_ms = now;
    stored.kind = post.kind;
    stored.attachment = post.attachment.clone();
    stored.location = post.location.clone();
    if post.reply_to.is_some() {
        // Read back for the reply preview.
        if let Some(read) = by_id(conn, &stored.id).await? {
            stored.reply = read.reply;
        }
    }
    Ok(Some(stored))
}

/// The conversation's next seq. The batch already holds the row's lock (see the writer), and
/// keeps it until its commit.
async fn next_seq(conn: &Conn, conv: ConvId) -> StoreResult<u64> {
    opt(
        conn,
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
        &[&conv],
    )
    .await?
    .map(|r| unsigned(&r, 0))
    .ok_or_else(|| StoreError::NotFound("no such conversation".into()))
}

async fn append_update(
    ctx: &mut WriterCtx,
    new: &NewMessage,
    kind: &str,
    change: Change,
    target: &str,
    now: i64,
    erased_attachment: Option<String>,
) -> StoreResult<Option<StoredMessage>> {
    let seq = next_seq(&ctx.client, new.conv).await?;
    let id = ctx.ids.next(now);
    let conn = &ctx.client;
    let inserted = exec(
        conn,
        "INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms,
         client_id, kind, target_id) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9)
         ON CONFLICT (sender_id, client_id) DO NOTHING",
        &[
            &new.conv,
            &big(seq),
            &id,
            &new.sender.id,
            &new.receiver,
            &now,
            &new.client_id,
            &kind,
            &target,
        ],
    )
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let state = by_id(conn, target)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no message {target}")))?;
    let mut stored = StoredMessage::text(
        id,
        new.conv,
        seq,
        new.sender.username.clone(),
        new.receiver.clone(),
    );
    stored.created_ms = now;
    stored.update = Some((change, Box::new(state)));
    stored.erased_attachment = erased_attachment;
    Ok(Some(stored))
}

struct TargetRow {
    sender_id: i64,
    attachment_id: Option<String>,
}

/// The message an update is about: it must be a message of this conversation, not deleted.
async fn target_of(conn: &Conn, new: &NewMessage, target: &str) -> StoreResult<TargetRow> {
    let row = opt(
        conn,
        "SELECT conv_id, deleted_ms, sender_id, attachment_id FROM messages
         WHERE id = $1 AND target_id IS NULL",
        &[&target],
    )
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("no message {target}")));
    };
    if row.get::<_, ConvId>(0) != new.conv {
        return Err(StoreError::NotFound(format!("no message {target}")));
    }
    if row.get::<_, Option<i64>>(1).is_some() {
        return Err(StoreError::Gone(format!("message {target} was deleted")));
    }
    Ok(TargetRow {
        sender_id: row.get(2),
        attachment_id: row.get(3),
    })
}

/// A page of messages (no updates) above `floor`, oldest first, and whether more lie beyond.
pub async fn history(
    conn: &Conn,
    conv: ConvId,
    floor: u64,
    page: Page,
    limit: u32,
) -> StoreResult<(Vec<StoredMessage>, bool)> {
    let fetch = i64::from(limit) + 1;
    let (clause, bound) = match page {
        Page::Latest => ("ORDER BY m.seq DESC LIMIT $2", None),
        Page::Before(seq) => ("AND m.seq < $4 ORDER BY m.seq DESC LIMIT $2", Some(seq)),
        Page::After(seq) => ("AND m.seq > $4 ORDER BY m.seq ASC LIMIT $2", Some(seq)),
    };
    let sql = format!(
        "{SELECT_ENTRIES} WHERE m.conv_id = $1 AND m.target_id IS NULL AND m.seq > $3 {clause}"
    );
    let floor = big(floor);
    let found = match bound {
        None => rows(conn, &sql, &[&conv, &fetch, &floor]).await?,
        Some(seq) => rows(conn, &sql, &[&conv, &fetch, &floor, &big(seq)]).await?,
    };
    let mut out = complete(conn, found.iter().map(entry_row).collect()).await?;
    let has_more = out.len() > limit as usize;
    out.truncate(limit as usize);
    if !matches!(page, Page::After(_)) {
        out.reverse();
    }
    Ok((out, has_more))
}

/// Entries (messages and updates) after `seq`, oldest first.
pub async fn changes(
    conn: &Conn,
    conv: ConvId,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let sql =
        format!("{SELECT_ENTRIES} WHERE m.conv_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3");
    let found = rows(conn, &sql, &[&conv, &big(after), &i64::from(limit)]).await?;
    complete(conn, found.iter().map(entry_row).collect()).await
}
