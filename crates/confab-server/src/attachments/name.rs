//! Upload file names: cleaned once when stored (no path, no control or direction-changing
//! characters, no leading dots, at most 255 bytes), and quoted safely into
//! `Content-Disposition` when served.

use std::fmt::Write;

/// Longest stored name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The name to store for what the client called its file.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .collect();
    // Dots and spaces in any mix: `. .bashrc` must not keep its dot.
    let trimmed = kept
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    let mut name = String::with_capacity(trimmed.len().min(MAX_NAME_BYTES));
    for c in trimmed.chars() {
        if name.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        name.push(c);
    }
    let name = name.trim_end();
    if name.is_empty() {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

/// Characters that reorder or hide text (used to disguise `gpj.exe` as `exe.jpg`).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `Content-Disposition` for a stored name: `inline` or `attachment`, with an ASCII
/// `filename` (anything else replaced by `_`) and the exact name as RFC 8187 `filename*`.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    let disposition = if inline { "inline" } else { "attachment" };
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_paths_controls_and_leading_dots() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("..\\..\\windows\\win.ini"), "win.ini");
        assert_eq!(clean_name("C:\\Users\\a\\photo.png"), "photo.png");
        assert_eq!(clean_name(".bashrc"), "bashrc");
        assert_eq!(clean_name("...hidden"), "hidden");
        assert_eq!(clean_name("a\u{0}b\r\nc\u{7f}.txt"), "abc.txt");
        assert_eq!(clean_name("invoice\u{202E}gpj.exe"), "invoicegpj.exe");
        assert_eq!(clean_name("  spaced name.pdf  "), "spaced name.pdf");
        assert_eq!(clean_name("dir/"), "file");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("\u{1}\u{2}"), "file");
        assert_eq!(clean_name("été.txt"), "été.txt");
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/upload_name.rs`): dots and spaces mixed at the
    /// start left a leading dot.
    #[test]
    fn no_leading_dot_survives_mixed_dots_and_spaces() {
        assert_eq!(clean_name("  . ."), "file");
        assert_eq!(clean_name(". .bashrc"), "bashrc");
        assert_eq!(clean_name(" .\t. .x"), "x");
        assert_eq!(clean_name("a. .b"), "a. .b");
    }

    #[test]
    fn caps_at_255_bytes_on_a_character_boundary() {
        let long = "é".repeat(200);
        let name = clean_name(&long);
        assert!(name.len() <= MAX_NAME_BYTES);
        assert_eq!(name.len(), 254);
        assert_eq!(clean_name(&"a".repeat(300)).len(), 255);
    }

    #[test]
    fn disposition_quotes_safely() {
        assert_eq!(
            content_disposition(false, "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition(true, "a \"b\"\\é.png"),
            "inline; filename=\"a _b___.png\"; filename*=UTF-8''a%20%22b%22%5C%C3%A9.png"
        );
    }
}
