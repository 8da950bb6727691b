//! Decoding and validating one client frame from its JSON text.

use serde::Deserialize;

use crate::client::{ClientFrame, HistoryRequest, Login, SendMessage};
use crate::error::ErrorCode;
use crate::limits::Limits;
use crate::messaging::{self, EditMessage, SearchRequest};

/// A frame that could not be accepted, with the error to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// The frame's `id`, when it could be read, so the error can answer it.
    pub reply_to: Option<String>,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>, reply_to: Option<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reply_to,
        }
    }
}

/// Parses and validates a client frame. On failure the error carries the frame's `id` when the
/// text held one, so that even a rejected frame gets its reply.
pub fn decode_client_frame(text: &str, limits: &Limits) -> Result<ClientFrame, FrameError> {
    if text.len() > limits.max_frame_bytes {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("frame is over {} bytes", limits.max_frame_bytes),
            None,
        ));
    }
    let mut frame: ClientFrame = serde_json::from_str(text)
        .map_err(|err| FrameError::new(ErrorCode::BadRequest, describe(&err), salvage_id(text)))?;
    validate(&mut frame, limits).map_err(|(code, message)| {
        let reply_to = frame.id().filter(|id| valid_id(id)).map(str::to_owned);
        FrameError::new(code, message, reply_to)
    })?;
    Ok(frame)
}

fn describe(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof => format!("invalid JSON: {err}"),
        Category::Data | Category::Io => format!("invalid frame: {err}"),
    }
}

/// Reads just the `id` of a frame that failed to decode.
fn salvage_id(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(text)
        .ok()
        .and_then(|frame| frame.id)
        .filter(|id| valid_id(id))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= Limits::MAX_CLIENT_ID_BYTES
}

type Invalid = (ErrorCode, String);

fn validate(frame: &mut ClientFrame, limits: &Limits) -> Result<(), Invalid> {
    if let Some(id) = frame.id() {
        if !valid_id(id) {
            return Err((
                ErrorCode::BadRequest,
                format!("id must be 1 to {} bytes", Limits::MAX_CLIENT_ID_BYTES),
            ));
        }
    }
    match frame {
        ClientFrame::Login(login) => validate_login(login),
        ClientFrame::Message(message) => validate_message(message, limits),
        ClientFrame::History(request) => validate_history(request, limits),
        ClientFrame::Edit(edit) => validate_edit(edit, limits),
        ClientFrame::Delete(delete) => validate_message_id(&delete.message),
        ClientFrame::React(react) => {
            validate_message_id(&react.message)?;
            if messaging::is_emoji(&react.emoji) {
                Ok(())
            } else {
                Err((ErrorCode::BadRequest, "emoji must be one emoji".into()))
            }
        }
        ClientFrame::Search(request) => validate_search(request, limits),
        ClientFrame::SetProfile(change) => change.normalize(),
        ClientFrame::Refresh(refresh) if refresh.token.is_empty() => {
            Err((ErrorCode::BadRequest, "refresh needs a token".into()))
        }
        ClientFrame::Refresh(refresh) if refresh.token.len() > Limits::MAX_TOKEN_BYTES => Err((
            ErrorCode::TooLarge,
            format!("a token has at most {} bytes", Limits::MAX_TOKEN_BYTES),
        )),
        ClientFrame::InviteReply(reply) => crate::social::check_id("invitation", &reply.invitation),
        ClientFrame::CreateInvite(invite) => invite.check(),
        ClientFrame::RevokeInvite(request)
        | ClientFrame::RedeemInvite(request)
        | ClientFrame::InviteInfo(request) => crate::social::check_id("code", &request.code),
        ClientFrame::CreateRoom(request) => request.validate(),
        ClientFrame::Mute(request) => request.validate(),
        ClientFrame::SetTopic(request) => request.validate(),
        ClientFrame::SetPassword(request) => request.validate(),
        ClientFrame::SetRole(request) => request.validate(),
        _ => Ok(()),
    }
}

fn validate_login(login: &Login) -> Result<(), Invalid> {
    if login.cursors.len() > Limits::MAX_LOGIN_CURSORS {
        return Err((
            ErrorCode::TooLarge,
            format!("at most {} cursors", Limits::MAX_LOGIN_CURSORS),
        ));
    }
    match (&login.token, &login.username, &login.password) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => Ok(()),
        _ => Err((
            ErrorCode::BadRequest,
            "login needs either token, or username and password".into(),
        )),
    }
}

