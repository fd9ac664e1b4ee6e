//! Checking that an allocation a caller asks for fits before making it: sizes computed with checked
//! arithmetic (an overflow is "more than 2^64 bytes") and compared with the memory the system has
//! available, so an absurd size is a clear error giving the bytes, never an abort or an OOM kill.

use crate::error::{Error, Result};

/// The memory the system can give this process now, in bytes: Linux's `MemAvailable`; `None` where it is
/// not known (the check then passes).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `count` elements of `element_bytes` each, or `None` if that overflows.
pub fn bytes_for(count: impl IntoIterator<Item = usize>, element_bytes: usize) -> Option<u64> {
    count.into_iter().try_fold(element_bytes as u64, |acc, n| acc.checked_mul(n as u64))
}

/// Refuses `bytes` (`None`: the size overflowed) when it exceeds the available memory, naming `what`.
///
/// ```
/// use tessera_tensor::{Error, bytes_for, check_fits};
/// check_fits("a small buffer", bytes_for([1000, 1000], 4)).unwrap();
/// let err = check_fits("the inputs", bytes_for([usize::MAX, 2], 4)).unwrap_err();
/// assert!(matches!(err, Error::TooLarge { bytes: None, .. }));
/// ```
pub fn check_fits(what: &str, bytes: Option<u64>) -> Result<()> {
    let available = available_memory();
    match (bytes, available) {
        (Some(b), Some(a)) if b <= a => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(Error::TooLarge { what: what.to_string(), bytes, available }),
    }
}
