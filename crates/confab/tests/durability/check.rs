//! What must hold after a kill or a stop, checked on the data directory with the server down
//! (SQLite opened read-only) and, with it up again, through the REST API:
//! - both database files pass `PRAGMA integrity_check`;
//! - every conversation's sequence numbers run 1, 2, 3… with no gap, up to its `last_seq`;
//! - every stored message was sent by a client, under that id, with that content;
//! - every acknowledged message is stored exactly once, with the id and seq of its ack;
//! - every stored upload is complete (its bytes are exactly the payload its name says), every
//!   upload that got its `201` is stored, and every blob in place has the hash it is named by.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use super::http;
use super::load::{Acked, Ledger, User};
use super::upload;

fn open(path: &Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags)
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", path.display()))
}

fn integrity(db: &Connection, name: &str, problems: &mut Vec<String>) {
    let mut statement = db.prepare("PRAGMA integrity_check").unwrap();
    let rows: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    if rows != ["ok"] {
        problems.push(format!("{name}: integrity_check: {rows:?}"));
    }
}

/// What one check saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub messages: u64,
    pub acked: u64,
    pub uploads: u64,
}

/// The database checks. `ledgers` were read after the server died, so every ack in them was
/// sent before it did.
pub fn database(data: &Path, users: &[Arc<User>], ledgers: &[Ledger]) -> (Seen, Vec<String>) {
    let mut problems = Vec::new();
    let db = open(&data.join("confab.db"));
    integrity(&db, "confab.db", &mut problems);
    if data.join("search.db").exists() {
        integrity(&open(&data.join("search.db")), "search.db", &mut problems);
    }

    let mut gaps = db
        .prepare(
            "SELECT c.id, c.last_seq, COUNT(m.seq), COALESCE(MIN(m.seq), 0), \
             COALESCE(MAX(m.seq), 0) FROM conversations c \
             LEFT JOIN messages m ON m.conv_id = c.id GROUP BY c.id",
        )
        .unwrap();
    let conversations = gaps
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap);
    for (conv, last_seq, count, min, max) in conversations {
        if count != max || max != last_seq || (count > 0 && min != 1) {
            problems.push(format!(
                "conversation {conv}: {count} entries, seq {min}..={max}, last_seq {last_seq}"
            ));
        }
    }

    let by_name: HashMap<&str, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.name.as_str(), i))
        .collect();
    let mut stored: HashMap<(usize, String), Vec<(String, u64)>> = HashMap::new();
    let mut rows = db
        .prepare(
            "SELECT u.username, m.client_id, m.receiver, m.content, m.id, m.seq \
             FROM messages m JOIN users u ON u.id = m.sender_id",
        )
        .unwrap();
    let rows = rows
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, u64>(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap);
    let mut seen = Seen::default();
    for (sender, client_id, receiver, content, id, seq) in rows {
        seen.messages += 1;
        let Some(&user) = by_name.get(sender.as_str()) else {
            problems.push(format!("message {id} from {sender}, who is not a client"));
            continue;
        };
        let Some(client_id) = client_id else {
            problems.push(format!("message {id} from {sender} without a client id"));
            continue;
        };
        match ledgers[user].sent.get(&client_id) {
            Some(sent) if sent.receiver == receiver && sent.content == content => {}
            Some(sent) => problems.push(format!(
                "message {id} ({sender} {client_id}) is {receiver:?} {content:?}, \
                 but was sent as {sent:?}"
            )),
            None => problems.push(format!(
                "message {id}: {sender} never sent {client_id} ({receiver:?} {content:?})"
            )),
        }
        stored.entry((user, client_id)).or_default().push((id, seq));
    }
    for (user, ledger) in ledgers.iter().enumerate() {
        for (client_id, Acked { id, seq, .. }) in &ledger.acked {
            seen.acked += 1;
            match stored.get(&(user, client_id.clone())).map(Vec::as_slice) {
                Some([(stored_id, stored_seq)]) if stored_id == id && stored_seq == seq => {}
                other => problems.push(format!(
                    "{} {client_id} was acked as {id} seq {seq}, but stored as {other:?}",
                    users[user].name
                )),
            }
        }
        problems.extend(ledger.problems.iter().cloned());
    }
    (seen, problems)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Upload checks, on the data directory with the server down. `verified` remembers uploads
