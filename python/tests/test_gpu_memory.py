"""The cuda executor and dlm's GPU-memory path (docs/python.md, "GPU memory")
without a GPU: the fake CUDA driver of the unit tests
(unittests/Runtime/FakeCuda) stands in for libcuda, with host memory for
device memory, and runs each launch's kernel in the CPU emulator (the
emulator's library of the same kernels.cu). What is checked is the cuda
executor's host side and the Python path on real numbers: the layout, the
uploads, the arguments, the captured graph, the zero-copy run on caller
memory (given through `__cuda_array_interface__`) and its checks. What a
real GPU adds (torch's CUDA tensors and streams) is test_run.py's
test_torch_cuda_tensors."""

import ctypes
import os

import numpy as np
import pytest

import dlm
from conftest import BUILD
from test_run import input_for

FAKE_CUDA = BUILD / "unittests" / "Runtime" / "libdlm_fake_cuda.so"


class FakeDriver:
    """The fake driver's record (FakeCuda.cpp's fakecu_* functions): the
    executor dlopens the same file, so this handle sees its calls."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.fakecu_call_kind.restype = ctypes.c_char_p
        self.lib.fakecu_call_value.restype = ctypes.c_uint64
        self.lib.fakecu_last_error.restype = ctypes.c_char_p

    def clear(self):
        self.lib.fakecu_clear()

    def calls(self):
        """[(kind, [values])] in order."""
        result = []
        for i in range(self.lib.fakecu_num_calls()):
            values = [self.lib.fakecu_call_value(i, j)
                      for j in range(self.lib.fakecu_call_num_values(i))]
            result.append((self.lib.fakecu_call_kind(i).decode(), values))
        return result

    def stop_emulating(self):
        assert self.lib.fakecu_emulate(b"") == 0


class FakeCudaArray:
    """A float32 array in "device" memory (host memory to the fake driver),
    shown as CuPy or Numba show theirs: `__cuda_array_interface__` v3."""

    def __init__(self, shape, *, offset=0, stream=None, typestr="<f4",
                 strides=None, readonly=False):
        count = int(np.prod(shape))
        self._storage = np.zeros(count + 128, dtype=np.float32)
        start = (-self._storage.ctypes.data % 256) // 4 + offset
        self.host = self._storage[start:start + count].reshape(shape)
        self.interface = {
            "version": 3, "shape": tuple(shape), "typestr": typestr,
            "data": (self.host.ctypes.data, readonly), "strides": strides,
            "stream": stream,
        }

    @property
    def __cuda_array_interface__(self):
        return self.interface

    @property
    def address(self):
        return self.host.ctypes.data


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """The fake driver as the cuda executor's ($DLM_CUDA_DRIVER), and a
    function that makes it run a model's kernels: `emulate(model)` writes
    the model's bundle and names it in $DLM_FAKE_CUDA_EMULATE, which the
    fake reads when the cuda executor loads its module (it compiles the
    bundle's kernels for the emulator), and loads the model's cuda
    executor."""
    if not FAKE_CUDA.exists():
        pytest.fail(f"{FAKE_CUDA} is not built (ninja -C build "
                    "dlm_fake_cuda)")
    saved = {key: os.environ.get(key) for key in
             ("DLM_CUDA_DRIVER", "DLM_FAKE_CUDA_EMULATE")}
    driver = FakeDriver(FAKE_CUDA)

    def emulate(model):
        bundle = tmp_path_factory.mktemp("bundle") / model.name
        model.save_bundle(bundle)
        os.environ["DLM_FAKE_CUDA_EMULATE"] = str(bundle)
        os.environ["DLM_CUDA_DRIVER"] = str(FAKE_CUDA)
        # Loads the cuda executor now, while the fake emulates this model's
        # kernels (it keeps the kernels it found at load).
        model.run(input_for(model), device="cuda")
        return model

    driver.emulate = emulate
    try:
        yield driver
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        driver.stop_emulating()


@pytest.fixture(scope="module")
def emulated(examples, fake):
    """LeNet (tf32, the default) with random weights on the fake driver."""
    model = dlm.compile(examples / "lenet.dlm", device="emu").random_weights(5)
    return fake.emulate(model), fake


@pytest.mark.parametrize("name", ["bn_lenet", "resnet18", "densenet"])
def test_book_networks_on_the_cuda_executor(examples, fake, name):
    # Folded BatchNorm, residual epilogues, DenseNet's prologues,
    # transitions and concatenation slices: the cuda executor runs the
    # bundle's launches as the emulator does, to the bit.
    model = fake.emulate(dlm.compile(examples / f"{name}.dlm",
                                     device="emu").random_weights(2))
    x = input_for(model, 7)
    y = model.run(x, device="cuda")
    assert model.last_device == "cuda"
    np.testing.assert_array_equal(y, model.run(x, device="emu"))
    assert np.abs(y).max() > 0


def test_cuda_executor_matches_the_emulator(emulated):
    # Host arrays on the cuda executor: upload into the slab, the forward
    # phase's graph, the output down from the arena; the same kernels as
    # the emulator's, so the same numbers, bit for bit.
    model, fake = emulated
    for seed in (1, 2):  # the first run loads the executor
        x = input_for(model, seed)
        fake.clear()
        y = model.run(x, device="cuda")
        assert model.last_device == "cuda"
        np.testing.assert_array_equal(y, model.run(x, device="emu"))
    kinds = [kind for kind, _ in fake.calls()]
    assert kinds[0] == "htod" and kinds[-1] == "dtoh"
    assert kinds.count("launch") == len(kinds) - 2 > 1


def test_cuda_array_interface_in_place(emulated):
    # Zero-copy: the kernels read x where it is and the output is copied on
    # the device into out; nothing crosses to the host.
    model, fake = emulated
    x = FakeCudaArray(model.input_shape)
    x.host[...] = input_for(model, 3)
    before = x.host.copy()
    out = FakeCudaArray(model.output_shape)
    fake.clear()
    assert model(x, out=out, device="cuda") is out
    np.testing.assert_array_equal(out.host,
                                  model.run(before, device="emu"))
    np.testing.assert_array_equal(x.host, before)
    calls = fake.calls()
    kinds = [kind for kind, _ in calls]
    assert "htod" not in kinds and "dtoh" not in kinds
    assert x.address in calls[0][1], "the first kernel reads x in place"
    assert calls[-1] == ("dtod", [out.address, calls[-1][1][1],
                                  4 * out.host.size])


def test_cuda_array_interface_stream(emulated):
    # A v3 producer's stream (1: the legacy default stream) is the one the
    # run is enqueued on; an event marks its end there.
    model, fake = emulated
    x = FakeCudaArray(model.input_shape, stream=1)
    x.host[...] = input_for(model, 4)
    out = FakeCudaArray(model.output_shape)
    fake.clear()
    model(x, out=out, device="cuda")
    assert fake.calls()[-1] == ("eventrecord", [1])
    np.testing.assert_array_equal(out.host,
                                  model.run(x.host.copy(), device="emu"))


def test_cuda_array_interface_errors(emulated):
    model, _ = emulated
    shape, out_shape = model.input_shape, model.output_shape
    out = FakeCudaArray(out_shape)

    def run(x, out=out):
        return model(x, out=out, device="cuda")

    with pytest.raises(TypeError, match=r"typestr '<f8'.*float32"):
        run(FakeCudaArray(shape, typestr="<f8"))
    with pytest.raises(ValueError, match=r"input is f32\[2,1,28,28\] but "
                                         r"model 'lenet' takes"):
        run(FakeCudaArray((2,) + shape[1:]))
    with pytest.raises(ValueError, match=r"out is f32\[1,9\]"):
        run(FakeCudaArray(shape), out=FakeCudaArray((1, 9)))
    with pytest.raises(ValueError, match="not C-contiguous"):
        run(FakeCudaArray(shape, strides=(3136, 3136, 4, 4 * 28)))
    with pytest.raises(ValueError, match="not 256-byte aligned"):
        run(FakeCudaArray(shape, offset=1))
    with pytest.raises(ValueError, match="stream 0"):
        run(FakeCudaArray(shape, stream=0))
    with pytest.raises(ValueError, match="out is read-only"):
        run(FakeCudaArray(shape), out=FakeCudaArray(out_shape, readonly=True))
    with pytest.raises(ValueError, match="different streams"):
        run(FakeCudaArray(shape, stream=1), out=FakeCudaArray(out_shape, stream=2))
    with pytest.raises(TypeError, match="out is in host memory"):
        run(FakeCudaArray(shape), out=np.zeros(out_shape, np.float32))
    with pytest.raises(TypeError, match="out is in CUDA memory"):
        model(input_for(model), out=out, device="cuda")
    # C-contiguous strides given explicitly are fine (and size-1 dims may
    # have any stride).
    run(FakeCudaArray(shape, strides=(999, 4 * 28 * 28, 4 * 28, 4)))


def test_output_dlm_allocates(emulated):
    # Without out=, the output is device memory dlm allocates: a
    # dlm.CudaArray, itself an array with __cuda_array_interface__, which
    # can be the next run's out.
    model, fake = emulated
    x = FakeCudaArray(model.input_shape, stream=2)
    x.host[...] = input_for(model, 8)
    y = model(x, device="cuda")
    assert isinstance(y, dlm.CudaArray)
    assert (y.shape, y.dtype, y.nbytes) == ((1, 10), np.float32, 40)
    interface = y.__cuda_array_interface__
    assert interface["data"][0] % 256 == 0 and interface["stream"] == 2
    assert repr(y).startswith("<dlm.CudaArray f32[1,10] at 0x")
    fake.clear()
    np.testing.assert_array_equal(y.numpy(),
                                  model.run(x.host.copy(), device="emu"))
    assert [kind for kind, _ in fake.calls()] == ["dtoh"]
    x.host[...] = input_for(model, 9)
    assert model(x, out=y, device="cuda") is y
    np.testing.assert_array_equal(y.numpy(),
                                  model.run(x.host.copy(), device="emu"))


def test_host_out(emulated):
    # out= on the host: filled and returned, for numpy and torch alike.
    model, _ = emulated
    x = input_for(model, 6)
    expected = model.run(x, device="emu")
    out = np.zeros(model.output_shape, np.float32)
    assert model(x, out=out, device="emu") is out
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match=r"out is f32\[10\]"):
        model(x, out=np.zeros(10, np.float32), device="emu")
    with pytest.raises(TypeError, match="out has dtype float64"):
        model(x, out=np.zeros(model.output_shape), device="emu")
    torch = pytest.importorskip("torch")
    out = torch.zeros(model.output_shape)
    assert model(torch.from_numpy(x), out=out, device="emu") is out
    np.testing.assert_array_equal(out.numpy(), expected)
