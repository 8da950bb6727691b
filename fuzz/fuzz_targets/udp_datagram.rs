//! UDP datagrams (`gateway::udp`): any bytes read to a token (or none) and a frame or a
//! documented error; and nothing the gateway sends a source that is not bound is ever larger
//! than what that source sent (no amplification).

#![no_main]

use confab_protocol::{ErrorCode, ServerFrame};
use confab_server::gateway::udp::{bounded_reply, read_datagram, MAX_DATAGRAM};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_DATAGRAM)];
    let datagram = read_datagram(data, &confab_protocol::Limits::default());
    if let Err(err) = &datagram.frame {
        assert!(ErrorCode::ALL.contains(&err.code));
    }
    if let Some(token) = &datagram.token {
        assert!(token.len() < data.len());
    }
    for code in ErrorCode::ALL {
        let reply = ServerFrame::error(code, "send a login datagram from this address first", None)
            .to_json();
        if let Some(sent) = bounded_reply(reply.as_bytes(), data.len()) {
            assert!(sent.len() <= data.len());
        }
    }
});
