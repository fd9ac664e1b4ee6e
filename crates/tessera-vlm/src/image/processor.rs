//! `preprocessor_config.json` as transformers' PIL backend applies it (`CLIPImageProcessorPil`,
//! `SiglipImageProcessorPil`): resize (shortest edge keeping the aspect ratio, or to an exact size),
//! centre crop (floored offsets), rescale in f64 then f32, normalise in f32.

use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::image::RgbImage;
use crate::image::resample::{Filter, resize};
use crate::json::{Fields, kind, read_object};

/// How images are resized before the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeRule {
    /// `size: {"shortest_edge": n}`: the short side becomes `n`, the long side `int(n * long / short)`
    /// (CLIP).
    ShortestEdge(usize),
    /// `size: {"height": h, "width": w}`: squash to exactly `h x w` (SigLIP).
    Exact {
        /// Output height.
        height: usize,
        /// Output width.
        width: usize,
    },
}

/// A validated image processor.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessor {
    /// The resize, or `None` when `do_resize` is false.
    pub resize: Option<ResizeRule>,
    /// The filter (`resample`).
    pub filter: Filter,
    /// The centre crop `(height, width)`, or `None` when `do_center_crop` is false.
    pub crop: Option<(usize, usize)>,
    /// `rescale_factor`, or `None` when `do_rescale` is false.
    pub rescale: Option<f64>,
    /// `(image_mean, image_std)`, or `None` when `do_normalize` is false.
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

const MAX_SIDE: usize = 1 << 14;

impl ImageProcessor {
    /// Reads and validates `preprocessor_config.json`.
    pub fn from_file(path: &Path) -> Result<ImageProcessor> {
        ImageProcessor::from_map(path, &read_object(path)?)
    }

