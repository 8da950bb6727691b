//! Search query terms and result highlighting (`confab_protocol::messaging`), within the
//! limits the server applies first (a query of at most 256 characters, content of at most
//! `max_content_bytes`): terms are whitespace-free and at most 8; the highlight's pieces put
//! together are the content exactly, none is empty, and matched and plain pieces alternate.

#![no_main]

use confab_protocol::messaging::{
    highlight, search_terms, MAX_SEARCH_QUERY_CHARS, MAX_SEARCH_TERMS,
};
use confab_protocol::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (query, content) = input;
    if query.chars().count() > MAX_SEARCH_QUERY_CHARS
        || content.len() > Limits::DEFAULT_MAX_CONTENT_BYTES
    {
        return;
    }
    let terms = search_terms(query);
    assert!(terms.len() <= MAX_SEARCH_TERMS);
    for term in &terms {
        assert!(
            !term.is_empty() && !term.contains(char::is_whitespace),
            "{term:?}"
        );
    }
    let segments = highlight(content, &terms);
    let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(joined, content);
    assert!(segments.iter().all(|s| !s.text.is_empty()));
    assert!(segments.windows(2).all(|w| w[0].matched != w[1].matched));
});
