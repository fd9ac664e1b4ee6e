//! # tessera-tensor
//!
//! The shared tensor vocabulary of tessera, built on [candle](https://github.com/huggingface/candle):
//!
//! - [`Tensor`], [`Device`] and [`DType`] are candle's own, re-exported; [`DeviceSpec`] parses `cpu` /
//!   `cuda:N` and opens the device (CUDA behind the `cuda` feature, with a clear error when absent);
//! - [`SafetensorsFile`] maps a safetensors file and loads tensors lazily, one at a time, converting
//!   dtypes and checking shapes with errors that name the tensor; [`save`] writes atomically;
//! - [`from_ndarray`], [`to_ndarray`] and [`with_ndarray_view`] move data between candle and `ndarray`;
//! - [`SeededRng`] gives the same random arrays and tensors on every platform for a seed;
//! - [`write_atomic`] writes any file through a temporary file renamed into place (`-` is stdout; devices
//!   and FIFOs are written in place; directories and read-only files are refused), and [`check_output`]
//!   refuses an output that is one of the inputs;
//! - one [`Error`] type.
//!
//! The candle side sits behind the default `candle` feature. Crates that need only the ndarray side
//! (trees, datasets) depend on this crate with `default-features = false` and never compile candle.
//!
//! ```
//! use tessera_tensor::{DType, Device, SafetensorsFile, SeededRng, save, to_ndarray};
//!
//! # fn main() -> tessera_tensor::Result<()> {
//! let mut rng = SeededRng::new(42);
//! let w = rng.normal_tensor(&[3, 4], 0.0, 1.0, DType::F32, &Device::Cpu)?;
//!
//! let dir = tempfile::tempdir().map_err(|e| tessera_tensor::Error::io("tempdir", e))?;
//! let path = dir.path().join("weights.safetensors");
//! save(&path, &[("layer.weight", &w)])?;
//!
//! let file = SafetensorsFile::open(&path)?;
//! let back = file.load_checked("layer.weight", &[3, 4], DType::F32, &Device::Cpu)?;
//! assert_eq!(to_ndarray::<f32>(&back)?, to_ndarray::<f32>(&w)?);
//!
//! // A wrong shape is an error that names the tensor.
//! let err = file.load_checked("layer.weight", &[4, 3], DType::F32, &Device::Cpu).unwrap_err();
//! assert!(err.to_string().contains("layer.weight"));
//! # Ok(())
//! # }
//! ```

mod error;
mod memory;
mod rng;
mod write;

#[cfg(feature = "candle")]
mod device;
#[cfg(feature = "candle")]
mod ndarray_interop;
#[cfg(feature = "candle")]
mod safetensors_io;

pub use error::{Error, OutputProblem, Result};
pub use memory::{available_memory, bytes_for, check_fits};
pub use rng::SeededRng;
pub use write::{check_output, remove_temp_files, write_atomic, write_atomic_with};

#[cfg(feature = "candle")]
pub use candle_core::{DType, Device, Tensor, WithDType};
#[cfg(feature = "candle")]
pub use device::{DeviceSpec, cuda_compiled};
#[cfg(feature = "candle")]
pub use half::{bf16, f16};
#[cfg(feature = "candle")]
pub use ndarray_interop::{from_ndarray, from_ndarray_view, to_ndarray, with_ndarray_view};
#[cfg(feature = "candle")]
pub use safetensors_io::{SafetensorsFile, TensorInfo, save, save_with_metadata};

/// `ndarray`, re-exported so that every tessera crate names the same version.
pub use ndarray;
