//! safetensors files on arbitrary bytes: open (header parsing and validation), then load every tensor
//! whose size the file can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_tensor::{Device, SafetensorsFile};

fuzz_target!(|data: &[u8]| {
    let file = std::env::temp_dir().join(format!("tessera-fuzz-{}.safetensors", std::process::id()));
    if std::fs::write(&file, data).is_err() {
        return;
    }
    if let Ok(f) = SafetensorsFile::open(&file) {
        for name in f.names() {
            let _ = f.load(&name, &Device::Cpu);
        }
    }
    let _ = std::fs::remove_file(&file);
});
