//! scratch
use std::time::Instant;
use tessera_attention::{AttentionOptions, flash_attention, flash_attention_backward};
use tessera_tensor::{DType, Device, SeededRng};
fn main() {
    let mut rng = SeededRng::new(0);
    for (l, d, causal) in
        [(1024usize, 64usize, false), (4096, 64, false), (4096, 128, false), (4096, 64, true)]
    {
        let mut t = |l| rng.normal_tensor(&[1, 8, l, d], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap();
        let (q, k, v) = (t(l), t(l), t(l));
        let opts = AttentionOptions { causal, ..Default::default() };
        let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
        let iters = 5;
        let s = Instant::now();
        for _ in 0..iters {
            flash_attention(&q, &k, &v, &opts).unwrap();
        }
        let secs = s.elapsed().as_secs_f64() / iters as f64;
        let flops = 4.0 * 8.0 * (l * l * d) as f64 * if causal { 0.5 } else { 1.0 };
        let s2 = Instant::now();
        for _ in 0..2 {
            flash_attention_backward(&q, &k, &v, &o, &lse, &o, &opts).unwrap();
        }
        let bsecs = s2.elapsed().as_secs_f64() / 2.0;
        println!(
            "L={l} D={d} causal={causal}: fwd {:.1} ms {:.0} GFLOP/s; bwd {:.1} ms {:.0} GFLOP/s",
            secs * 1e3,
            flops / secs / 1e9,
            bsecs * 1e3,
            2.5 * flops / bsecs / 1e9
        );
    }
}
