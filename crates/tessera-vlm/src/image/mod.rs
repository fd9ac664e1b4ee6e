//! Images as the models' processors see them: decoded PNG/JPEG converted to 8-bit RGB as PIL's
//! `convert("RGB")` does, Pillow-exact resizing, and the `preprocessor_config.json` pipeline.

mod processor;
mod resample;

use std::path::Path;

pub use processor::{ImageProcessor, ResizeRule};
pub use resample::{Filter, resize};

use crate::error::{Error, Result};
use crate::json::read_bounded;

/// The largest image file read (1 GiB) and the most pixels decoded (about 16k x 16k): a hostile
/// header cannot make the decoder allocate without bound.
const MAX_FILE_BYTES: u64 = 1 << 30;
const MAX_PIXELS: u64 = 1 << 28;

/// An 8-bit RGB image, rows top to bottom, pixels interleaved `R G B`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps interleaved RGB bytes, checking the length.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<RgbImage> {
        let expected = width.checked_mul(height).and_then(|n| n.checked_mul(3));
        if width == 0 || height == 0 || expected != Some(data.len()) {
            return Err(Error::invalid(
                "image",
                format!("{width}x{height} RGB needs {expected:?} bytes, found {}", data.len()),
            ));
        }
        Ok(RgbImage { width, height, data })
    }

    /// Decodes a PNG or JPEG file (the format is sniffed from the bytes).
    pub fn open(path: &Path) -> Result<RgbImage> {
        let bytes = read_bounded(path, MAX_FILE_BYTES)?;
        RgbImage::decode(&bytes).map_err(|e| match e {
            Error::Image { detail, .. } => Error::Image { path: path.into(), detail },
            other => other,
        })
    }

    /// Decodes PNG or JPEG bytes. EXIF orientation is not applied (PIL's `Image.open` does not apply it
    /// either). Conversion to RGB follows PIL: gray is replicated, alpha is dropped (not composited),
    /// 16-bit channels keep their high byte as Pillow's PNG decoder does (16-bit gray: PIL's `I;16` ->
    /// `RGB` clips at 255).
    pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
        let err = |detail: String| Error::Image { path: "<memory>".into(), detail };
        // One configured reader for the header probe and one for the decode (probing consumes it).
        let reader = || -> Result<image::ImageReader<std::io::Cursor<&[u8]>>> {
            let mut r = image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| err(e.to_string()))?;
            let mut limits = image::Limits::default();
            limits.max_alloc = Some(MAX_PIXELS * 8);
            r.limits(limits);
            Ok(r)
        };
        let (w, h) = reader()?.into_dimensions().map_err(|e| err(e.to_string()))?;
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(err(format!("{w}x{h} is over the {MAX_PIXELS}-pixel limit")));
        }
        let img = reader()?.decode().map_err(|e| err(e.to_string()))?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let data: Vec<u8> = match img {
            image::DynamicImage::ImageRgb8(b) => b.into_raw(),
            image::DynamicImage::ImageRgba8(b) => {
                b.into_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
            }
            image::DynamicImage::ImageLuma8(b) => b.into_raw().iter().flat_map(|&g| [g, g, g]).collect(),
            image::DynamicImage::ImageLumaA8(b) => {
                b.into_raw().chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]).collect()
            }
            image::DynamicImage::ImageRgb16(b) => b.into_raw().iter().map(|&v| (v >> 8) as u8).collect(),
            image::DynamicImage::ImageRgba16(b) => b
                .into_raw()
                .chunks_exact(4)
                .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
                .collect(),
            image::DynamicImage::ImageLuma16(b) => b
                .into_raw()
                .iter()
                .flat_map(|&g| {
                    let v = g.min(255) as u8;
                    [v, v, v]
                })
                .collect(),
            image::DynamicImage::ImageLumaA16(b) => b
                .into_raw()
                .chunks_exact(2)
                .flat_map(|p| {
                    let v = p[0].min(255) as u8;
                    [v, v, v]
                })
                .collect(),
            other => other.to_rgb8().into_raw(),
        };
        RgbImage::new(w, h, data)
    }
}