fn validate_message(message: &SendMessage, limits: &Limits) -> Result<(), Invalid> {
    let has_body = message.attachment.is_some() || message.location.is_some();
    if message.attachment.is_some() && message.location.is_some() {
        return Err((
            ErrorCode::BadRequest,
            "a message carries an attachment or a location, not both".into(),
        ));
    }
    if !has_body && message.content.trim().is_empty() {
        return Err((ErrorCode::BadRequest, "content is empty".into()));
    }
    validate_content_size(&message.content, limits)?;
    if let Some(location) = &message.location {
        location
            .validate()
            .map_err(|message| (ErrorCode::BadRequest, message))?;
    }
    if let Some(id) = &message.attachment {
        validate_id_field("attachment", id)?;
    }
    if let Some(id) = &message.reply_to_message {
        validate_message_id(id)?;
    }
    Ok(())
}

fn validate_content_size(content: &str, limits: &Limits) -> Result<(), Invalid> {
    if content.len() > limits.max_content_bytes {
        return Err((
            ErrorCode::TooLarge,
            format!("content is over {} bytes", limits.max_content_bytes),
        ));
    }
    Ok(())
}

/// Server ids are short ASCII; anything else cannot name a message or upload.
fn validate_id_field(field: &str, id: &str) -> Result<(), Invalid> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err((ErrorCode::BadRequest, format!("{field} is not a valid id")));
    }
    Ok(())
}

fn validate_message_id(id: &str) -> Result<(), Invalid> {
    validate_id_field("message", id)
}

fn validate_edit(edit: &EditMessage, limits: &Limits) -> Result<(), Invalid> {
    validate_message_id(&edit.message)?;
    validate_content_size(&edit.content, limits)
}

impl SearchRequest {
    /// The checks `decode_client_frame` applies to a `search` frame, for other paths (REST):
    /// the code and message of the first problem.
    pub fn check(&mut self, limits: &Limits) -> Result<(), (ErrorCode, String)> {
        validate_search(self, limits)
    }
}

