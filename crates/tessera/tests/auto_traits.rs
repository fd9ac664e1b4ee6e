//! Every public model, data and error type is `Send + Sync`, so rayon, threads and `tessera-dist` can
//! share them. A type losing either trait fails to compile here.

fn send_sync<T: Send + Sync>() {}

#[test]
fn tensor_types_are_send_and_sync() {
    use tessera::tensor::*;
    send_sync::<Error>();
    send_sync::<SafetensorsFile>();
    send_sync::<TensorInfo>();
    send_sync::<SeededRng>();
    send_sync::<DeviceSpec>();
    send_sync::<Tensor>();
}

#[test]
fn dataset_types_are_send_and_sync() {
    use tessera::datasets::*;
    send_sync::<Error>();
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

#[test]
fn tree_models_are_send_and_sync() {
    use tessera::trees::*;
    send_sync::<Error>();
    send_sync::<DecisionTreeClassifier>();
    send_sync::<FittedTree>();
    send_sync::<RandomForestClassifier>();
    send_sync::<FittedForest>();
    send_sync::<AdaBoostClassifier>();
    send_sync::<FittedAdaBoostClassifier<FittedTree>>();
    send_sync::<FittedAdaBoostRegressor<FittedTree>>();
    send_sync::<BaggingClassifier>();
    send_sync::<FittedBagging<FittedTree>>();
    send_sync::<StackingClassifier>();
    send_sync::<FittedStacking>();
    send_sync::<VotingEnsemble>();
    send_sync::<FittedVoting>();
    send_sync::<AnyEstimator>();
    send_sync::<AnyModel>();
    send_sync::<FittedLogistic>();
    send_sync::<FittedRidge>();
}

#[test]
fn autograd_and_nn_types_are_send_and_sync() {
    send_sync::<tessera::autograd::Var>();
    send_sync::<tessera::autograd::Error>();
    send_sync::<tessera::autograd::GradFn>();
    send_sync::<tessera::nn::Error>();
    send_sync::<tessera::nn::Linear>();
    send_sync::<tessera::nn::Sequential>();
    send_sync::<tessera::nn::Dropout>();
    send_sync::<tessera::nn::MultiheadAttention>();
    send_sync::<tessera::nn::Adam>();
    send_sync::<tessera::nn::Sgd>();
}

#[test]
fn attention_types_are_send_and_sync() {
    send_sync::<tessera::attention::Error>();
    send_sync::<tessera::attention::AttentionOptions>();
    send_sync::<tessera::attention::FlashAttentionOp>();
}
