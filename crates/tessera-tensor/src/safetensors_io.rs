//! Safetensors IO: memory-mapped, lazy loading of named tensors (one at a time, with dtype conversion and
//! shape checks that name the tensor at fault) and atomic saving.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, safetensors::Load};
use memmap2::Mmap;
use safetensors::tensor::{Dtype as StDtype, Metadata, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::write::write_atomic_with;

/// The name, dtype and shape of one tensor in a safetensors file, read from the header without touching
/// the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its dtype as candle names it.
    pub dtype: DType,
    /// Its shape.
    pub shape: Vec<usize>,
}

/// An open safetensors file. The file is memory-mapped and its header parsed once; each tensor is read
/// (copied out of the map) only when asked for, so opening a multi-gigabyte checkpoint costs nothing.
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: Mmap,
    data_start: usize,
    metadata: Metadata,
}

impl std::fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("tensors", &self.metadata.offset_keys())
            .finish()
    }
}

impl SafetensorsFile {
    /// Opens and maps `path`, and validates its header. A truncated or corrupted file is an
    /// [`Error::InvalidSafetensors`] naming the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        // SAFETY: the map is read-only and private to this value. As with every mmap, another process
        // truncating the file while it is mapped is outside what Rust can guard against; safetensors
        // checkpoints are written once and then only read, which is the case this type is for.
        #[allow(unsafe_code)]
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        let (header_len, metadata) = SafeTensors::read_metadata(&mmap)
            .map_err(|e| Error::InvalidSafetensors { path: path.clone(), reason: e.to_string() })?;
        Ok(SafetensorsFile { path, mmap, data_start: 8 + header_len, metadata })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.metadata.offset_keys()
    }

    /// The free-form string metadata stored in the header (`__metadata__`), if any.
    pub fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.metadata.metadata().as_ref()
    }

    /// The dtype and shape of tensor `name`.
    pub fn info(&self, name: &str) -> Result<TensorInfo> {
        let info = self.raw_info(name)?;
        Ok(TensorInfo {
            name: name.to_string(),
            dtype: candle_dtype(name, info.dtype)?,
            shape: info.shape.clone(),
        })
    }

    /// Every tensor's dtype and shape, in file order.
    pub fn infos(&self) -> Result<Vec<TensorInfo>> {
        self.names().iter().map(|n| self.info(n)).collect()
    }

    /// Loads tensor `name` in its stored dtype onto `device`.
    pub fn load(&self, name: &str, device: &Device) -> Result<Tensor> {
        let info = self.raw_info(name)?;
        candle_dtype(name, info.dtype)?;
        let (start, end) = info.data_offsets;
        let bytes = self
            .mmap
            .get(self.data_start + start..self.data_start + end)
            .ok_or_else(|| self.invalid(format!("tensor `{name}` lies outside the file")))?;
        let view = TensorView::new(info.dtype, info.shape.clone(), bytes)
            .map_err(|e| self.invalid(format!("tensor `{name}`: {e}")))?;
        Ok(view.load(device)?)
    }

    /// Loads tensor `name` converted to `dtype`. Conversions between float dtypes (f16, bf16, f32, f64)
    /// and from integers to floats are allowed; reading floats as integers is an [`Error::DtypeMismatch`].
    pub fn load_as(&self, name: &str, dtype: DType, device: &Device) -> Result<Tensor> {
        let stored = self.info(name)?.dtype;
        check_conversion(name, stored, dtype)?;
        let tensor = self.load(name, device)?;
        Ok(if stored == dtype { tensor } else { tensor.to_dtype(dtype)? })
    }

    /// Loads tensor `name` as [`load_as`](Self::load_as) does, first checking that its shape is `shape`
    /// (an [`Error::ShapeMismatch`] naming the tensor otherwise). This is how model weights are loaded.
    pub fn load_checked(&self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        let info = self.info(name)?;
        if info.shape != shape {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: info.shape,
            });
        }
        self.load_as(name, dtype, device)
    }

    /// Loads every tensor in its stored dtype.
    pub fn load_all(&self, device: &Device) -> Result<HashMap<String, Tensor>> {
        self.names().into_iter().map(|n| Ok((n.clone(), self.load(&n, device)?))).collect()
    }

    fn raw_info(&self, name: &str) -> Result<&safetensors::tensor::TensorInfo> {
        self.metadata.info(name).ok_or_else(|| {
            let mut names = self.names();
            names.truncate(20);
            Error::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
                available: if names.is_empty() { "no tensors".to_string() } else { names.join(", ") },
            }
        })
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidSafetensors { path: self.path.clone(), reason }
    }
}

fn candle_dtype(name: &str, dtype: StDtype) -> Result<DType> {
    Ok(match dtype {
        StDtype::U8 => DType::U8,
        StDtype::U32 => DType::U32,
        StDtype::I16 => DType::I16,
        StDtype::I32 => DType::I32,
        StDtype::I64 => DType::I64,
        StDtype::F16 => DType::F16,
        StDtype::BF16 => DType::BF16,
        StDtype::F32 => DType::F32,
        StDtype::F64 => DType::F64,
        other => {
            return Err(Error::UnsupportedDtype {
                name: name.to_string(),
                found: format!("{other:?}"),
                reason: "tessera reads u8, u32, i16, i32, i64, f16, bf16, f32 and f64 tensors".to_string(),
            });
        }
    })
}

fn check_conversion(name: &str, from: DType, to: DType) -> Result<()> {
    if from == to || to.is_float() && (from.is_float() || from.is_int()) {
        Ok(())
    } else {
        Err(Error::DtypeMismatch {
            name: name.to_string(),
            found: from.as_str().to_string(),
            requested: to.as_str().to_string(),
        })
    }
}

/// Saves named tensors to `path` as safetensors, atomically (a temporary file renamed into place).
/// Tensors on any device are copied to the host; names must be unique.
pub fn save<'a, S: AsRef<str>>(path: impl AsRef<Path>, tensors: &'a [(S, &'a Tensor)]) -> Result<()> {
    save_with_metadata(path, tensors, None)
}

/// As [`save`], with free-form string metadata stored in the header.
pub fn save_with_metadata<'a, S: AsRef<str>>(
    path: impl AsRef<Path>,
    tensors: &'a [(S, &'a Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let path = path.as_ref();
    let mut seen = std::collections::HashSet::new();
    for (name, _) in tensors {
        if !seen.insert(name.as_ref()) {
            return Err(Error::InvalidArgument(format!(
                "{}: tensor name `{}` appears twice",
                path.display(),
                name.as_ref()
            )));
        }
    }
    let items: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_ref(), *t)).collect();
    write_atomic_with(path, |tmp| {
        safetensors::serialize_to_file(items, metadata, tmp)
            .map_err(|e| Error::InvalidSafetensors { path: path.to_path_buf(), reason: e.to_string() })
    })
}