fn validate_search(request: &mut SearchRequest, limits: &Limits) -> Result<(), Invalid> {
    let query = request.query.trim();
    if query.is_empty() {
        return Err((ErrorCode::BadRequest, "query is empty".into()));
    }
    if query.chars().count() > messaging::MAX_SEARCH_QUERY_CHARS {
        return Err((
            ErrorCode::TooLarge,
            format!(
                "query is over {} characters",
                messaging::MAX_SEARCH_QUERY_CHARS
            ),
        ));
    }
    if let Some(before) = &request.before {
        validate_id_field("before", before)?;
    }
    match request.limit {
        Some(0) => Err((ErrorCode::BadRequest, "limit must be at least 1".into())),
        Some(n) if n > limits.max_history_limit => {
            request.limit = Some(limits.max_history_limit);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn validate_history(request: &mut HistoryRequest, limits: &Limits) -> Result<(), Invalid> {
    if request.before.is_some() && request.after.is_some() {
        return Err((
            ErrorCode::BadRequest,
            "history takes before or after, not both".into(),
        ));
    }
    match request.limit {
        Some(0) => Err((ErrorCode::BadRequest, "limit must be at least 1".into())),
        Some(n) if n > limits.max_history_limit => {
            request.limit = Some(limits.max_history_limit);
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Receiver;

    fn decode(text: &str) -> Result<ClientFrame, FrameError> {
        decode_client_frame(text, &Limits::default())
    }

    fn code_of(text: &str) -> (ErrorCode, Option<String>) {
        let err = decode(text).unwrap_err();
        (err.code, err.reply_to)
    }

    #[test]
    fn decodes_the_design_document_message() {
        let frame = decode(
            r#"{"type":"message","sender":"Vaibhav","receiver":"Rituja","content":"Hello, world!","timestamp":"2025-06-04T19:00:00Z","id":"c1"}"#,
        )
        .unwrap();
        let ClientFrame::Message(message) = frame else {
            panic!("not a message")
        };
        assert_eq!(message.id.as_deref(), Some("c1"));
        assert_eq!(message.receiver, Receiver::parse("rituja").unwrap());
        assert_eq!(message.sender.as_deref(), Some("Vaibhav"));
        assert_eq!(message.content, "Hello, world!");
    }

    #[test]
    fn invalid_json_is_bad_request() {
        assert_eq!(code_of("{not json").0, ErrorCode::BadRequest);
        assert_eq!(code_of("").0, ErrorCode::BadRequest);
        assert_eq!(code_of("[1,2]").0, ErrorCode::BadRequest);
    }

    #[test]
    fn errors_carry_the_id_when_readable() {
        assert_eq!(
            code_of(r#"{"type":"nope","id":"x1"}"#),
            (ErrorCode::BadRequest, Some("x1".into()))
        );
        assert_eq!(
            code_of(r##"{"type":"message","id":"x2","receiver":"#general"}"##),
            (ErrorCode::BadRequest, Some("x2".into()))
        );
        assert_eq!(
            code_of(r##"{"type":"message","id":7,"receiver":"#g","content":"x"}"##),
            (ErrorCode::BadRequest, None)
        );
    }

    #[test]
    fn mistyped_and_missing_fields_are_bad_request() {
        assert_eq!(
            code_of(r##"{"type":"message","receiver":"#general","content":5}"##).0,
            ErrorCode::BadRequest
        );
        assert_eq!(code_of(r#"{"type":"join"}"#).0, ErrorCode::BadRequest);
        assert_eq!(
            code_of(r#"{"receiver":"bob","content":"hi"}"#).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn bad_names_are_bad_request() {
        assert_eq!(
            code_of(r#"{"type":"join","room":"general"}"#).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"type":"message","receiver":"no spaces","content":"x"}"#).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn content_must_be_present_and_bounded() {
        let empty = r##"{"type":"message","id":"e","receiver":"#general","content":"  "}"##;
        assert_eq!(code_of(empty), (ErrorCode::BadRequest, Some("e".into())));
        let limits = Limits::default();
        let long = format!(
            r##"{{"type":"message","id":"l","receiver":"#general","content":"{}"}}"##,
            "é".repeat(limits.max_content_bytes / 2 + 1)
        );
        assert_eq!(code_of(&long), (ErrorCode::TooLarge, Some("l".into())));
        let exact = format!(
            r##"{{"type":"message","receiver":"#general","content":"{}"}}"##,
            "a".repeat(limits.max_content_bytes)
        );
        assert!(decode(&exact).is_ok());
    }

    #[test]
    fn frame_limit_is_checked_first() {
        let limits = Limits {
            max_frame_bytes: 10,
            ..Limits::default()
        };
        let err = decode_client_frame(r#"{"type":"ping","id":"p"}"#, &limits).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
    }

    #[test]
    fn ids_are_bounded() {
        let long_id = format!(r#"{{"type":"ping","id":"{}"}}"#, "i".repeat(65));
        assert_eq!(code_of(&long_id), (ErrorCode::BadRequest, None));
        assert_eq!(
            code_of(r#"{"type":"ping","id":""}"#).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn login_needs_one_credential_form() {
        assert!(decode(r#"{"type":"login","token":"t"}"#).is_ok());
        let resumed = decode(r##"{"type":"login","token":"t","cursors":{"#General":4,"bob":2}}"##);
        let ClientFrame::Login(login) = resumed.unwrap() else {
            panic!("not login")
        };
        assert_eq!(login.cursors.len(), 2);
        assert_eq!(
            login.cursors.get(&Receiver::parse("#general").unwrap()),
            Some(&4)
        );
        assert_eq!(
            code_of(r##"{"type":"login","token":"t","cursors":{"bad name":1}}"##).0,
            ErrorCode::BadRequest
        );
        assert!(decode(r#"{"type":"login","username":"a","password":"b"}"#).is_ok());
        assert_eq!(code_of(r#"{"type":"login"}"#).0, ErrorCode::BadRequest);
        assert_eq!(
            code_of(r#"{"type":"login","username":"a"}"#).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"type":"login","token":"t","username":"a","password":"b"}"#).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn history_limit_is_capped_and_cursors_exclusive() {
        let frame = decode(r##"{"type":"history","receiver":"#general","limit":5000}"##).unwrap();
        let ClientFrame::History(request) = frame else {
            panic!("not history")
        };
        assert_eq!(request.limit, Some(100));
        assert_eq!(
            code_of(r##"{"type":"history","receiver":"#general","limit":0}"##).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r##"{"type":"history","receiver":"#g","before":"a","after":"b"}"##).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn social_frames_are_validated() {
        let (code, reply_to) =
            code_of(r#"{"type":"set_profile","id":"s","display_name":"a\u0000"}"#);
        assert_eq!(
            (code, reply_to.as_deref()),
            (ErrorCode::BadRequest, Some("s"))
        );
        let long = format!(
            r#"{{"type":"set_profile","status_text":"{}"}}"#,
            "x".repeat(141)
        );
        assert_eq!(code_of(&long).0, ErrorCode::TooLarge);
        assert_eq!(
            code_of(r#"{"type":"set_profile"}"#).0,
            ErrorCode::BadRequest
        );
        let frame = decode(r#"{"type":"set_profile","display_name":"  Bob  "}"#).unwrap();
        let ClientFrame::SetProfile(change) = frame else {
            panic!("not set_profile")
        };
        assert_eq!(change.display_name.as_deref(), Some("Bob"));
        assert_eq!(
            code_of(r#"{"type":"redeem_invite","code":"a/b"}"#).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"type":"redeem_invite","code":""}"#).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"type":"invite_reply","invitation":"x y","accept":true}"#).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r##"{"type":"create_invite","room":"#a","max_uses":0}"##).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r##"{"type":"create_invite","room":"#a","max_uses":-1}"##).0,
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"type":"add_contact","user":"a b"}"#).0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn room_frames_are_validated() {
        let cases = [
            (
                r##"{"type":"create_room","id":"a","room":"#x","password":"short"}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"create_room","id":"a","room":"#x","visibility":"secret"}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"mute","id":"a","room":"#x","user":"bob","seconds":0}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"mute","id":"a","room":"#x","user":"bob","seconds":-1}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"set_role","id":"a","room":"#x","user":"bob","role":"owner"}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"set_role","id":"a","room":"#x","user":"bob","role":"admin"}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"set_password","id":"a","room":"#x"}"##,
                ErrorCode::BadRequest,
            ),
            (
                r##"{"type":"kick","id":"a","room":"#x","user":"bad name"}"##,
                ErrorCode::BadRequest,
            ),
        ];
        for (text, code) in cases {
            assert_eq!(code_of(text), (code, Some("a".into())), "{text}");
        }
        let long_topic = format!(
            r##"{{"type":"set_topic","id":"t","room":"#x","topic":"{}"}}"##,
            "t".repeat(crate::rooms::MAX_TOPIC_CHARS + 1)
        );
        assert_eq!(
            code_of(&long_topic),
            (ErrorCode::TooLarge, Some("t".into()))
        );
        let ClientFrame::Join(join) =
            decode(r##"{"type":"join","room":"#Ops","password":"pw"}"##).unwrap()
        else {
            panic!("not join")
        };
        assert_eq!(join.room.as_str(), "#ops");
        assert_eq!(join.password.as_deref(), Some("pw"));
    }

    #[test]
    fn every_type_round_trips() {
        for text in [
            r#"{"type":"login","token":"t"}"#,
            r#"{"type":"logout","id":"1"}"#,
            r##"{"type":"message","id":"1","receiver":"#general","content":"hi"}"##,
            r##"{"type":"join","room":"#ops"}"##,
            r##"{"type":"leave","room":"#ops"}"##,
            r##"{"type":"history","receiver":"bob","limit":10,"before":"01ABC"}"##,
            r##"{"type":"typing","receiver":"#ops"}"##,
            r#"{"type":"rooms"}"#,
            r##"{"type":"members","room":"#ops"}"##,
            r#"{"type":"ping","id":"p"}"#,
            r#"{"type":"profile","id":"1","user":"bob"}"#,
            r#"{"type":"set_profile","display_name":"Bob","status_text":"","avatar":null}"#,
            r#"{"type":"set_profile","avatar":"01ABC"}"#,
            r#"{"type":"contacts","id":"c"}"#,
            r#"{"type":"add_contact","user":"bob"}"#,
            r#"{"type":"remove_contact","user":"bob"}"#,
            r##"{"type":"invite","room":"#ops","user":"bob"}"##,
            r#"{"type":"invitations"}"#,
            r#"{"type":"invite_reply","invitation":"01ABC","accept":true}"#,
            r##"{"type":"create_invite","room":"#ops","expires_in_secs":60,"max_uses":1}"##,
            r##"{"type":"create_invite","room":"#ops"}"##,
            r##"{"type":"invite_links","room":"#ops"}"##,
            r#"{"type":"revoke_invite","code":"abc-_1"}"#,
            r#"{"type":"redeem_invite","code":"abc"}"#,
            r#"{"type":"invite_info","code":"abc"}"#,
            r##"{"type":"join","room":"#ops","password":"hunter2hunter2"}"##,
            r##"{"type":"create_room","id":"c","room":"#ops","visibility":"private","password":"hunter2hunter2","topic":"t"}"##,
            r##"{"type":"create_room","room":"#ops"}"##,
            r##"{"type":"room_info","room":"#ops"}"##,
            r##"{"type":"kick","room":"#ops","user":"bob"}"##,
            r##"{"type":"ban","room":"#ops","user":"bob"}"##,
            r##"{"type":"unban","room":"#ops","user":"bob"}"##,
            r##"{"type":"mute","room":"#ops","user":"bob","seconds":60}"##,
            r##"{"type":"unmute","room":"#ops","user":"bob"}"##,
            r##"{"type":"set_topic","room":"#ops","topic":""}"##,
            r##"{"type":"set_password","room":"#ops","password":null}"##,
            r##"{"type":"set_password","room":"#ops","password":"hunter2hunter2"}"##,
            r##"{"type":"set_role","room":"#ops","user":"bob","role":"moderator"}"##,
            r##"{"type":"transfer","room":"#ops","user":"bob"}"##,
            r##"{"type":"delete_room","room":"#ops"}"##,
        ] {
            let frame = decode(text).unwrap();
            assert_eq!(serde_json::to_string(&frame).unwrap(), text);
        }
    }
}
