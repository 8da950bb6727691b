//! Decoding an uploaded picture for its dimensions and a small preview. Blocking and CPU-bound:
//! run it on the blocking pool. The decoder is bounded before it allocates: a picture whose
//! header claims more than the configured pixel count (a decompression bomb, or just too big)
//! is not decoded at all.

use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Memory a decoder may take beyond 4 bytes per allowed pixel (its own tables and buffers).
const DECODER_SLACK: u64 = 64 * 1024 * 1024;

/// JPEG quality of thumbnails.
const JPEG_QUALITY: u8 = 80;

/// What decoding a picture found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// A picture, as shown (EXIF orientation applied), with its thumbnail.
    Image {
        width: u32,
        height: u32,
        thumbnail: Vec<u8>,
        /// `image/jpeg`, or `image/png` when the picture has transparency.
        thumbnail_mime: &'static str,
    },
    /// A real picture header, but more pixels than allowed: kept as a file.
    TooLarge { width: u32, height: u32 },
    /// Not decodable as the type its first bytes claim.
    Invalid,
}

/// Decodes the picture at `path`, of type `mime` (one of the detected image types), and makes
/// a thumbnail whose longer side is at most `max_side` pixels.
pub fn preview(path: &Path, mime: &str, max_pixels: u64, max_side: u32) -> Preview {
    let decoded = std::fs::File::open(path)
        .map_err(image::ImageError::from)
        .and_then(|file| decode(BufReader::new(file), mime, max_pixels, max_side));
    answer(decoded, mime)
}

/// [`preview`] of a picture held in memory (for fuzzing and tests).
pub fn preview_bytes(bytes: &[u8], mime: &str, max_pixels: u64, max_side: u32) -> Preview {
    answer(decode(Cursor::new(bytes), mime, max_pixels, max_side), mime)
}

fn answer(decoded: image::ImageResult<Preview>, mime: &str) -> Preview {
    match decoded {
        Ok(preview) => preview,
        Err(err) => {
            tracing::debug!(%err, mime, "upload does not decode as an image");
            Preview::Invalid
        }
    }
}

fn decode(
    source: impl BufRead + Seek,
    mime: &str,
    max_pixels: u64,
    max_side: u32,
) -> image::ImageResult<Preview> {
    let Some(format) = ImageFormat::from_mime_type(mime) else {
        return Ok(Preview::Invalid);
    };
    let mut reader = ImageReader::new(source);
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(DECODER_SLACK));
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Ok(Preview::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Ok(Preview::Invalid);
    }
    let orientation = decoder.orientation()?;
    let mut picture = DynamicImage::from_decoder(decoder)?;
    picture.apply_orientation(orientation);
    let (width, height) = (picture.width(), picture.height());
    let small = if width.max(height) > max_side {
        picture.thumbnail(max_side, max_side)
    } else {
        picture
    };
    let mut bytes = Cursor::new(Vec::new());
    let thumbnail_mime = if small.color().has_alpha() {
        small.write_to(&mut bytes, ImageFormat::Png)?;
        "image/png"
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        small.to_rgb8().write_with_encoder(encoder)?;
        "image/jpeg"
    };
    Ok(Preview::Image {
        width,
        height,
        thumbnail: bytes.into_inner(),
        thumbnail_mime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let picture = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
                width,
                height,
                image::Rgba([10, 20, 30, 128]),
            ))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 99])
            }))
        };
        picture.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// The CRC-32 PNG chunks carry.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn run(bytes: &[u8], mime: &str, max_pixels: u64) -> Preview {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        std::fs::write(&path, bytes).unwrap();
        let from_file = preview(&path, mime, max_pixels, 320);
        assert_eq!(preview_bytes(bytes, mime, max_pixels, 320), from_file);
        from_file
    }

    #[test]
    fn thumbnails_keep_the_aspect_ratio() {
        let Preview::Image {
            width,
            height,
            thumbnail,
            thumbnail_mime,
        } = run(&png(640, 480, false), "image/png", 1_000_000)
        else {
            panic!("not decoded");
        };
        assert_eq!((width, height, thumbnail_mime), (640, 480, "image/jpeg"));
        let small = image::load_from_memory(&thumbnail).unwrap();
        assert_eq!((small.width(), small.height()), (320, 240));
    }

    #[test]
    fn every_inline_format_decodes() {
        let picture = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            400,
            100,
            image::Rgb([200, 100, 50]),
        ));
        for (format, mime) in [
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let mut bytes = Cursor::new(Vec::new());
            picture.write_to(&mut bytes, format).unwrap();
            let Preview::Image {
                width,
                height,
                thumbnail,
                ..
            } = run(bytes.get_ref(), mime, 1_000_000)
            else {
                panic!("{mime} not decoded");
            };
            assert_eq!((width, height), (400, 100), "{mime}");
            let small = image::load_from_memory(&thumbnail).unwrap();
            assert_eq!((small.width(), small.height()), (320, 80), "{mime}");
        }
    }

    #[test]
    fn small_and_transparent_pictures_get_png_thumbnails() {
        let Preview::Image {
            thumbnail,
            thumbnail_mime,
            ..
        } = run(&png(50, 20, true), "image/png", 1_000_000)
        else {
            panic!("not decoded");
        };
        assert_eq!(thumbnail_mime, "image/png");
        let small = image::load_from_memory(&thumbnail).unwrap();
        assert_eq!((small.width(), small.height()), (50, 20));
    }

    #[test]
    fn bombs_and_garbage_are_not_decoded() {
        // A 100000 x 100000 header: refused from the header alone.
        let mut bomb = png(1, 1, false);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            run(&bomb, "image/png", 40_000_000),
            Preview::TooLarge {
                width: 100_000,
                height: 100_000
            }
        );
        assert_eq!(
            run(&png(100, 100, false), "image/png", 9_999),
            Preview::TooLarge {
                width: 100,
                height: 100
            }
        );
        let mut truncated = png(64, 64, false);
        truncated.truncate(40);
        assert_eq!(run(&truncated, "image/png", 1_000_000), Preview::Invalid);
        assert_eq!(
            run(b"\x89PNG\r\n\x1a\nnot really", "image/png", 1_000_000),
            Preview::Invalid
        );
    }
}
