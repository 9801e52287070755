"""Model.load_state_dict(), state_dict(), load_weights(), random_weights():
names, shapes, dtypes and the errors that name them."""

import numpy as np
import pytest
import torch

import dlm
from conftest import dlmc

SOURCE = """
model small(x: f32[2, 3]) {
    linear(4)
    batchnorm
    relu
    linear(2, bias=false)
}
"""


def weights(rng=np.random.default_rng(0)):
    return {
        "linear1.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "linear1.bias": rng.standard_normal(4).astype(np.float32),
        "batchnorm1.weight": rng.uniform(0.5, 1.5, 4).astype(np.float32),
        "batchnorm1.bias": rng.standard_normal(4).astype(np.float32),
        "batchnorm1.running_mean": rng.standard_normal(4).astype(np.float32),
        "batchnorm1.running_var": rng.uniform(0.5, 1.5, 4).astype(np.float32),
        "linear2.weight": rng.standard_normal((2, 4)).astype(np.float32),
    }


def torch_small(w):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                              torch.nn.ReLU(),
                              torch.nn.Linear(4, 2, bias=False)).eval()
    names = {"linear1": "0", "batchnorm1": "1", "linear2": "3"}
    state = {}
    for key, value in w.items():
        layer, _, suffix = key.partition(".")
        state[f"{names[layer]}.{suffix}"] = torch.from_numpy(value)
    net.load_state_dict(state, strict=False)
    return net


def test_numpy_weights_run_like_torch():
    model = dlm.compile(SOURCE, device="reference")
    w = weights()
    model.load_state_dict(w)
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    with torch.no_grad():
        expected = torch_small(w)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)


def test_torch_and_float64_weights_are_converted():
    model = dlm.compile(SOURCE, device="reference")
    w = weights()
    mixed = {k: torch.from_numpy(v.astype(np.float64)) for k, v in w.items()}
    mixed["linear1.weight"] = w["linear1.weight"].T.copy().T  # not C order
    mixed["batchnorm1.num_batches_tracked"] = torch.tensor(7)
    model.load_state_dict(mixed)
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.params()]
    for key, value in w.items():
        assert state[key].dtype == np.float32
        np.testing.assert_array_equal(state[key], value)


def test_missing_tensor_names_it():
    model = dlm.compile(SOURCE)
    w = weights()
    del w["linear1.bias"]
    with pytest.raises(dlm.WeightError,
                       match=r"missing tensor 'linear1.bias' f32\[4\] that "
                             r"the model expects"):
        model.load_state_dict(w)


def test_wrong_shape_names_both_shapes():
    model = dlm.compile(SOURCE)
    w = weights()
    w["linear2.weight"] = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError,
                       match=r"tensor 'linear2.weight' is f32\[2,5\] but the "
                             r"model expects f32\[2,4\]"):
        model.load_state_dict(w)


def test_unknown_tensor_strict_or_not():
    model = dlm.compile(SOURCE)
    w = weights()
    w["linear2.bias"] = np.zeros(2, np.float32)
    with pytest.raises(dlm.WeightError,
                       match=r"tensor 'linear2.bias' f32\[2\] is not a "
                             r"parameter of the model"):
        model.load_state_dict(w)
    model.load_state_dict(w, strict=False)
    assert "linear2.bias" not in model.state_dict()


def test_every_problem_is_listed():
    model = dlm.compile(SOURCE)
    with pytest.raises(dlm.WeightError) as info:
        model.load_state_dict({})
    assert str(info.value).count("missing tensor") == 7


def test_no_weights():
    model = dlm.compile(SOURCE)
    with pytest.raises(RuntimeError, match="no weights"):
        model(np.zeros((2, 3), np.float32))


def test_random_weights_match_dlmc(tmp_path, examples):
    path = examples / "lenet.dlm"
    x = np.random.default_rng(2).standard_normal((1, 1, 28, 28)).astype(
        np.float32)
    np.save(tmp_path / "x.npy", x)
    dlmc(path, "--random-weights=7", "--input", tmp_path / "x.npy",
         "--output", tmp_path / "y.npy", "--export-weights",
         tmp_path / "w.safetensors")
    expected = np.load(tmp_path / "y.npy")
    model = dlm.compile(path, device="reference").random_weights(7)
    np.testing.assert_array_equal(model(x), expected)
    exported = dlm.compile(path, device="reference").load_weights(
        tmp_path / "w.safetensors")
    np.testing.assert_array_equal(exported(x), expected)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(exported.state_dict()[key], value)


def test_load_weights_errors(tmp_path, examples):
    model = dlm.compile(examples / "lenet.dlm")
    with pytest.raises(dlm.WeightError, match="nothing.safetensors"):
        model.load_weights(tmp_path / "nothing.safetensors")