/// already found complete (they cannot change), so each is read once.
pub fn uploads(
    data: &Path,
    done: &[(String, u64)],
    verified: &mut HashMap<String, u64>,
    seen: &mut Seen,
) -> Vec<String> {
    let mut problems = Vec::new();
    let db = open(&data.join("confab.db"));
    let mut rows = db
        .prepare("SELECT id, name, size, sha256 FROM attachments")
        .unwrap();
    let rows: Vec<(String, String, u64, String)> = rows
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let blobs = data.join("blobs");
    let mut referenced = HashSet::new();
    for (id, name, size, sha) in &rows {
        referenced.insert(sha.clone());
        if verified.contains_key(id) {
            continue;
        }
        let Some(index) = upload::index_of(name) else {
            problems.push(format!("upload {id} is named {name:?}, not a payload"));
            continue;
        };
        let expected = upload::payload(index);
        let on_disk = std::fs::read(blobs.join(&sha[..2]).join(sha));
        match on_disk {
            Ok(bytes) if bytes == expected && *size == expected.len() as u64 => {
                if *sha != hex(&Sha256::digest(&expected)) {
                    problems.push(format!("upload {id}: sha256 {sha} is not its bytes' hash"));
                }
                verified.insert(id.clone(), index);
            }
            Ok(bytes) => problems.push(format!(
                "upload {id} ({name}): {} bytes on disk, row says {size}, payload is {}",
                bytes.len(),
                expected.len()
            )),
            Err(err) => problems.push(format!("upload {id} ({name}): blob {sha}: {err}")),
        }
    }
    seen.uploads = rows.len() as u64;
    for (id, index) in done {
        if !rows.iter().any(|(row, ..)| row == id) {
            problems.push(format!(
                "upload {id} (payload {index}) got 201 but is not stored"
            ));
        }
    }
    // Every blob in place is whole: its name is its hash. Those without a row (a kill between
    // the move into place and the commit) are reported, not failed: they are never served.
    for shard in std::fs::read_dir(&blobs).unwrap().map(Result::unwrap) {
        if shard.file_name() == "tmp" || !shard.path().is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(shard.path()).unwrap().map(Result::unwrap) {
            let name = blob.file_name().to_string_lossy().into_owned();
            if referenced.contains(&name) {
                continue;
            }
            let bytes = std::fs::read(blob.path()).unwrap();
            if hex(&Sha256::digest(&bytes)) != name {
                problems.push(format!("blob {name} is not whole ({} bytes)", bytes.len()));
            }
        }
    }
    problems
}

/// Blobs in place that no upload names (left by a kill between the move and the commit).
pub fn orphan_blobs(data: &Path) -> usize {
    let db = open(&data.join("confab.db"));
    let mut statement = db.prepare("SELECT sha256 FROM attachments").unwrap();
    let referenced: HashSet<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut orphans = 0;
    for shard in std::fs::read_dir(data.join("blobs"))
        .unwrap()
        .map(Result::unwrap)
    {
        if shard.file_name() == "tmp" || !shard.path().is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(shard.path()).unwrap().map(Result::unwrap) {
            if !referenced.contains(&*blob.file_name().to_string_lossy()) {
                orphans += 1;
            }
        }
    }
    orphans
}

/// Files left in the upload staging directory.
pub fn staged(data: &Path) -> usize {
    std::fs::read_dir(data.join("blobs").join("tmp"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// With the server up: each of `ids` downloads as exactly its payload.
pub async fn downloads(addr: &str, token: &str, ids: &[(String, u64)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, index) in ids {
        let reply = http::get(addr, &format!("/api/v1/attachments/{id}"), token).await;
        if reply.status != 200 || reply.body != upload::payload(*index) {
            problems.push(format!(
                "download {id}: {} with {} bytes, payload {index} has {}",
                reply.status,
                reply.body.len(),
                upload::payload(*index).len()
            ));
        }
    }
    problems
}

/// With the server up: every acknowledged message is in its conversation's history exactly
/// once, with its seq, sender and content. Reads each conversation the users sent to, page by
/// page from the newest back.
pub async fn history(addr: &str, users: &[Arc<User>], ledgers: &[Ledger]) -> Vec<String> {
    let mut problems = Vec::new();
    // Conversation -> its history, read once each.
    let mut pages: HashMap<String, Found> = HashMap::new();
    for (user, ledger) in users.iter().zip(ledgers) {
        for acked in ledger.acked.values() {
            // A DM is read as the sender, under the other user's name; rooms under their own.
            let key = if acked.receiver.starts_with('#') {
                acked.receiver.clone()
            } else {
                let mut pair = [user.name.clone(), acked.receiver.clone()];
                pair.sort();
                pair.join("+")
            };
            if !pages.contains_key(&key) {
                let read = read_history(addr, &user.token, &acked.receiver).await;
                pages.insert(key.clone(), read);
            }
        }
    }
    for (user, ledger) in users.iter().zip(ledgers) {
        for (client_id, acked) in &ledger.acked {
            let key = if acked.receiver.starts_with('#') {
                acked.receiver.clone()
            } else {
                let mut pair = [user.name.clone(), acked.receiver.clone()];
                pair.sort();
                pair.join("+")
            };
            let sent = &ledger.sent[client_id];
            let found = pages[&key].get(&acked.id).map(Vec::as_slice);
            match found {
                Some([(seq, sender, content)])
                    if *seq == acked.seq && *sender == user.name && *content == sent.content => {}
                other => problems.push(format!(
                    "{} {client_id} (acked {} seq {}): in history as {other:?}",
                    user.name, acked.id, acked.seq
                )),
            }
        }
    }
    problems
}

/// A conversation's history: server id -> every (seq, sender, content) found under it.
type Found = HashMap<String, Vec<(u64, String, String)>>;

async fn read_history(addr: &str, token: &str, receiver: &str) -> Found {
    let mut found = Found::new();
    let encoded = receiver.replace('#', "%23");
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/history?receiver={encoded}&limit=100");
        if let Some(before) = &before {
            path.push_str(&format!("&before={before}"));
        }
        let reply = http::get(addr, &path, token).await;
        assert_eq!(
            reply.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let page: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        let messages = page["messages"].as_array().unwrap();
        for message in messages {
            found
                .entry(message["id"].as_str().unwrap().to_owned())
                .or_default()
                .push((
                    message["seq"].as_u64().unwrap(),
                    message["sender"].as_str().unwrap().to_owned(),
                    message["content"].as_str().unwrap().to_owned(),
                ));
        }
        match (page["has_more"].as_bool(), messages.first()) {
            (Some(true), Some(oldest)) => before = Some(oldest["id"].as_str().unwrap().to_owned()),
            _ => return found,
        }
    }
}
