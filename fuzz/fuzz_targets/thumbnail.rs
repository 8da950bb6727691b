//! Picture decoding for thumbnails (`attachments::thumbnail`) under the default limits
//! (`max_image_pixels`, `thumbnail_px`): any bytes, as any of the four inline picture types,
//! decode within the pixel and allocation bounds or are refused; nothing panics, and a preview
//! that comes out fits the configured size. Decompression bombs are refused from the header.

#![no_main]

use confab_server::attachments::thumbnail::{preview_bytes, Preview};
use confab_server::config::AttachmentLimits;
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let limits = AttachmentLimits::default();
    let mime = TYPES[usize::from(pick) % TYPES.len()];
    match preview_bytes(bytes, mime, limits.max_image_pixels, limits.thumbnail_px) {
        Preview::Image {
            width,
            height,
            thumbnail,
            thumbnail_mime,
        } => {
            assert!(u64::from(width) * u64::from(height) <= limits.max_image_pixels);
            assert!(width > 0 && height > 0);
            assert!(!thumbnail.is_empty());
            assert!(["image/png", "image/jpeg"].contains(&thumbnail_mime));
        }
        Preview::TooLarge { width, height } => {
            assert!(u64::from(width) * u64::from(height) > limits.max_image_pixels);
        }
        Preview::Invalid => {}
    }
});
