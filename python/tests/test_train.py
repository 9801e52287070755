"""Training from Python: Model.trainer()/train_step()/evaluate() checked
against torch.optim.SGD, and dlm.train() against `dlmc --train` (the same
steps, the same log and checkpoint)."""

import csv
import pathlib

import numpy as np
import pytest
import torch
from torch import nn

import dlm
from conftest import ROOT, dlmc

SOURCE = """
model mlp(x: f32[4, 3]) {
    linear(5)
    batchnorm
    relu
    linear(3)
}
"""
NAMES = {"0": "linear1", "1": "batchnorm1", "3": "linear2"}


def torch_mlp():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(),
                        nn.Linear(5, 3))
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 1.5)
    return net


def dlm_state(net):
    state = {}
    for key, value in net.state_dict().items():
        module, _, suffix = key.partition(".")
        state[f"{NAMES[module]}.{suffix}"] = value
    return state


def test_steps_match_torch_sgd():
    net = torch_mlp()
    model = dlm.compile(SOURCE, device="reference")
    model.load_state_dict(dlm_state(net))
    model.trainer(lr=0.1, momentum=0.9, weight_decay=1e-3)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9,
                                weight_decay=1e-3)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        y = rng.integers(0, 3, 4)
        loss, correct = model.train_step(x, torch.from_numpy(y))
        net.train()
        optimizer.zero_grad()
        logits = net(torch.from_numpy(x))
        expected = nn.functional.cross_entropy(logits, torch.from_numpy(y))
        expected.backward()
        optimizer.step()
        assert loss == pytest.approx(expected.item(), rel=1e-5)
        assert correct == int((logits.argmax(1) == torch.from_numpy(y)).sum())
    assert model.train_steps == 3
    state = model.state_dict()
    for key, value in dlm_state(net).items():
        if key.endswith("num_batches_tracked"):
            continue
        np.testing.assert_allclose(state[key], value.detach().numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=key)
    # The trained weights run forward (eval mode) like torch's.
    x = rng.standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-4, atol=1e-5)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(),
            nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.SiLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6, 5))

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("options", [
    dict(momentum=0.9),
    dict(momentum=0.9, nesterov=True, weight_decay=1e-2),
    dict(momentum=0.5, dampening=0.3, label_smoothing=0.1),
], ids=["momentum", "nesterov", "dampening-smoothing"])
def test_from_torch_steps_match_torch(options):
    """A module from from_torch() trained by dlm: the loss, the accuracy and
    every weight after two steps (the second uses the momentum buffers) are
    torch's, under the module's own state_dict keys."""
    torch.manual_seed(1)
    net = SmallCNN()
    x = torch.randn(6, 1, 6, 6)
    model = dlm.from_torch(net, x, device="reference")
    smoothing = options.get("label_smoothing", 0.0)
    sgd = {k: v for k, v in options.items() if k != "label_smoothing"}
    model.trainer(lr=0.05, **options)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, **sgd)
    net.train()
    for step in range(2):
        x = torch.randn(6, 1, 6, 6)
        y = torch.randint(0, 5, (6,))
        result = model.train_step(x, y)
        optimizer.zero_grad()
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, y,
                                           label_smoothing=smoothing)
        loss.backward()
        optimizer.step()
        assert result.loss == pytest.approx(loss.item(), rel=1e-5)
        assert result["correct"] == int((logits.argmax(1) == y).sum())
    trained = model.state_dict()
    for key, name in model.translation.mapping.items():
        np.testing.assert_allclose(trained[name],
                                   net.state_dict()[key].numpy(),
                                   rtol=1e-5, atol=1e-5, err_msg=key)


