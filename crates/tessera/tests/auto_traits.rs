//! Every public model, data and error type is `Send + Sync`, so rayon, threads and `tessera-dist` can
//! share them. A type losing either trait fails to compile here.

fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    use tessera::datasets::*;
    use tessera::tensor::*;

    send_sync::<tessera::tensor::Error>();
    send_sync::<SafetensorsFile>();
    send_sync::<TensorInfo>();
    send_sync::<SeededRng>();
    send_sync::<DeviceSpec>();
    send_sync::<Tensor>();

    send_sync::<tessera::datasets::Error>();
    send_sync::<Dataset>();
    send_sync::<Task>();
    send_sync::<Summary>();
    send_sync::<CsvOptions>();
    send_sync::<LibSvmOptions>();
    send_sync::<ClassificationParams>();
    send_sync::<RegressionParams>();
    send_sync::<Friedman1Params>();
    send_sync::<KFold>();
    send_sync::<StratifiedKFold>();
    send_sync::<SplitIndices>();
}
