//! Flash attention against the naive references: every mask kind, grouped-query attention, odd
//! lengths, `seq_q != seq_k`, packed batches, decoding, half precision, gradients, determinism.
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use proptest::prelude::*;
use tessera_attention::{
    AttentionOptions, Error, FlashAttentionOp, flash_attention, flash_attention_backward,
    flash_attention_var, flash_attention_varlen, flash_attention_varlen_backward, flash_decode,
    naive_attention, naive_attention_var,
};
use tessera_autograd::Var;
use tessera_tensor::SeededRng;

fn normal(dims: &[usize], seed: u64) -> Tensor {
    SeededRng::new(seed).normal_tensor(dims, 0.0, 1.0, DType::F32, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| if x == y { 0.0 } else { (x - y).abs() })
        .fold(0.0, |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) })
}

/// The largest difference relative to `max(1, |b|)`: f32 carries about 7 significant digits, so values
/// that grow with the inputs' scale (log-sum-exps of large scores, outputs near a value of 3) are compared
/// relatively (an LSE of 20 was off by 6 ulps, 1.1e-5).
fn max_rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| if x == y { 0.0 } else { (x - y).abs() / y.abs().max(1.0) })
        .fold(0.0, |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) })
}

#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    heads: usize,
    kv_heads: usize,
    lq: usize,
    lk: usize,
    dim: usize,
    causal: bool,
    window: (Option<usize>, Option<usize>),
    padded: bool,
    scale: Option<f64>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, prop::sample::select(vec![(1usize, 1usize), (2, 2), (4, 2), (4, 1), (3, 3)])),
        (1usize..150, 1usize..150),
        prop::sample::select(vec![1usize, 7, 16, 33, 64, 80, 128]),
        (any::<bool>(), prop::option::of(0usize..40), prop::option::of(0usize..40)),
        (any::<bool>(), prop::option::of(0.05f64..0.5), 0u64..10_000),
    )
        .prop_map(
            |((batch, (heads, kv_heads)), (lq, lk), dim, (causal, left, right), (padded, scale, seed))| {
                Case {
                    batch,
                    heads,
                    kv_heads,
                    lq,
                    lk,
                    dim,
                    causal,
                    window: (left, right),
                    padded,
                    scale,
                    seed,
                }
            },
        )
}

impl Case {
    fn tensors(&self) -> (Tensor, Tensor, Tensor) {
        (
            normal(&[self.batch, self.heads, self.lq, self.dim], self.seed),
            normal(&[self.batch, self.kv_heads, self.lk, self.dim], self.seed + 1),
            normal(&[self.batch, self.kv_heads, self.lk, self.dim], self.seed + 2),
        )
    }

    /// The forward's tolerance: 1e-5 relative at the default scale, growing with the typical score
    /// size `scale * sqrt(dim)` of unit-normal inputs. An f32 score carries rounding in proportion to
    /// its size and the exponential passes it on to the probability: scale 0.39 at dim 128 (scores about
    /// 4.4 times the default's) left an output 1.04e-5 off (1.06e-5 before this kernels).
    fn tolerance(&self) -> f32 {
        let score = self.scale.map_or(1.0, |s| s * (self.dim as f64).sqrt());
        (1e-5 * score.max(1.0)) as f32
    }

