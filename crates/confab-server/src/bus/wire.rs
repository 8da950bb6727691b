//! What nodes say to each other on a shared bus: one JSON object per event, tagged with the
//! node that published it. Frames travel as the exact text this node would send its own
//! sessions, so a receiving node forwards them without decoding. Only what other nodes need is
//! carried: a message's sender gets their ack on the node they are connected to, so acks and
//! client ids never cross.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Audience, CacheSync, Event, Remote};
use crate::auth::TokenHash;
use crate::store::{ConvId, UserId};

/// One event on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The publishing node's id.
    pub node: String,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    Message {
        conv: ConvId,
        seq: u64,
        frame: String,
        /// Empty from a node that does not send it.
        #[serde(default)]
        sender: String,
    },
    Typing {
        sender: UserId,
        audience: Audience,
        frame: String,
    },
    Notice {
        audience: Audience,
        frame: String,
    },
    Presence {
        user: UserId,
        online: bool,
    },
    Membership {
        conv: ConvId,
        user: UserId,
        joined: bool,
    },
    Revoked {
        user: UserId,
        /// The token's SHA-256, hex: never the token itself.
        token: String,
    },
    Sync {
        #[serde(flatten)]
        change: CacheSync,
    },
    /// A node's heartbeat: when a node hears its own, it knows it is on the bus.
    Ping,
}

fn text(frame: &Bytes) -> String {
    // Frames are JSON made by this server, so always UTF-8.
    String::from_utf8_lossy(frame).into_owned()
}

fn hex(hash: &TokenHash) -> String {
    hash.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<TokenHash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(TokenHash(out))
}

impl Body {
    /// What of a local event goes to the other nodes (`None`: nothing, e.g. a resync).
    pub fn from_event(event: &Event) -> Option<Self> {
        Some(match event {
            Event::Message(committed) => {
                let message = &committed.message;
                let frame = crate::hub::entry_frame(message).to_json();
                Self::Message {
                    conv: message.conv,
                    seq: message.seq,
                    frame,
                    sender: message.sender.clone(),
                }
            }
            Event::Typing {
                sender,
                audience,
                frame,
            } => Self::Typing {
                sender: *sender,
                audience: *audience,
                frame: text(frame),
            },
            Event::Notice { audience, frame } => Self::Notice {
                audience: *audience,
                frame: text(frame),
            },
            Event::Presence { user, online } => Self::Presence {
                user: *user,
                online: *online,
            },
            Event::Membership { conv, user, joined } => Self::Membership {
                conv: *conv,
                user: *user,
                joined: *joined,
            },
            Event::Revoked { user, token, .. } => Self::Revoked {
                user: *user,
                token: hex(token),
            },
            Event::Sync(change) => Self::Sync {
                change: change.clone(),
            },
            Event::Remote(_) | Event::Resync { .. } => return None,
        })
    }

    /// The event this node's dispatcher applies for what `node` published (`None` for a
    /// heartbeat, or a token that does not decode).
    pub fn into_event(self, node: String) -> Option<Event> {
        Some(match self {
            Self::Message {
                conv,
                seq,
                frame,
                sender,
            } => Event::Remote(Remote::Message {
                conv,
                seq,
                frame: Bytes::from(frame),
                sender,
            }),
            Self::Typing {
                sender,
                audience,
                frame,
            } => Event::Typing {
                sender,
                audience,
                frame: Bytes::from(frame),
            },
            Self::Notice { audience, frame } => Event::Notice {
                audience,
                frame: Bytes::from(frame),
            },
            Self::Presence { user, online } => {
                Event::Remote(Remote::Presence { node, user, online })
            }
            Self::Membership { conv, user, joined } => {
                Event::Remote(Remote::Membership { conv, user, joined })
            }
            Self::Revoked { user, token } => Event::Remote(Remote::Revoked {
                user,
                token: unhex(&token)?,
            }),
            Self::Sync { change } => Event::Remote(Remote::Sync(change)),
            Self::Ping => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: Body) -> Body {
        let envelope = Envelope {
            node: "n1".into(),
            body,
        };
        let json = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back.node, "n1");
        back.body
    }

    #[test]
    fn every_body_survives_the_wire() {
        let bodies = [
            Body::Message {
                conv: 3,
                seq: 9,
                frame: r#"{"type":"message"}"#.into(),
                sender: "alice".into(),
            },
            Body::Typing {
                sender: 1,
                audience: Audience::Conversation(3),
                frame: "{}".into(),
            },
            Body::Notice {
                audience: Audience::Circle(2),
                frame: "{}".into(),
            },
            Body::Presence {
                user: 4,
                online: true,
            },
            Body::Membership {
                conv: 3,
                user: 4,
                joined: false,
            },
            Body::Revoked {
                user: 4,
                token: hex(&TokenHash([7; 32])),
            },
            Body::Sync {
                change: CacheSync::Conversation {
                    id: 5,
                    room: None,
                    direct: Some((1, 2)),
                    members: vec![1, 2],
                },
            },
            Body::Sync {
                change: CacheSync::Contact {
                    user: 1,
                    contact: 2,
                    added: true,
                },
            },
            Body::Ping,
        ];
        for body in bodies {
            assert_eq!(round_trip(body.clone()), body);
        }
    }

    #[test]
    fn token_hashes_round_trip_and_bad_ones_are_dropped() {
        let hash = TokenHash([0xab; 32]);
        assert_eq!(unhex(&hex(&hash)), Some(hash));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
        let body = Body::Revoked {
            user: 1,
            token: "not hex".into(),
        };
        assert!(body.into_event("n2".into()).is_none());
    }
}
