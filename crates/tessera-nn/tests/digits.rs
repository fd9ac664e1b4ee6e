//! The digits MLP example reaches at least 97% test accuracy from several seeds.

#[allow(dead_code)]
#[path = "../examples/digits_mlp.rs"]
mod digits_mlp;

#[test]
fn digits_mlp_reaches_97_percent() {
    for seed in [0, 1, 2] {
        let report = digits_mlp::train(seed, 40).expect("training runs");
        assert!(report.test_accuracy >= 0.97, "seed {seed}: test accuracy {:.4}", report.test_accuracy);
        assert!(report.final_loss < 0.1, "seed {seed}: final loss {}", report.final_loss);
    }
}
