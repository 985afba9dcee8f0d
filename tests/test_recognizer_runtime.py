"""Reading without torch: the ONNX export of the recognizer, its loading rules, and the shipped
word-frequency vocabulary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from recognizer import Recognizer
from recognizer.export import AdaptiveAvgPoolWidth, export_checkpoint
from recognizer.infer import DEFAULT_WEIGHTS
from recognizer.lm import VOCABULARY_FILE, Vocabulary, _read_vocabulary, _wordfreq_vocabulary
from recognizer.model import CRNN, CRNNConfig
from recognizer.onnx_forward import OnnxForward, file_sha256
from tests.test_recognizer import word_image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small random CRNN saved as training saves it, with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = CRNN(CRNNConfig(channels=(8, 16, 32, 32, 48), rnn_hidden=32)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict(), "version": "tiny-test"}, path)
    return path


@pytest.mark.parametrize("width", [9, 64, 130, 517])
def test_exportable_pooling_matches_adaptive_pooling(width):
    """The matrix form of the STN's adaptive pooling gives PyTorch's bins for narrow and wide strips."""
    x = torch.randn(2, 3, 32, width)
    expected = torch.nn.AdaptiveAvgPool2d((16, 64))(x)
    assert torch.allclose(AdaptiveAvgPoolWidth(64)(x), expected, atol=1e-5)


def test_onnx_export_reads_like_torch(checkpoint, tmp_path):
    """The export runs in onnxruntime with the same log-probs (any batch, any width) and readings as torch."""
    onnx_path, worst = export_checkpoint(checkpoint, tmp_path / "tiny.onnx")
    assert worst < 5e-3
    forward = OnnxForward(onnx_path)
    assert forward.version == "tiny-test" and forward.source_sha256 == file_sha256(checkpoint)
    crops = [word_image(w, scale=s) for w, s in [("a", 0.5), ("budget meeting notes", 1.2), ("plan", 1.0)]]
    with_torch = Recognizer.load(checkpoint, backend="torch").recognize(crops)
    with_onnx = Recognizer.load(onnx_path).recognize(crops)
    assert [r.text for r in with_onnx] == [r.text for r in with_torch]
    assert [r.confidence for r in with_onnx] == pytest.approx([r.confidence for r in with_torch], abs=1e-3)


def test_load_prefers_a_matching_export_and_ignores_a_stale_one(checkpoint, tmp_path, capsys):
    """auto: X.onnx beside X.pt is used when it was exported from X.pt; after X.pt changes it is not
    (torch reads, with a message), and backend="onnx" refuses it with the reason."""
    weights = tmp_path / "recognizer.pt"
    weights.write_bytes(checkpoint.read_bytes())
    export_checkpoint(weights)
    assert isinstance(Recognizer.load(weights).forward, OnnxForward)
    assert not isinstance(Recognizer.load(weights, backend="torch").forward, OnnxForward)

    state = torch.load(weights, weights_only=False)
    state["version"] = "retrained"
    torch.save(state, weights)
    recognizer = Recognizer.load(weights)
    assert not isinstance(recognizer.forward, OnnxForward) and recognizer.version == "retrained"
    assert "exported from other weights" in capsys.readouterr().err
    with pytest.raises(ValueError, match="exported from other weights"):
        Recognizer.load(weights, backend="onnx")
    with pytest.raises(ValueError, match="unknown recognizer backend"):
        Recognizer.load(weights, backend="tensorrt")
    with pytest.raises(FileNotFoundError, match="ONNX export not found"):
        Recognizer.load(tmp_path / "missing.onnx")


def test_shipped_export_matches_shipped_weights():
    """The committed recognizer.onnx was exported from the committed recognizer.pt (re-export after training)."""
    forward = OnnxForward(DEFAULT_WEIGHTS.with_suffix(".onnx"))
    assert forward.source_sha256 == file_sha256(DEFAULT_WEIGHTS)


def test_reading_a_photo_never_imports_torch():
    """`ocrsearch read` with the shipped models runs on onnxruntime: torch's 1.5-2 s import is not paid;
    nor does it need pyctcdecode, a test dependency only (recognizer/ctc_beam.py does the beam search)."""
    code = (
        "import sys, json\n"
        "from ocrsearch.cli import app\n"
        "sys.argv = ['ocrsearch', 'read', 'examples/whiteboard_budget.jpg', '--json']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'pyctcdecode' not in sys.modules, 'pyctcdecode was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"words"' in result.stdout


def test_shipped_vocabulary_is_wordfreq_and_prefixes_bisect(tmp_path):
    """The shipped vocabulary file holds wordfreq's words and frequencies; a file for another size is ignored."""
    shipped = _read_vocabulary(VOCABULARY_FILE, 100_000)
    assert shipped is not None
    fresh = _wordfreq_vocabulary(100_000)
    assert shipped.sorted_words == sorted(fresh)
    assert all(shipped.frequency(w) == pytest.approx(fresh[w], rel=1e-5) for w in list(fresh)[:2000])
    assert shipped.frequency("qzxv") is None and shipped.frequency("") is None
    assert _read_vocabulary(VOCABULARY_FILE, 50_000) is None
    assert _read_vocabulary(tmp_path / "absent.tsv", 100_000) is None
    words = Vocabulary.from_frequencies({"budget": 1e-5, "meeting": 2e-5, "plan": 3e-5})
    assert words.has_prefix("budg") and words.has_prefix("plan") and not words.has_prefix("plans")
    assert not words.has_prefix("zz") and not words.has_prefix("bx")
    assert words.frequency("meeting") == 2e-5 and words.frequency("meet") is None