    fn options(&self) -> AttentionOptions {
        let key_padding_mask = self.padded.then(|| {
            let mut rng = SeededRng::new(self.seed + 3);
            let pad: Vec<u8> = (0..self.batch * self.lk).map(|_| u8::from(rng.uniform() < 0.3)).collect();
            Tensor::from_vec(pad, (self.batch, self.lk), &Device::Cpu).unwrap()
        });
        AttentionOptions {
            scale: self.scale,
            causal: self.causal,
            window_left: self.window.0,
            window_right: self.window.1,
            key_padding_mask,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn forward_matches_naive(c in case()) {
        let (q, k, v) = c.tensors();
        let opts = c.options();
        let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
        let (o_ref, lse_ref) = naive_attention(&q, &k, &v, &opts).unwrap();
        let tol = c.tolerance();
        prop_assert!(max_rel_diff(&o, &o_ref) <= tol, "output differs by {}", max_rel_diff(&o, &o_ref));
        prop_assert!(max_rel_diff(&lse, &lse_ref) <= tol, "lse differs by {}", max_rel_diff(&lse, &lse_ref));
    }

    #[test]
    fn bf16_forward_matches_naive_on_the_rounded_inputs(c in case()) {
        // On CPUs with AVX-512 BF16 this runs the bf16 dot-product kernels (probabilities rounded
        // to bf16 for P v); elsewhere the f32 kernels on converted inputs.
        let (q, k, v) = c.tensors();
        let round = |t: &Tensor| t.to_dtype(DType::BF16).unwrap();
        let (qb, kb, vb) = (round(&q), round(&k), round(&v));
        let opts = c.options();
        let (o, lse) = flash_attention(&qb, &kb, &vb, &opts).unwrap();
        let up = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let (o_ref, lse_ref) = naive_attention(&up(&qb), &up(&kb), &up(&vb), &opts).unwrap();
        prop_assert!(max_diff(&o, &o_ref) <= 2e-2, "output differs by {}", max_diff(&o, &o_ref));
        prop_assert!(max_rel_diff(&lse, &lse_ref) <= 1e-4, "lse differs by {}", max_rel_diff(&lse, &lse_ref));
    }

    #[test]
    fn backward_matches_autograd_through_the_naive_path(c in case()) {
        let (q, k, v) = c.tensors();
        let opts = c.options();
        let d_o = normal(&[c.batch, c.heads, c.lq, c.dim], c.seed + 9);
        let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
        let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &d_o, &opts).unwrap();
        // The reference runs in f64 through autograd.
        let vars: Vec<Var> = [&q, &k, &v].iter().map(|t| Var::parameter(t.to_dtype(DType::F64).unwrap())).collect();
        let out = naive_attention_var(&vars[0], &vars[1], &vars[2], &opts).unwrap();
        out.backward_with(&d_o.to_dtype(DType::F64).unwrap()).unwrap();
        for (name, got, var) in [("dq", &dq, &vars[0]), ("dk", &dk, &vars[1]), ("dv", &dv, &vars[2])] {
            let want = var.grad().unwrap();
            let scale = want.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_dtype(DType::F32).unwrap().to_scalar::<f32>().unwrap().max(1.0);
            let d = max_diff(got, &want);
            prop_assert!(d <= 2e-5 * scale, "{name} differs by {d} (max |grad| {scale})");
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    // A directional derivative of L = sum(O * R) in f64 arithmetic over the f32 kernel, step 1e-2.
    let c = Case {
        batch: 1,
        heads: 2,
        kv_heads: 1,
        lq: 37,
        lk: 51,
        dim: 24,
        causal: true,
        window: (Some(30), None),
        padded: false,
        scale: None,
        seed: 5,
    };
    let (q, k, v) = c.tensors();
    let opts = c.options();
    let r = normal(&[1, 2, 37, 24], 99);
    let loss = |q: &Tensor, k: &Tensor, v: &Tensor| -> f64 {
        let (o, _) = flash_attention(q, k, v, &opts).unwrap();
        o.to_dtype(DType::F64)
            .unwrap()
            .mul(&r.to_dtype(DType::F64).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
    let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &r, &opts).unwrap();
    let eps = 1e-2;
    for (i, grad) in [dq, dk, dv].iter().enumerate() {
        let u = normal(grad.dims(), 200 + i as u64);
        let shift = |s: f64| {
            let mut inputs = [q.clone(), k.clone(), v.clone()];
            inputs[i] = inputs[i].add(&u.affine(s, 0.0).unwrap()).unwrap();
            loss(&inputs[0], &inputs[1], &inputs[2])
        };
        let numeric = (shift(eps) - shift(-eps)) / (2.0 * eps);
        let analytic = grad.mul(&u).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
        assert!(
            (numeric - analytic).abs() <= 1e-3 * (1.0 + numeric.abs()),
            "input {i}: numeric {numeric} analytic {analytic}"
        );
    }
}

#[test]
fn autograd_function_uses_the_flash_backward() {
    let (q, k, v) = (normal(&[1, 2, 20, 16], 1), normal(&[1, 2, 30, 16], 2), normal(&[1, 2, 30, 16], 3));
    let opts = AttentionOptions::causal();
    let vars: Vec<Var> = [&q, &k, &v].iter().map(|t| Var::parameter((*t).clone())).collect();
    let (o, lse) = flash_attention_var(&vars[0], &vars[1], &vars[2], &opts).unwrap();
    assert_eq!(o.grad_fn().unwrap().name(), "FlashAttentionBackward");
    assert!(!lse.requires_grad());
    o.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    let refs: Vec<Var> = [&q, &k, &v].iter().map(|t| Var::parameter((*t).clone())).collect();
    naive_attention_var(&refs[0], &refs[1], &refs[2], &opts)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (a, b) in vars.iter().zip(&refs) {
        assert!(max_diff(&a.grad().unwrap(), &b.grad().unwrap()) < 1e-4);
    }
}

#[test]
fn half_precision_inputs() {
    // f32 accumulation; the output is rounded to the input dtype (f16: 11-bit, bf16: 8-bit mantissa).
    let (q, k, v) = (normal(&[2, 4, 70, 64], 1), normal(&[2, 2, 90, 64], 2), normal(&[2, 2, 90, 64], 3));
    let opts = AttentionOptions::causal();
    for (dtype, tol) in [(DType::F16, 2e-3), (DType::BF16, 1.6e-2)] {
        let (qh, kh, vh) =
            (q.to_dtype(dtype).unwrap(), k.to_dtype(dtype).unwrap(), v.to_dtype(dtype).unwrap());
        let (o, lse) = flash_attention(&qh, &kh, &vh, &opts).unwrap();
        assert_eq!(o.dtype(), dtype);
        let (o_ref, lse_ref) = naive_attention(
            &qh.to_dtype(DType::F32).unwrap(),
            &kh.to_dtype(DType::F32).unwrap(),
            &vh.to_dtype(DType::F32).unwrap(),
            &opts,
        )
        .unwrap();
        assert!(max_diff(&o, &o_ref) <= tol, "{dtype:?}: {}", max_diff(&o, &o_ref));
        assert!(max_rel_diff(&lse, &lse_ref) <= 1e-4);
        let (dq, _, _) = flash_attention_backward(&qh, &kh, &vh, &o, &lse, &o, &opts).unwrap();
        assert_eq!(dq.dtype(), dtype);
    }
}

#[test]
fn packed_variable_length_batches_match_per_sequence_attention() {
    let (lens_q, lens_k) = ([5usize, 64, 1, 130], [9usize, 64, 77, 3]);
    let (heads, kv_heads, dim) = (4, 2, 32);
    let cu = |lens: &[usize]| -> Vec<u32> {
        std::iter::once(0)
            .chain(lens.iter().scan(0, |s, &l| {
                *s += l as u32;
                Some(*s)
            }))
            .collect()
    };
    let (cq, ck) = (cu(&lens_q), cu(&lens_k));
    let (tq, tk) = (*cq.last().unwrap() as usize, *ck.last().unwrap() as usize);
    let (q, k, v) =
        (normal(&[tq, heads, dim], 1), normal(&[tk, kv_heads, dim], 2), normal(&[tk, kv_heads, dim], 3));
    let d_o = normal(&[tq, heads, dim], 4);
    let opts = AttentionOptions::causal();
    let (o, lse) = flash_attention_varlen(&q, &k, &v, &cq, &ck, &opts).unwrap();
    let (dq, dk, dv) = flash_attention_varlen_backward(&q, &k, &v, &o, &lse, &d_o, &cq, &ck, &opts).unwrap();
    for b in 0..lens_q.len() {
        let dense = |t: &Tensor, cu: &[u32]| {
            t.narrow(0, cu[b] as usize, (cu[b + 1] - cu[b]) as usize)
                .unwrap()
                .permute((1, 0, 2))
                .unwrap()
                .unsqueeze(0)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (qb, kb, vb, dob) = (dense(&q, &cq), dense(&k, &ck), dense(&v, &ck), dense(&d_o, &cq));
        let (ob, lseb) = flash_attention(&qb, &kb, &vb, &opts).unwrap();
        assert!(max_diff(&dense(&o, &cq), &ob) <= 1e-6);
        let lse_part = lse.narrow(1, cq[b] as usize, lens_q[b]).unwrap().unsqueeze(0).unwrap();
        assert!(max_diff(&lse_part, &lseb) <= 1e-6);
        let (dqb, dkb, dvb) = flash_attention_backward(&qb, &kb, &vb, &ob, &lseb, &dob, &opts).unwrap();
        assert!(max_diff(&dense(&dq, &cq), &dqb) <= 1e-6);
        assert!(max_diff(&dense(&dk, &ck), &dkb) <= 1e-6);
        assert!(max_diff(&dense(&dv, &ck), &dvb) <= 1e-6);
    }
}

#[test]
fn decoding_against_a_kv_cache() {
    let (batch, heads, kv_heads, capacity, dim) = (3, 4, 2, 700, 64);
    let q = normal(&[batch, heads, 1, dim], 1);
    let (k, v) = (normal(&[batch, kv_heads, capacity, dim], 2), normal(&[batch, kv_heads, capacity, dim], 3));
    let lens = [700usize, 333, 1];
    for opts in [
        AttentionOptions::default(),
        AttentionOptions::causal(),
        AttentionOptions { window_left: Some(100), causal: true, ..Default::default() },
    ] {
        let (o, lse) = flash_decode(&q, &k, &v, &lens, &opts).unwrap();
        for (b, &n) in lens.iter().enumerate() {
            let one = |t: &Tensor| t.narrow(0, b, 1).unwrap();
            let (kb, vb) = (one(&k).narrow(2, 0, n).unwrap(), one(&v).narrow(2, 0, n).unwrap());
            let (o_ref, lse_ref) =
                naive_attention(&one(&q), &kb.contiguous().unwrap(), &vb.contiguous().unwrap(), &opts)
                    .unwrap();
            assert!(max_diff(&one(&o), &o_ref) <= 1e-5);
            assert!(max_diff(&one(&lse), &lse_ref) <= 1e-5);
        }
    }
    assert!(matches!(
        flash_decode(&q, &k, &v, &[701, 1, 1], &AttentionOptions::default()),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (q, k, v) = (normal(&[1, 4, 300, 48], 1), normal(&[1, 2, 260, 48], 2), normal(&[1, 2, 260, 48], 3));
    let opts = AttentionOptions { causal: true, window_left: Some(90), ..Default::default() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
            let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &o, &opts).unwrap();
            [o, lse, dq, dk, dv].map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    // A single query takes the split-key path; it too is deterministic.
    let q1 = q.narrow(2, 0, 1).unwrap().contiguous().unwrap();
    let a = flash_attention(&q1, &k, &v, &opts).unwrap().0.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = flash_attention(&q1, &k, &v, &opts).unwrap().0.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(a, b);
}

#[test]
fn candle_custom_op_gives_the_same_output() {
    let (q, k, v) = (normal(&[2, 4, 33, 40], 1), normal(&[2, 1, 45, 40], 2), normal(&[2, 1, 45, 40], 3));
    let opts = AttentionOptions::causal();
    let via_op = q.apply_op3_no_bwd(&k, &v, &FlashAttentionOp { options: opts.clone() }).unwrap();
    let (direct, _) = flash_attention(&q, &k, &v, &opts).unwrap();
    assert_eq!(max_diff(&via_op, &direct), 0.0);
}

#[test]
fn fully_masked_rows_give_zero_and_minus_infinity() {
    let (q, k, v) = (normal(&[1, 1, 4, 8], 1), normal(&[1, 1, 4, 8], 2), normal(&[1, 1, 4, 8], 3));
    let pad = Tensor::new(&[[1u8, 1, 1, 1]], &Device::Cpu).unwrap();
    let opts = AttentionOptions { key_padding_mask: Some(pad), ..Default::default() };
    let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
    assert!(o.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == 0.0));
    assert!(lse.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == f32::NEG_INFINITY));
    let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &q, &opts).unwrap();
    for g in [dq, dk, dv] {
        assert!(g.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == 0.0));
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let t = |d: &[usize]| normal(d, 0);
    let err = |r: tessera_attention::Result<(Tensor, Tensor)>| r.unwrap_err().to_string();
    let o = AttentionOptions::default();
    assert!(
        err(flash_attention(&t(&[1, 2, 3]), &t(&[1, 2, 3, 4]), &t(&[1, 2, 3, 4]), &o))
            .contains("q: expected (batch, heads, seq, head_dim)")
    );
    assert!(
        err(flash_attention(&t(&[1, 3, 5, 8]), &t(&[1, 2, 5, 8]), &t(&[1, 2, 5, 8]), &o)).contains("heads")
    );
    assert!(
        err(flash_attention(&t(&[1, 2, 5, 8]), &t(&[1, 2, 5, 4]), &t(&[1, 2, 5, 4]), &o))
            .contains("head_dim")
    );
    assert!(
        err(flash_attention(&t(&[1, 1, 5, 300]), &t(&[1, 1, 5, 300]), &t(&[1, 1, 5, 300]), &o))
            .contains("1..=256")
    );
    assert!(
        err(flash_attention(&t(&[1, 2, 5, 8]), &t(&[1, 2, 5, 8]), &t(&[1, 2, 6, 8]), &o))
            .contains("v: expected the shape of k")
    );
    let f64q = t(&[1, 1, 5, 8]).to_dtype(DType::F64).unwrap();
    assert!(err(flash_attention(&f64q, &f64q, &f64q, &o)).contains("F64"));
    let bad_mask = AttentionOptions {
        key_padding_mask: Some(Tensor::zeros((1, 3), DType::U8, &Device::Cpu).unwrap()),
        ..Default::default()
    };
    assert!(
        err(flash_attention(&t(&[1, 1, 5, 8]), &t(&[1, 1, 5, 8]), &t(&[1, 1, 5, 8]), &bad_mask))
            .contains("key_padding_mask")
    );
    let packed = t(&[6, 2, 8]);
    assert!(
        flash_attention_varlen(&packed, &packed, &packed, &[0, 2, 7], &[0, 2, 6], &o)
            .unwrap_err()
            .to_string()
            .contains("cu_seqlens_q")
    );
}

/// Runs with every kernel set: the AVX-512 (or best available) one here, and through child
/// processes of this test binary the AVX2 and portable ones (`TESSERA_ATTENTION_ISA`).
#[test]
fn kernels_of_every_instruction_set() {
    let cases = [
        Case {
            batch: 2,
            heads: 4,
            kv_heads: 2,
            lq: 77,
            lk: 130,
            dim: 40,
            causal: true,
            window: (None, None),
            padded: true,
            scale: None,
            seed: 1,
        },
        Case {
            batch: 1,
            heads: 2,
            kv_heads: 2,
            lq: 5,
            lk: 300,
            dim: 256,
            causal: false,
            window: (Some(50), Some(3)),
            padded: false,
            scale: Some(0.2),
            seed: 2,
        },
        Case {
            batch: 1,
            heads: 3,
            kv_heads: 1,
            lq: 129,
            lk: 64,
            dim: 7,
            causal: false,
            window: (None, None),
            padded: false,
            scale: None,
            seed: 3,
        },
    ];
    for c in &cases {
        let (q, k, v) = c.tensors();
        let opts = c.options();
        let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
        let (o_ref, lse_ref) = naive_attention(&q, &k, &v, &opts).unwrap();
        assert!(max_diff(&o, &o_ref) <= 1e-5 && max_rel_diff(&lse, &lse_ref) <= 1e-5, "{c:?}");
        let d_o = normal(&[c.batch, c.heads, c.lq, c.dim], 7);
        let (dq, _, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &d_o, &opts).unwrap();
        let vars: Vec<Var> =
            [&q, &k, &v].iter().map(|t| Var::parameter(t.to_dtype(DType::F64).unwrap())).collect();
        naive_attention_var(&vars[0], &vars[1], &vars[2], &opts)
            .unwrap()
            .backward_with(&d_o.to_dtype(DType::F64).unwrap())
            .unwrap();
        assert!(
            max_diff(&dq, &vars[0].grad().unwrap()) <= 1e-4
                && max_diff(&dv, &vars[2].grad().unwrap()) <= 1e-4,
            "{c:?}"
        );
        let bf = |t: &Tensor| t.to_dtype(DType::BF16).unwrap();
        let (ob, _) = flash_attention(&bf(&q), &bf(&k), &bf(&v), &opts).unwrap();
        assert!(max_diff(&ob, &o_ref) <= 5e-2, "{c:?}: bf16 differs by {}", max_diff(&ob, &o_ref));
    }
    if std::env::var("TESSERA_ATTENTION_ISA").is_ok() {
        return;
    }
    for isa in ["avx2", "portable"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kernels_of_every_instruction_set", "--test-threads", "1"])
            .env("TESSERA_ATTENTION_ISA", isa)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{isa}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn autograd_gradcheck_through_the_flash_function() {
    // gradcheck works in f64; the kernels compute in f32, so the variables are converted on the way in and
    // out (both conversions are recorded) and the step and tolerances suit f32 arithmetic.
    use tessera_autograd::{GradcheckOptions, gradcheck};
    let c = Case {
        batch: 1,
        heads: 2,
        kv_heads: 1,
        lq: 5,
        lk: 7,
        dim: 4,
        causal: true,
        window: (Some(4), None),
        padded: false,
        scale: None,
        seed: 11,
    };
    let (q, k, v) = c.tensors();
    let opts = c.options();
    let f = |x: &[Var]| -> tessera_autograd::Result<Var> {
        let to32 = |v: &Var| v.to_dtype(DType::F32);
        let (o, _) =
            flash_attention_var(&to32(&x[0])?, &to32(&x[1])?, &to32(&x[2])?, &opts).map_err(|e| {
                tessera_autograd::Error::CustomFunction { name: "flash".into(), reason: e.to_string() }
            })?;
        o.to_dtype(DType::F64)
    };
    let report = gradcheck(f, &[q, k, v], GradcheckOptions { eps: 1e-2, atol: 1e-3, rtol: 1e-2 }).unwrap();
    assert!(report.passed && report.max_abs_error < 5e-4, "{report}");
}

#[test]
fn empty_sequences() {
    let opts = AttentionOptions::default();
    let (q, k) = (normal(&[1, 2, 3, 8], 1), Tensor::zeros((1, 2, 0, 8), DType::F32, &Device::Cpu).unwrap());
    let (o, lse) = flash_attention(&q, &k, &k, &opts).unwrap();
    assert!(o.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == 0.0));
    assert!(lse.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == f32::NEG_INFINITY));
    let (dq, dk, _) = flash_attention_backward(&q, &k, &k, &o, &lse, &q, &opts).unwrap();
    assert_eq!((dq.dims(), dk.dims()), (&[1, 2, 3, 8][..], &[1, 2, 0, 8][..]));
    let empty_q = Tensor::zeros((1, 2, 0, 8), DType::F32, &Device::Cpu).unwrap();
    let (o, lse) = flash_attention(&empty_q, &q, &q, &opts).unwrap();
    assert_eq!((o.dims(), lse.dims()), (&[1, 2, 0, 8][..], &[1, 2, 0][..]));
    let (o, _) = flash_decode(&normal(&[1, 2, 1, 8], 2), &q, &q, &[0], &opts).unwrap();
    assert!(o.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| *x == 0.0));
}