    /// Validates a parsed processor configuration (`path` names it in errors).
    pub fn from_map(path: &Path, map: &Map<String, Value>) -> Result<ImageProcessor> {
        let f = Fields::new(path, "", map);
        let size = |field: &str| -> Result<Option<ResizeRule>> {
            match f.get(field) {
                None => Ok(None),
                Some(Value::Object(m)) => {
                    let s = Fields::new(path, field, m);
                    if let Some(n) = s.opt_integer("shortest_edge", 1, MAX_SIDE)? {
                        return Ok(Some(ResizeRule::ShortestEdge(n)));
                    }
                    match (s.opt_integer("height", 1, MAX_SIDE)?, s.opt_integer("width", 1, MAX_SIDE)?) {
                        (Some(height), Some(width)) => Ok(Some(ResizeRule::Exact { height, width })),
                        _ => Err(f.error(
                            field,
                            "{\"shortest_edge\": n} or {\"height\": h, \"width\": w}",
                            Value::Object(m.clone()).to_string(),
                        )),
                    }
                }
                Some(Value::Number(_)) => {
                    let n = f.opt_integer(field, 1, MAX_SIDE)?.unwrap_or(1);
                    Ok(Some(ResizeRule::Exact { height: n, width: n }))
                }
                Some(v) => Err(f.error(field, "an object or an integer", kind(v))),
            }
        };
        let do_resize = f.boolean("do_resize", true)?;
        let resize_rule = match (do_resize, size("size")?) {
            (false, _) => None,
            (true, Some(r)) => Some(r),
            (true, None) => return Err(f.error("size", "a size when do_resize is true", "nothing")),
        };
        let filter = match f.get("resample") {
            None => Filter::Bicubic,
            Some(v) => v
                .as_u64()
                .and_then(Filter::from_code)
                .ok_or_else(|| f.error("resample", "a PIL filter code 0..=5", v.to_string()))?,
        };
        let do_crop = f.boolean("do_center_crop", false)?;
        let crop = if do_crop {
            match size("crop_size")? {
                Some(ResizeRule::Exact { height, width }) => Some((height, width)),
                Some(ResizeRule::ShortestEdge(_)) | None => {
                    return Err(f.error(
                        "crop_size",
                        "{\"height\": h, \"width\": w} when do_center_crop is true",
                        "none",
                    ));
                }
            }
        } else {
            None
        };
        let rescale = if f.boolean("do_rescale", true)? {
            let r = f.number("rescale_factor", 1.0 / 255.0)?;
            if r <= 0.0 {
                return Err(f.error("rescale_factor", "a positive number", r.to_string()));
            }
            Some(r)
        } else {
            None
        };
        let triple = |field: &str, default: [f32; 3]| -> Result<[f32; 3]> {
            match f.get(field) {
                None => Ok(default),
                Some(Value::Number(n)) => {
                    let x = n.as_f64().unwrap_or(f64::NAN) as f32;
                    Ok([x, x, x])
                }
                Some(Value::Array(a)) if a.len() == 3 => {
                    let mut out = [0f32; 3];
                    for (o, v) in out.iter_mut().zip(a) {
                        *o = v
                            .as_f64()
                            .filter(|x| x.is_finite())
                            .ok_or_else(|| f.error(field, "three finite numbers", v.to_string()))?
                            as f32;
                    }
                    Ok(out)
                }
                Some(v) => Err(f.error(field, "three numbers (one per channel)", v.to_string())),
            }
        };
        let normalize = if f.boolean("do_normalize", true)? {
            let mean = triple("image_mean", [0.5; 3])?;
            let std = triple("image_std", [0.5; 3])?;
            if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(f.error("image_std", "positive numbers", format!("{std:?}")));
            }
            Some((mean, std))
        } else {
            None
        };
        if !f.boolean("do_convert_rgb", true)? {
            // Every image is decoded to RGB; a processor that asks otherwise would see other pixels.
            return Err(f.error("do_convert_rgb", "true (images are converted to RGB)", "false"));
        }
        Ok(ImageProcessor { resize: resize_rule, filter, crop, rescale, normalize })
    }

    /// The `(height, width)` an image of `height x width` is resized to.
    pub fn resized_size(&self, height: usize, width: usize) -> (usize, usize) {
        match self.resize {
            None => (height, width),
            Some(ResizeRule::Exact { height, width }) => (height, width),
            Some(ResizeRule::ShortestEdge(n)) => {
                let (short, long) = if width <= height { (width, height) } else { (height, width) };
                // Python's `int(n * long / short)`: the exact product, one correctly rounded division.
                let new_long = (((n as u64 * long as u64) as f64) / short as f64) as usize;
                let new_long = new_long.max(1);
                if width <= height { (new_long, n) } else { (n, new_long) }
            }
        }
    }

    /// Resizes and crops one image: the 8-bit image the model's pixels are computed from.
    pub fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let (h, w) = self.resized_size(img.height, img.width);
        let resized = if self.resize.is_some() { resize(img, w, h, self.filter) } else { img.clone() };
        match self.crop {
            Some((ch, cw)) => center_crop(&resized, ch, cw),
            None => resized,
        }
    }

    /// Rescales and normalises an 8-bit image into `(3, H, W)` f32 values, appended to `out`.
    pub fn normalize_into(&self, img: &RgbImage, out: &mut Vec<f32>) {
        let n = img.width * img.height;
        out.reserve(3 * n);
        for c in 0..3 {
            for i in 0..n {
                let v = img.data[i * 3 + c];
                let mut x = match self.rescale {
                    Some(r) => (f64::from(v) * r) as f32,
                    None => f32::from(v),
                };
                if let Some((mean, std)) = self.normalize {
                    x = (x - mean[c]) / std[c];
                }
                out.push(x);
            }
        }
    }

    /// `pixel_values (batch, 3, H, W)` for a batch of images (they must come out one size, as the
    /// model's fixed input is).
    pub fn preprocess(&self, images: &[RgbImage], device: &Device) -> Result<Tensor> {
        if images.is_empty() {
            return Err(Error::invalid("images", "at least one image is needed"));
        }
        let processed: Vec<RgbImage> = rayon_map(images, |img| self.resize_and_crop(img));
        let (h, w) = (processed[0].height, processed[0].width);
        if let Some((i, p)) = processed.iter().enumerate().find(|(_, p)| (p.height, p.width) != (h, w)) {
            return Err(Error::invalid(
                "images",
                format!(
                    "image {i} preprocesses to {}x{}, image 0 to {w}x{h}: the processor has no fixed output size",
                    p.width, p.height
                ),
            ));
        }
        let mut data = Vec::with_capacity(processed.len() * 3 * h * w);
        for p in &processed {
            self.normalize_into(p, &mut data);
        }
        Ok(Tensor::from_vec(data, (processed.len(), 3, h, w), device)?)
    }

    /// The processor as `preprocessor_config.json` (for `save_pretrained`); `kind` is
    /// `CLIPImageProcessor` or `SiglipImageProcessor`.
    pub fn to_json(&self, kind: &str) -> Value {
        let mut m = Map::new();
        m.insert("image_processor_type".into(), kind.into());
        m.insert("do_resize".into(), self.resize.is_some().into());
        match self.resize {
            Some(ResizeRule::ShortestEdge(n)) => {
                m.insert("size".into(), json!({ "shortest_edge": n }));
            }
            Some(ResizeRule::Exact { height, width }) => {
                m.insert("size".into(), json!({ "height": height, "width": width }));
            }
            None => {}
        }
        m.insert("resample".into(), self.filter.code().into());
        m.insert("do_center_crop".into(), self.crop.is_some().into());
        if let Some((h, w)) = self.crop {
            m.insert("crop_size".into(), json!({ "height": h, "width": w }));
        }
        m.insert("do_rescale".into(), self.rescale.is_some().into());
        m.insert("rescale_factor".into(), self.rescale.unwrap_or(1.0 / 255.0).into());
        m.insert("do_normalize".into(), self.normalize.is_some().into());
        if let Some((mean, std)) = self.normalize {
            m.insert("image_mean".into(), mean.iter().map(|&x| f64::from(x)).collect::<Vec<_>>().into());
            m.insert("image_std".into(), std.iter().map(|&x| f64::from(x)).collect::<Vec<_>>().into());
        }
        m.insert("do_convert_rgb".into(), true.into());
        Value::Object(m)
    }
}

