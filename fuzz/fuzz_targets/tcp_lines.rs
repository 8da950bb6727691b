//! The TCP gateway's line splitter and line decoder (`gateway::tcp`), on a byte stream cut into
//! reads of any size: no line over the frame limit ever comes out, a longer one ends the
//! stream, and how the bytes were cut into reads changes nothing.

#![no_main]

use bytes::BytesMut;
use confab_protocol::{ErrorCode, Limits};
use confab_server::gateway::tcp::{decode_line, line_codec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{AnyDelimiterCodecError, Decoder};

/// What the gateway makes of a stream: the lines it read, then whether it ended on a line over
/// the limit.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    lines: Vec<Vec<u8>>,
    too_long: bool,
}

fn split(stream: &[u8], read_size: usize, limits: &Limits) -> Outcome {
    let mut codec = line_codec(limits.max_frame_bytes);
    let mut buffer = BytesMut::new();
    let mut outcome = Outcome {
        lines: Vec::new(),
        too_long: false,
    };
    let take = |line: &[u8], outcome: &mut Outcome| {
        assert!(line.len() <= limits.max_frame_bytes, "{} bytes", line.len());
        assert!(!line.contains(&b'\n'));
        if let Err(err) = decode_line(line, limits) {
            assert!(ErrorCode::ALL.contains(&err.code));
        }
        outcome.lines.push(line.to_vec());
    };
    let mut reads = stream.chunks(read_size).peekable();
    while let Some(read) = reads.next() {
        buffer.extend_from_slice(read);
        let at_end = reads.peek().is_none();
        loop {
            let next = if at_end {
                codec.decode_eof(&mut buffer)
            } else {
                codec.decode(&mut buffer)
            };
            match next {
                Ok(Some(line)) => take(&line, &mut outcome),
                Ok(None) => break,
                Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => {
                    outcome.too_long = true;
                    return outcome;
                }
                Err(AnyDelimiterCodecError::Io(err)) => panic!("no I/O here: {err}"),
            }
        }
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    // A small limit, so that lines over it are common.
    let limits = Limits {
        max_frame_bytes: 64,
        ..Limits::default()
    };
    let whole = split(stream, stream.len().max(1), &limits);
    let cut_up = split(stream, usize::from(cut % 32) + 1, &limits);
    assert_eq!(whole, cut_up);
});
