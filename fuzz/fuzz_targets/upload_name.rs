//! Upload file names (`attachments::name`), as clients give them in `?name=`: the stored name
//! has no path, no control or invisible direction characters, no leading dot or space, at most
//! 255 bytes, and cleaning it again changes nothing; its `Content-Disposition` is always a valid
//! header value whose `filename*` decodes back to the exact name.

#![no_main]

use confab_server::attachments::name::{clean_name, content_disposition, MAX_NAME_BYTES};
use libfuzzer_sys::fuzz_target;

fn percent_decode(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|raw: &str| {
    let name = clean_name(raw);
    assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES, "{raw:?}");
    assert!(!name.contains(['/', '\\']), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(
        !name.starts_with(|c: char| c == '.' || c.is_whitespace()),
        "{raw:?} -> {name:?}"
    );
    assert!(!name.ends_with(char::is_whitespace), "{name:?}");
    assert_eq!(clean_name(&name), name, "{raw:?}");

    for inline in [true, false] {
        let value = content_disposition(inline, &name);
        assert!(
            value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "{value:?}"
        );
        // The last parameter: the name itself may hold the text `filename*=UTF-8''` (inside
        // the quoted `filename`), the encoded value cannot (`*`, `'` and `=` are escaped).
        let encoded = value.rsplit("filename*=UTF-8''").next().unwrap();
        assert_eq!(percent_decode(encoded), name.as_bytes());
    }
});