fn rayon_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync + Send) -> Vec<U> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// transformers' centre crop: offsets floored; an image smaller than the crop is zero-padded around
/// its centre first (offsets rounded up).
pub(crate) fn center_crop(img: &RgbImage, ch: usize, cw: usize) -> RgbImage {
    let (h, w) = (img.height, img.width);
    if h >= ch && w >= cw {
        let top = (h - ch) / 2;
        let left = (w - cw) / 2;
        let mut data = Vec::with_capacity(ch * cw * 3);
        for y in top..top + ch {
            data.extend_from_slice(&img.data[(y * w + left) * 3..(y * w + left + cw) * 3]);
        }
        return RgbImage { width: cw, height: ch, data };
    }
    let (nh, nw) = (h.max(ch), w.max(cw));
    let top_pad = (nh - h).div_ceil(2);
    let left_pad = (nw - w).div_ceil(2);
    let mut padded = vec![0u8; nh * nw * 3];
    for y in 0..h {
        let dst = ((y + top_pad) * nw + left_pad) * 3;
        padded[dst..dst + w * 3].copy_from_slice(&img.data[y * w * 3..(y + 1) * w * 3]);
    }
    // The crop window in the original's frame, shifted by the padding, clipped to the padded image.
    let top = (h as i64 - ch as i64).div_euclid(2) + top_pad as i64;
    let left = (w as i64 - cw as i64).div_euclid(2) + left_pad as i64;
    let (y0, y1) = (top.max(0) as usize, ((top + ch as i64) as usize).min(nh));
    let (x0, x1) = (left.max(0) as usize, ((left + cw as i64) as usize).min(nw));
    let mut data = Vec::with_capacity((y1 - y0) * (x1 - x0) * 3);
    for y in y0..y1 {
        data.extend_from_slice(&padded[(y * nw + x0) * 3..(y * nw + x1) * 3]);
    }
    RgbImage { width: x1 - x0, height: y1 - y0, data }
}
