"""Model.train_step() and Model.evaluate(): SGD steps on the reference
executor (dlm::Trainer, docs/training.md), checked against torch.optim.SGD."""

import numpy as np
import pytest
import torch
from torch import nn

import dlm

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
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9,
                                weight_decay=1e-3)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        y = rng.integers(0, 3, 4)
        result = model.train_step(x, y, 0.1, momentum=0.9,
                                  weight_decay=1e-3)
        net.train()
        optimizer.zero_grad()
        logits = net(torch.from_numpy(x))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        assert result["loss"] == pytest.approx(loss.item(), rel=1e-5)
        assert result["correct"] == int(
            (logits.argmax(1) == torch.from_numpy(y)).sum())
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
    evaluation = model.evaluate(np.concatenate([x, x[:2]]),
                                np.array([0, 1, 2, 0, 0, 1]))
    assert evaluation["count"] == 6
    assert 0 <= evaluation["accuracy"] <= 1


def test_train_step_errors():
    model = dlm.compile(SOURCE).random_weights(1)
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"expected one per example, \[4\]"):
        model.train_step(x, np.zeros(3, np.int64), 0.1)
    with pytest.raises(TypeError, match="integer class indices"):
        model.train_step(x, np.zeros(4), 0.1)
    with pytest.raises(RuntimeError, match="label"):
        model.train_step(x, np.array([0, 1, 2, 3]), 0.1)
    with pytest.raises(ValueError, match=r"expects f32\[4,3\]"):
        model.train_step(np.zeros((2, 3), np.float32), [0, 1], 0.1)
