//! Conversion between candle tensors and `ndarray` arrays, for every dtype candle supports
//! (`u8`, `u32`, `i16`, `i32`, `i64`, `f16`, `bf16`, `f32`, `f64`).
//!
//! - [`from_ndarray`] takes an owned array and moves its buffer into the tensor without copying when the
//!   array is in standard (row-major) layout and owns exactly its elements; otherwise it copies.
//! - [`with_ndarray_view`] lends a CPU tensor's storage to a closure as an `ArrayViewD` without copying,
//!   following the tensor's strides (so transposed and narrowed tensors are viewed in place too).
//! - [`to_ndarray`] copies a tensor from any device into an owned row-major array.

use candle_core::{Device, Storage, Tensor, WithDType};
use ndarray::{Array, ArrayD, ArrayView, ArrayViewD, Dimension, IxDyn, ShapeBuilder};

use crate::error::{Error, Result};

/// Converts an owned array into a tensor on `device`. On the CPU a standard-layout array's buffer is moved
/// into the tensor as is (no copy); other layouts are copied in logical (row-major) order.
pub fn from_ndarray<T: WithDType, D: Dimension>(array: Array<T, D>, device: &Device) -> Result<Tensor> {
    let shape = array.shape().to_vec();
    let len = array.len();
    if array.is_standard_layout() {
        let (vec, offset) = array.into_raw_vec_and_offset();
        if vec.len() == len && offset.unwrap_or(0) == 0 {
            return Ok(Tensor::from_vec(vec, shape, device)?);
        }
        // Standard layout over part of a larger buffer: copy out the elements we own.
        let start = offset.unwrap_or(0);
        return Ok(Tensor::from_slice(&vec[start..start + len], shape, device)?);
    }
    let vec: Vec<T> = array.iter().copied().collect();
    Ok(Tensor::from_vec(vec, shape, device)?)
}

/// Copies an array view into a tensor on `device` (row-major order whatever the view's strides).
pub fn from_ndarray_view<T: WithDType, D: Dimension>(
    view: ArrayView<'_, T, D>,
    device: &Device,
) -> Result<Tensor> {
    let shape = view.shape().to_vec();
    match view.as_slice() {
        Some(slice) => Ok(Tensor::from_slice(slice, shape, device)?),
        None => Ok(Tensor::from_vec(view.iter().copied().collect::<Vec<T>>(), shape, device)?),
    }
}

/// Copies a tensor (any device, any layout) into an owned row-major array of element type `T`, which must
/// be the tensor's dtype (convert first with `Tensor::to_dtype`).
pub fn to_ndarray<T: WithDType>(tensor: &Tensor) -> Result<ArrayD<T>> {
    check_dtype::<T>(tensor)?;
    let values = tensor.flatten_all()?.to_vec1::<T>()?;
    ArrayD::from_shape_vec(IxDyn(tensor.dims()), values).map_err(|e| Error::Shape(e.to_string()))
}

/// Runs `f` on a zero-copy view of a CPU tensor's elements, laid out with the tensor's own strides.
/// A tensor on another device is an error: copy it with [`to_ndarray`] instead.
pub fn with_ndarray_view<T, R>(tensor: &Tensor, f: impl FnOnce(ArrayViewD<'_, T>) -> R) -> Result<R>
where
    T: WithDType,
{
    check_dtype::<T>(tensor)?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(Error::InvalidArgument(format!(
            "a zero-copy view needs a CPU tensor, this one is on {:?}; use to_ndarray to copy it",
            tensor.device().location()
        )));
    };
    let data: &[T] = cpu.as_slice::<T>()?;
    let data = data
        .get(layout.start_offset()..)
        .ok_or_else(|| Error::Shape("tensor offset lies past its storage".to_string()))?;
    let shape = IxDyn(layout.dims());
    let view = if shape.size() == 0 {
        // ndarray rejects strided shapes over an empty slice; an empty view has no layout to follow.
        ArrayView::from_shape(shape, &[])
    } else {
        ArrayView::from_shape(shape.strides(IxDyn(layout.stride())), data)
    }
    .map_err(|e| Error::Shape(e.to_string()))?;
    Ok(f(view))
}

fn check_dtype<T: WithDType>(tensor: &Tensor) -> Result<()> {
    if tensor.dtype() == T::DTYPE {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "tensor has dtype {}, the array element type is {}",
            tensor.dtype().as_str(),
            T::DTYPE.as_str()
        )))
    }
}