def test_evaluate_matches_torch_eval_mode():
    net = torch_mlp().eval()
    model = dlm.compile(SOURCE).load_state_dict(dlm_state(net))
    # Six examples on a model of batch 4: one batch and a partial one.
    x = torch.randn(6, 3)
    y = torch.tensor([0, 1, 2, 0, 0, 1])
    with torch.no_grad():
        logits = net(x)
    result = model.evaluate(x, y)
    assert result["count"] == 6
    assert result["loss"] == pytest.approx(
        nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert result["correct"] == int((logits.argmax(1) == y).sum())
    assert result["accuracy"] == result["correct"] / 6


def test_train_step_errors():
    model = dlm.compile(SOURCE).random_weights(1)
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"needs a learning rate"):
        model.train_step(x, [0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"expected one per example, \[4\]"):
        model.train_step(x, np.zeros(3, np.int64), 0.1)
    with pytest.raises(TypeError, match="integer class indices"):
        model.train_step(x, np.zeros(4), 0.1)
    with pytest.raises(ValueError, match=r"labels: label 3 of example 3 is "
                                         r"outside \[0, 3\) \(3 classes\)"):
        model.train_step(x, np.array([0, 1, 2, 3]), 0.1)
    with pytest.raises(ValueError, match=r"label -1 of example 0"):
        model.evaluate(x, np.array([-1, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"expects f32\[4,3\]"):
        model.train_step(np.zeros((2, 3), np.float32), [0, 1], 0.1)
    with pytest.raises(TypeError, match=r"expects float32"):
        model.train_step(np.zeros((4, 3)), [0, 1, 2, 0], 0.1)
    with pytest.raises(ValueError, match=r"takes f32\[M,3\]"):
        model.evaluate(np.zeros((4, 2), np.float32), [0, 1, 2, 0])
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        model.trainer(lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum=-0.5"):
        model.trainer(momentum=-0.5)
    with pytest.raises(TypeError, match="unknown options betas"):
        model.train_step(x, [0, 1, 2, 0], 0.1, betas=(0.9, 0.99))
    # Options are chosen once: the first step's, then the same or none.
    model.train_step(x, [0, 1, 2, 0], 0.1, momentum=0.9)
    model.train_step(x, [0, 1, 2, 0], 0.1, momentum=0.9)
    model.train_step(x, [0, 1, 2, 0], 0.1)
    assert model.train_steps == 3
    with pytest.raises(ValueError, match=r"momentum=0.5 \(was 0.9\).*"
                                         r"model.trainer"):
        model.train_step(x, [0, 1, 2, 0], 0.1, momentum=0.5)
    # trainer() starts a new optimizer on the trained weights.
    weights = model.state_dict()
    model.trainer(lr=0.1, momentum=0.5)
    assert model.train_steps == 0
    assert model.train_options["momentum"] == 0.5
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights[key])


def test_trainer_restarts_momentum():
    """Two steps after trainer() are the same as on a fresh model: the
    momentum buffers start at zero again."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    a = dlm.compile(SOURCE).random_weights(2).trainer(lr=0.1, momentum=0.9)
    a.train_step(x, y)
    b = dlm.compile(SOURCE).load_state_dict(a.state_dict())
    b.trainer(lr=0.1, momentum=0.9)
    a.trainer(lr=0.1, momentum=0.9)
    first = [a.train_step(x, y), a.train_step(x, y)]
    second = [b.train_step(x, y), b.train_step(x, y)]
    assert first == second


# ---------------------------------------------------------------------------
# dlm.train against dlmc --train
# ---------------------------------------------------------------------------

CNN = """
model cnn(x: f32[1, 1, 6, 6]) {
    conv(4, kernel=3, padding=1)
    batchnorm
    relu
    maxpool(2)
    flatten
    dropout(0.2)
    linear(3)
}
"""


def read_log(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("seconds")
    return rows


def checkpoint_tensors(source, path):
    return dlm.compile(source).load_weights(path).state_dict()


@pytest.mark.parametrize("case", ["features", "images"])
def test_train_matches_dlmc(tmp_path, case):
    rng = np.random.default_rng(5)
    if case == "features":
        source = SOURCE
        images = rng.standard_normal((43, 3)).astype(np.float32)
        options = dict(epochs=2, batch_size=8, lr=0.2, momentum=0.9,
                       weight_decay=1e-3, seed=3, lr_schedule="step",
                       lr_step=1, lr_gamma=0.5)
        flags = ["--epochs=2", "--batch-size=8", "--lr=0.2",
                 "--momentum=0.9", "--weight-decay=1e-3", "--seed=3",
                 "--lr-schedule=step", "--lr-step=1", "--lr-gamma=0.5"]
    else:
        # 4x4 images resized to the model's 6x6, dropout, a cosine schedule,
        # PyTorch's initialization.
        source = CNN
        images = rng.random((30, 1, 4, 4)).astype(np.float32)
        options = dict(epochs=3, batch_size=5, lr=0.1, nesterov=True,
                       momentum=0.8, label_smoothing=0.1, seed=7,
                       lr_schedule="cosine", resize=6, init="torch")
        flags = ["--epochs=3", "--batch-size=5", "--lr=0.1", "--nesterov",
                 "--momentum=0.8", "--label-smoothing=0.1", "--seed=7",
                 "--lr-schedule=cosine", "--resize=6", "--init=torch"]
    labels = rng.integers(0, 3, len(images))
    test_images, test_labels = images[:11] + 0.1, labels[:11]
    path = tmp_path / "model.dlm"
    path.write_text(source)
    for name, value in (("x", images), ("y", labels), ("tx", test_images),
                        ("ty", test_labels)):
        np.save(tmp_path / f"{name}.npy", value)
    dlmc(path, "--train", "--device=reference", f"--images={tmp_path}/x.npy",
         f"--labels={tmp_path}/y.npy", f"--test-images={tmp_path}/tx.npy",
         f"--test-labels={tmp_path}/ty.npy", f"--log={tmp_path}/dlmc.csv",
         f"--checkpoint={tmp_path}/dlmc.safetensors", *flags)

    history = dlm.train(path, (images, labels),
                        test_data=(test_images, test_labels),
                        log=tmp_path / "py.csv",
                        checkpoint=tmp_path / "py.safetensors",
                        verbose=False, **options)
    assert read_log(tmp_path / "py.csv") == read_log(tmp_path / "dlmc.csv")
    expected = checkpoint_tensors(source, tmp_path / "dlmc.safetensors")
    got = checkpoint_tensors(source, tmp_path / "py.safetensors")
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    # The same file, num_batches_tracked included.
    assert (tmp_path / "py.safetensors").read_bytes() == \
        (tmp_path / "dlmc.safetensors").read_bytes()
    # The history is the log, and its model has the trained weights.
    assert [row["epoch"] for row in history] == list(
        range(1, options["epochs"] + 1))
    rows = read_log(tmp_path / "dlmc.csv")
    for row, logged in zip(history, rows):
        assert row["loss"] == pytest.approx(float(logged["loss"]), rel=1e-5)
        assert row["test_acc"] == pytest.approx(float(logged["test_acc"]))
        assert row["lr"] == pytest.approx(float(logged["lr"]))
    for key, value in history.model.state_dict().items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
    if case == "features":
        # Resumed from the checkpoint for one more epoch: the BatchNorm's
        # num_batches_tracked goes on counting, as with dlmc --weights.
        dlmc(path, "--train", "--device=reference",
             f"--images={tmp_path}/x.npy", f"--labels={tmp_path}/y.npy",
             f"--weights={tmp_path}/dlmc.safetensors", "--epochs=1",
             "--batch-size=8", "--lr=0.2", "--seed=3",
             f"--checkpoint={tmp_path}/dlmc2.safetensors")
        dlm.train(path, (images, labels), epochs=1, batch_size=8, lr=0.2,
                  seed=3, weights=tmp_path / "py.safetensors",
                  checkpoint=tmp_path / "py2.safetensors", verbose=False)
        assert (tmp_path / "py2.safetensors").read_bytes() == \
            (tmp_path / "dlmc2.safetensors").read_bytes()


def test_train_a_model_in_place(tmp_path):
    """dlm.train() on a Model of another batch size trains a copy at
    batch_size and leaves the trained weights in the model."""
    rng = np.random.default_rng(9)
    images = rng.standard_normal((24, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 24)
    model = dlm.compile(SOURCE).random_weights(4)   # batch 4
    start = model.state_dict()
    reference = dlm.compile(SOURCE, batch=6).load_state_dict(start)
    history = dlm.train(model, (torch.from_numpy(images),
                                torch.from_numpy(labels)),
                        epochs=1, batch_size=6, lr=0.1, shuffle=False,
                        verbose=False)
    assert history.model is model
    assert len(history) == 1 and history[0]["test_acc"] is None
    losses = [reference.train_step(images[i:i + 6], labels[i:i + 6], 0.1)
              .loss for i in range(0, 24, 6)]
    assert history[0]["loss"] == pytest.approx(np.mean(losses), rel=1e-6)
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


def test_train_errors(tmp_path):
    images = np.zeros((8, 3), np.float32)
    labels = np.zeros(8, np.int64)
    with pytest.raises(ValueError, match=r"the training examples are "
                                         r"f32\[3\] each but model 'cnn' "
                                         r"takes f32\[1,6,6\]"):
        dlm.train(CNN, (images, labels), batch_size=4, verbose=False)
    with pytest.raises(ValueError, match=r"data: label 7 of example 2 is "
                                         r"outside \[0, 3\)"):
        dlm.train(SOURCE, (images, np.array([0, 1, 7, 0, 0, 0, 0, 0])),
                  batch_size=4, verbose=False)
    with pytest.raises(TypeError, match=r"labels have dtype float64"):
        dlm.train(SOURCE, (images, np.zeros(8)), batch_size=4,
                  verbose=False)
    with pytest.raises(ValueError, match=r"8 training examples are fewer "
                                         r"than one batch of 16"):
        dlm.train(SOURCE, (images, labels), batch_size=16, verbose=False)
    with pytest.raises(ValueError, match=r"data='mnist': expected "
                                         r"'fashion-mnist'"):
        dlm.train(SOURCE, "mnist")
    with pytest.raises(ValueError, match=r"lr_schedule='linear'"):
        dlm.train(SOURCE, (images, labels), lr_schedule="linear")


FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="no dataset-fashion-mnist")
def test_train_lenet_on_fashion_mnist(tmp_path, capsys):
    history = dlm.train(ROOT / "examples" / "lenet.dlm", "fashion-mnist",
                        epochs=1, batch_size=32, lr=0.9, limit=96,
                        test_limit=40, log=tmp_path / "log.csv")
    out = capsys.readouterr().out
    assert out.startswith("epoch 1: loss ")
    assert "test acc" in out and "examples/sec" in out
    log = read_log(tmp_path / "log.csv")
    assert len(history) == 1 and len(log) == 1
    assert history[0]["test_acc"] == pytest.approx(float(log[0]["test_acc"]))
    assert history[0]["test_acc"] * 40 == pytest.approx(
        round(history[0]["test_acc"] * 40))
    dlmc(ROOT / "examples" / "lenet.dlm", "--train", "--device=reference",
         "--data=fashion-mnist", "--epochs=1", "--batch-size=32", "--lr=0.9",
         "--limit=96", "--test-limit=40", f"--log={tmp_path}/dlmc.csv")
    assert read_log(tmp_path / "dlmc.csv") == log


@pytest.mark.skipif(not FASHION.is_dir(), reason="no dataset-fashion-mnist")
def test_train_lenet_example():
    # examples/python/train_lenet.py: the training example of docs/python.md.
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "train_lenet.py"),
         "--limit=64", "--epochs=1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "epoch 1: loss" in result.stdout
    assert "PyTorch with the trained weights: max |y - dlm|" in result.stdout
