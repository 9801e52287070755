"""dlm.compile(): paths and source text, options, errors, emit, stats and
bundles, checked against dlmc."""

import json

import pytest

import dlm
from conftest import dlmc

LENET_SOURCE = """
model tiny(x: f32[1, 1, 8, 8]) {
    conv(4, kernel=3, padding=1)
    relu
    maxpool(2)
    flatten
    linear(3)
}
"""


def test_import():
    assert dlm.__version__
    assert set(dlm.DEVICES) == {"auto", "cuda", "emu", "reference"}


def test_compile_path(examples):
    model = dlm.compile(str(examples / "lenet.dlm"))
    assert model.name == "lenet"
    assert model.input_shape == (1, 1, 28, 28)
    model = dlm.compile(examples / "lenet.dlm")  # a path-like object
    assert model.name == "lenet"


def test_compile_source():
    model = dlm.compile(LENET_SOURCE)
    assert model.name == "tiny"
    assert model.params() == [("conv1.weight", (4, 1, 3, 3)),
                              ("conv1.bias", (4,)),
                              ("linear1.weight", (3, 64)),
                              ("linear1.bias", (3,))]


def test_params_match_list_params(examples):
    for name in ("lenet", "resnet18", "densenet", "googlenet"):
        path = examples / f"{name}.dlm"
        expected = dlmc(path, "--list-params").splitlines()
        got = [f"{n} {dlm._model.format_type(s)}"
               for n, s in dlm.compile(path).params()]
        assert got == expected


def test_compile_error_has_location_and_caret():
    source = "model m(x: f32[1, 1, 8, 8]) {\n    conv(4, kernel=3)\n" \
             "    relux\n}\n"
    with pytest.raises(dlm.CompileError) as info:
        dlm.compile(source, name="bad.dlm")
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0].startswith("bad.dlm:3:5: error: unknown layer or block 'relux'")
    assert "did you mean 'relu'?" in lines[0]
    assert lines[1] == "    relux"
    assert lines[2] == "    ^"


def test_compile_error_in_file(tmp_path):
    path = tmp_path / "broken.dlm"
    path.write_text("model m(x: f32[1, 4]) {\n    linear(0)\n}\n")
    with pytest.raises(dlm.CompileError) as info:
        dlm.compile(str(path))
    assert str(info.value).startswith(f"{path}:2:")
    assert "^" in str(info.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no-such.dlm"):
        dlm.compile("no-such.dlm")


def test_options():
    with pytest.raises(ValueError, match="batch=0: expected a positive"):
        dlm.compile(LENET_SOURCE, batch=0)
    for precision in ("fp8", "fp64"):
        with pytest.raises(ValueError, match=rf"precision='{precision}': "
                                             "expected fp32, tf32, bf16 or "
                                             "fp16"):
            dlm.compile(LENET_SOURCE, precision=precision)
    dlm.compile(LENET_SOURCE, precision=None)
    dlm.compile(LENET_SOURCE, precision="fp32")
    assert "dlm::conv2dTF32<" in dlm.compile(
        LENET_SOURCE, precision="tf32").emit("cuda")
    assert "dlm::conv2dBF16<" in dlm.compile(
        LENET_SOURCE, precision="bf16").emit("cuda")
    assert "dlm::conv2dFP16<" in dlm.compile(
        LENET_SOURCE, precision="fp16").emit("cuda")
    # The default is tf32, as dlmc's (and PyTorch's cuDNN convolutions).
    assert dlm.compile(LENET_SOURCE).emit("cuda") == dlm.compile(
        LENET_SOURCE, precision="tf32").emit("cuda")
    assert dlm.PRECISIONS[1:] == ("f32", "fp32", "tf32", "bf16", "fp16")
    for fp32 in ("fp32", "f32"):
        assert "conv2dTF32" not in dlm.compile(
            LENET_SOURCE, precision=fp32).emit("cuda")
    with pytest.raises(ValueError, match="fusion"):
        dlm.compile(LENET_SOURCE, fusion="some")
    with pytest.raises(ValueError, match="device"):
        dlm.compile(LENET_SOURCE, device="tpu")
    with pytest.raises(TypeError):
        dlm.compile(42)


@pytest.mark.parametrize("kind", ["ast", "mlir", "mlir-fused", "plan", "dot",
                                  "cuda"])
def test_emit_matches_dlmc(examples, kind):
    path = examples / "resnet18.dlm"
    assert dlm.compile(path).emit(kind) == dlmc(path, f"--emit={kind}")


def test_emit_fusion_none(examples):
    path = examples / "lenet.dlm"
    model = dlm.compile(path, fusion="none")
    assert model.emit("mlir-fused") == dlmc(path, "--emit=mlir-fused",
                                            "--fusion=none")


def test_emit_unknown_kind():
    with pytest.raises(ValueError, match="unknown emit kind 'llvm'"):
        dlm.compile(LENET_SOURCE).emit("llvm")


def test_stats_match_dlmc(examples):
    path = examples / "densenet.dlm"
    stats = dlm.compile(path).stats()
    expected = {}
    for line in dlmc(path, "--stats").splitlines():
        key, _, value = line.partition(": ")
        expected[key] = int(value)
    assert stats == expected
    assert stats["kernels"] > 0


def test_save_bundle(tmp_path, examples):
    model = dlm.compile(examples / "lenet.dlm")
    out = tmp_path / "lenet.bundle"
    model.save_bundle(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest
    # The bundle's kernels.cu is --emit=cuda's plus the kernel table the
    # runtime checks plan.json against (docs/bundle.md).
    kernels = (out / "kernels.cu").read_text()
    assert kernels.startswith(model.emit("cuda"))
    assert "// dlm-kernel dlm_k0 grid=" in kernels[len(model.emit("cuda")):]
    model.save_bundle(str(out))  # replaces a bundle
    other = tmp_path / "not-a-bundle"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        model.save_bundle(other)
    assert (other / "notes.txt").read_text() == "mine"


def test_emit_ptx_and_plan_with_arch(tmp_path, examples):
    path = examples / "lenet.dlm"
    model = dlm.compile(path)
    ptx = model.emit("ptx", arch="sm_80")
    assert isinstance(ptx, bytes) and b".entry" in ptx
    dlmc(path, "--emit=ptx", "--arch=sm_80", "-o", tmp_path / "k.ptx")
    assert ptx == (tmp_path / "k.ptx").read_bytes()
    assert model.emit("plan", arch="sm_80") == dlmc(path, "--emit=plan",
                                                    "--arch=sm_80")


def test_batch_override(examples):
    import numpy as np

    path = examples / "lenet.dlm"
    three = dlm.compile(path, batch=3, device="reference").random_weights(2)
    assert three.input_shape == (3, 1, 28, 28)
    assert three.params() == dlm.compile(path).params()
    one = dlm.compile(path, device="reference").random_weights(2)
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(
        np.float32)
    y = three(x)
    assert y.shape == (3, 10)
    for i in range(3):
        np.testing.assert_allclose(y[i:i + 1], one(x[i:i + 1]), rtol=1e-5,
                                   atol=1e-6)
    emu = dlm.compile(path, batch=2, device="emu",
                      precision="fp32").random_weights(2)
    np.testing.assert_allclose(emu(x[:2]), y[:2], rtol=1e-4, atol=1e-5)
