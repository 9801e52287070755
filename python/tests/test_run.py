"""Model(x): numpy and torch inputs, the checks on them, and the devices."""

import numpy as np
import pytest
import torch

import dlm
from conftest import assert_close


@pytest.fixture(scope="module")
def lenet(examples):
    return dlm.compile(examples / "lenet.dlm",
                       device="reference").random_weights(3)


def input_for(model, seed=0):
    return np.random.default_rng(seed).standard_normal(
        model.input_shape).astype(np.float32)


def test_numpy_in_numpy_out(lenet):
    y = lenet(input_for(lenet))
    assert isinstance(y, np.ndarray)
    assert y.dtype == np.float32 and y.shape == (1, 10)
    assert lenet.last_device == "reference"


def test_torch_in_torch_out(lenet):
    x = input_for(lenet)
    y = lenet(torch.from_numpy(x).requires_grad_())
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), lenet(x))


def test_non_contiguous_input(lenet):
    x = input_for(lenet)
    strided = np.asfortranarray(x)
    np.testing.assert_array_equal(lenet(strided), lenet(x))


def test_wrong_shape(lenet):
    with pytest.raises(ValueError,
                       match=r"input is f32\[2,1,28,28\] but model 'lenet' "
                             r"expects f32\[1,1,28,28\]"):
        lenet(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expects f32\[1,1,28,28\]"):
        lenet(torch.zeros(1, 28, 28))


def test_wrong_dtype(lenet):
    with pytest.raises(TypeError, match="float64 but model 'lenet' expects "
                                        "float32"):
        lenet(np.zeros((1, 1, 28, 28)))
    with pytest.raises(TypeError, match="torch.float16 but model 'lenet' "
                                        "expects torch.float32"):
        lenet(torch.zeros(1, 1, 28, 28, dtype=torch.float16))
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        lenet([[0.0]])


class CudaArray:
    """Stands for an array in GPU memory (CuPy, Numba): only its
    `__cuda_array_interface__` is looked at."""

    __cuda_array_interface__ = {"shape": (1, 1, 28, 28), "typestr": "<f4",
                                "data": (0, False), "version": 3}


class DLPackCuda:
    """An array exported through DLPack from CUDA device 1."""

    def __dlpack_device__(self):
        return (2, 1)  # kDLCUDA

    def __dlpack__(self, stream=None):
        raise AssertionError("dlm must not import it")


def test_cuda_input_on_a_host_model(lenet):
    with pytest.raises(ValueError,
                       match=r"input is a CUDA tensor \(cuda\) but model "
                             r"'lenet' runs on 'reference'; pass x.cpu\(\)"):
        lenet(CudaArray())
    with pytest.raises(ValueError, match=r"CUDA tensor \(cuda:1\).*'emu'"):
        lenet.run(DLPackCuda(), device="emu")
    # Host DLPack devices (kDLCPU) are not CUDA.
    assert dlm._model._cuda_device(torch.zeros(1)) is None
    with pytest.raises(ValueError, match=r"input is on meta"):
        lenet(torch.zeros(1, 1, 28, 28, device="meta"))


def test_cuda_memory_on_another_gpu(examples):
    # DLPack from CUDA device 1 is refused before it is imported
    # (test_gpu_memory.py runs __cuda_array_interface__ arrays).
    model = dlm.compile(examples / "lenet.dlm", device="cuda")
    model.random_weights(1)
    with pytest.raises(ValueError, match=r"input is on cuda:1; dlm runs on "
                                         r"cuda:0"):
        model(DLPackCuda())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_torch_cuda_tensors(examples):
    # Zero-copy (docs/python.md, "GPU memory"): the kernels read x where
    # it is and write a tensor torch allocated, on torch's current stream.
    model = dlm.compile(examples / "lenet.dlm", device="cuda",
                        precision="fp32").random_weights(5)
    x = torch.from_numpy(input_for(model)).cuda()
    ref = model.run(x.cpu(), device="reference")
    y = model(x)
    assert y.is_cuda and y.device == x.device and y.dtype == torch.float32
    assert model.last_device == "cuda"
    assert_close(y.cpu().numpy(), ref)
    # Another stream, and a new input at another address.
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        x2 = torch.from_numpy(input_for(model, 2)).cuda()
        y2 = model(x2)
    stream.synchronize()
    assert_close(y2.cpu().numpy(),
                 model.run(input_for(model, 2), device="reference"))
    # A view that starts inside its storage is copied first, and still
    # right.
    both = torch.cat([x2, x], 0)
    assert_close(model(both[1:]).cpu().numpy(), ref)
    with pytest.raises(ValueError, match="runs on 'reference'"):
        model.run(x, device="reference")
    with pytest.raises(TypeError, match="torch.float32"):
        model(x.double())


def test_device_memory_needs_the_cuda_executor(examples):
    # Model(x) with a torch CUDA tensor runs Program.run_on_device; the
    # emulator has no device memory and says so, naming itself.
    model = dlm.compile(examples / "lenet.dlm", device="emu").random_weights(5)
    assert tuple(model._program.output_shape()) == (1, 10)
    with pytest.raises(RuntimeError, match="the emu executor has no device "
                                           "memory"):
        model._program.run_on_device("emu", 0x100000, 0x200000, 0)


def test_unknown_device(lenet):
    with pytest.raises(ValueError, match="device='gpu'"):
        lenet.run(input_for(lenet), device="gpu")


def test_emu_matches_reference(examples):
    model = dlm.compile(examples / "lenet.dlm", device="emu").random_weights(5)
    x = input_for(model, 1)
    y = model(x)
    assert model.last_device == "emu"
    assert_close(y, model.run(x, device="reference"))
    # The loaded executor is reused, and reloaded with new weights.
    assert_close(model(input_for(model, 2)),
                 model.run(input_for(model, 2), device="reference"))
    model.random_weights(6)
    assert_close(model(x), model.run(x, device="reference"))


def test_tf32_on_emu_within_tolerance(examples):
    # docs/cuda.md, "Tolerances": 8u of max |y| with u = 2^-11 for TF32;
    # the emulator rounds the mma's operands, so the error is not FP32's.
    model = dlm.compile(examples / "resnet18.dlm", device="emu",
                        precision="tf32").random_weights(5)
    x = input_for(model, 1)
    y = np.asarray(model(x))
    ref = np.asarray(model.run(x, device="reference"))
    error = float(np.abs(y - ref).max()) / float(np.abs(ref).max())
    assert 1e-5 < error <= 8 * 2.0**-11, error


def test_auto_runs_somewhere(examples):
    model = dlm.compile(examples / "lenet.dlm").random_weights(5)
    model(input_for(model))
    assert model.last_device in ("emu", "cuda")


def test_cuda_runs_or_says_why(examples):
    model = dlm.compile(examples / "lenet.dlm",
                        device="cuda").random_weights(5)
    x = input_for(model)
    try:
        y = model(x)
    except RuntimeError as error:  # no GPU here: the executor's message
        assert "cuda" in str(error).lower() or "gpu" in str(error).lower()
        return
    assert model.last_device == "cuda"
    assert_close(y, model.run(x, device="reference"))


def test_run_releases_the_gil(examples):
    import threading
    import time

    model = dlm.compile(examples / "resnet18.dlm",
                        device="reference").random_weights(1)
    x = input_for(model)
    model(x)  # compiles; the timed run only runs
    done = threading.Event()
    thread = threading.Thread(target=lambda: (model(x), done.set()))
    start = last = time.perf_counter()
    thread.start()
    gap = 0.0
    while not done.is_set():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    thread.join()
    elapsed = time.perf_counter() - start
    # Holding the GIL would stop this loop for the whole run; released, it
    # waits a few switch intervals (5 ms) at most.
    assert elapsed > 0.1, "the run is too short to tell"
    assert gap < elapsed / 2, f"stopped {gap:.3f} s of a {elapsed:.3f} s run"
