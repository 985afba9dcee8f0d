"""Recognizer: model contract, CTC decoding, a few training steps, resume, and the eval command."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from recognizer import Recognizer
from recognizer.charset import ALPHABET, BLANK, NUM_CLASSES, decode_indices, encode, normalise_label
from recognizer.decode import BeamConfig, BeamDecoder, greedy_decode
from recognizer.infer import RecognizerConfig, Stretch, width_batches
from recognizer.torch_forward import fold_batchnorm
from recognizer.model import CRNN, CRNNConfig
from recognizer.preprocess import HEIGHT, collate_strips, normalise, stretch_width, to_gray_strip, trim_margins


def word_image(text: str, scale: float = 1.0) -> np.ndarray:
    """A tiny rendered word, dark ink on a light board, RGB uint8."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    img = np.full((h + base + 12, w + 12, 3), 235, np.uint8)
    cv2.putText(img, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 30, 120), 2, cv2.LINE_AA)
    return img


def one_hot_log_probs(indices: list[int], sharp: float = 0.99) -> torch.Tensor:
    """[T, 1, C] log-probs whose best path is `indices`."""
    lp = torch.full((len(indices), 1, NUM_CLASSES), math.log((1 - sharp) / (NUM_CLASSES - 1)))
    for t, i in enumerate(indices):
        lp[t, 0, i] = math.log(sharp)
    return lp


def test_model_maps_width_to_sequence_and_stays_small():
    """The CRNN emits W/4 frames of NUM_CLASSES log-probs and stays under the 3M-parameter budget."""
    model = CRNN().eval()
    x = torch.randn(3, 1, HEIGHT, 96)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (24, 3, NUM_CLASSES)
    assert torch.allclose(out.exp().sum(-1), torch.ones(24, 3), atol=1e-4)
    assert sum(p.numel() for p in model.parameters()) <= 3_000_000
    assert CRNN.output_lengths(torch.tensor([96, 17])).tolist() == [24, 4]


def test_gru_variant_and_config_round_trip():
    """A GRU model builds from a config dict as saved in checkpoints."""
    cfg = CRNNConfig(rnn="gru", stn=False)
    model = CRNN(CRNNConfig.from_dict(cfg.to_dict()))
    assert isinstance(model.rnn, torch.nn.GRU)
    assert model(torch.randn(1, 1, HEIGHT, 64)).shape[0] == 16


def test_charset_round_trip_and_normalisation():
    """Labels fold typographic characters onto the alphabet and encode/decode losslessly."""
    text = "Budget Q3: $1,200 (draft)"
    assert decode_indices(encode(text)) == text
    assert normalise_label("“Quoted” — naïve ⟦struck⟧") == '"Quoted" - naive struck'
    assert len(ALPHABET) + 1 == NUM_CLASSES


def test_greedy_decoding_collapses_repeats_and_blanks():
    """Best-path decoding merges repeated frames and drops blanks, but keeps doubled letters split by a blank."""
    b, o = encode("b")[0], encode("o")[0]
    lp = one_hot_log_probs([b, b, 0, o, 0, o, o, 0])
    [reading] = greedy_decode(lp, torch.tensor([8]))
    assert reading.text == "boo"
    assert 0.9 < reading.confidence <= 1.0


def test_greedy_respects_sequence_lengths():
    """Frames beyond a crop's own length (batch padding) are never decoded."""
    a = encode("a")[0]
    lp = one_hot_log_probs([a, 0, a, 0])
    [reading] = greedy_decode(lp, torch.tensor([2]))
    assert reading.text == "a"


def test_beam_returns_alternates_within_margin():
    """Beam search returns the best reading first and n-best alternates with lower confidence."""
    c, l, d = encode("c")[0], encode("l")[0], encode("d")[0]
    lp = torch.full((4, 1, NUM_CLASSES), -12.0)
    lp[0, 0, c] = math.log(0.5)
    lp[0, 0, d] = math.log(0.45)
    lp[1, 0, l] = math.log(0.55)
    lp[1, 0, 0] = math.log(0.4)
    lp[2:, 0, 0] = 0.0
    lp = lp.log_softmax(-1)
    [reading] = BeamDecoder(BeamConfig(beam_width=8, n_best=4, margin=5.0, lm_weight=0.0)).decode(lp, torch.tensor([4]))
    assert reading.text == "cl"
    alternates = [t for t, _ in reading.alternates]
    assert "dl" in alternates or "d" in alternates
    assert all(conf <= reading.confidence for _, conf in reading.alternates)


def test_word_lm_prefers_real_words():
    """The frequency LM scores a real word above a misreading of it, case- and punctuation-insensitively,
    and leaves numbers neutral."""
    from recognizer.lm import WordFrequencyLM

    lm = WordFrequencyLM()
    assert lm.log_prob("Budget") > lm.log_prob("bvdget")
    assert lm.log_prob("budget") == lm.log_prob("BUDGET.") == lm.log_prob("(budget:")
    assert lm.log_prob("18:45") == 0.0
    assert lm.score_partial_token("budg") == 0.0 and lm.score_partial_token("bvdg") < 0.0


def test_beam_with_lm_corrects_a_near_miss():
    """Frames that slightly prefer 'bvdget' read as 'budget' once the word LM is fused in."""
    chars = "budget"
    T, C = 2 * len(chars), len(ALPHABET) + 1
    lp = torch.full((T, 1, C), -12.0)
    for t in range(T):
        lp[t, 0, BLANK] = math.log(0.5) if t % 2 else -12.0
    for k, ch in enumerate(chars):
        lp[2 * k, 0, ALPHABET.index(ch) + 1] = math.log(0.9)
        if ch == "u":  # the network hesitates between u and v, leaning v
            lp[2 * k, 0, ALPHABET.index("v") + 1] = math.log(0.55)
            lp[2 * k, 0, ALPHABET.index("u") + 1] = math.log(0.44)
    lengths = torch.tensor([T])
    [plain] = BeamDecoder(BeamConfig(beam_width=8, lm_weight=0.0)).decode(lp, lengths)
    [fused] = BeamDecoder(BeamConfig(beam_width=8, lm_weight=0.3)).decode(lp, lengths)
    assert plain.text == "bvdget"
    assert fused.text == "budget"


def test_preprocess_keeps_aspect_and_pads_with_background():
    """Crops become 32-px gray strips; batches pad with the normalised background value 0."""
    strip = to_gray_strip(word_image("hello"))
    assert strip.shape[0] == HEIGHT and strip.dtype == np.uint8
    batch, widths = collate_strips([strip, strip[:, :20]])
    assert batch.shape == (2, 1, HEIGHT, strip.shape[1])
    assert widths.tolist() == [strip.shape[1], 20]
    assert not batch[1, 0, :, 20:].any()


def test_normalise_matches_mean_and_std_and_writes_in_place():
    """Normalised strips have mean 0 and std 1 (std floored at 8 grey levels), also when written into a batch slice."""
    rng = np.random.default_rng(0)
    strip = rng.integers(0, 256, (HEIGHT, 50), dtype=np.uint8)
    x = strip.astype(np.float64)
    np.testing.assert_allclose(normalise(strip), (x - x.mean()) / x.std(), atol=1e-5)
    flat = np.full((HEIGHT, 40), 100, np.uint8)
    flat[0, 0] = 104
    np.testing.assert_allclose(normalise(flat), (flat - flat.astype(np.float64).mean()) / 8.0, atol=1e-5)
    out = np.zeros((HEIGHT, 60), np.float32)
    assert normalise(strip, out=out[:, :50]).base is out
    np.testing.assert_array_equal(out[:, :50], normalise(strip))
    assert not out[:, 50:].any()


def test_folded_batchnorm_gives_the_same_log_probs():
    """Folding BatchNorm into the convolutions removes every BatchNorm and keeps the outputs (within 1e-4)."""
    torch.manual_seed(0)
    model = CRNN().eval()
    for m in model.modules():  # non-trivial statistics, as after training
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(3, 1, HEIGHT, 88)
    with torch.no_grad():
        expected = model(x)
        folded = fold_batchnorm(model)
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
        assert torch.allclose(folded(x), expected, atol=1e-4)


def test_recognizer_does_not_alter_the_model_it_is_given():
    """The recognizer folds BatchNorm into its own copy, so a model still in training keeps its BatchNorms."""
    model = CRNN()
    Recognizer(model)
    assert model.training and isinstance(model.collapse_bn, torch.nn.BatchNorm1d)


def test_width_batches_group_similar_widths():
    """Every crop lands in exactly one batch of at most max_batch similar widths: narrow and wide crops are
    not padded to each other's width when the padding outweighs a batch's overhead."""
    widths = [20, 200, 22, 210, 21, 205, 19]
    batches = width_batches(widths, max_batch=64, overhead_columns=100)
    assert sorted(i for b in batches for i in b.tolist()) == list(range(len(widths)))
    assert [sorted(b.tolist()) for b in batches] == [[0, 2, 4, 6], [1, 3, 5]]
    assert len(width_batches(widths, max_batch=64, overhead_columns=10**9)) == 1
    assert all(len(b) <= 3 for b in width_batches(widths, max_batch=3, overhead_columns=10**9))
    assert width_batches([], max_batch=64, overhead_columns=100) == []


def test_recognize_keeps_input_order():
    """Readings come back in the order of the crops, whatever batches they were read in."""
    model = CRNN()
    recognizer = Recognizer(model)
    crops = [word_image(w, scale=s) for w, s in [("a", 0.5), ("budget meeting notes", 1.2), ("to", 0.6), ("plan", 1.0)]]
    forward = recognizer.recognize(crops)
    backward = recognizer.recognize(crops[::-1])
    assert [r.text for r in forward] == [r.text for r in backward[::-1]]
    assert [r.confidence for r in forward] == pytest.approx([r.confidence for r in backward[::-1]])


class ScriptedForward:
    """A network stand-in: the n-th forward pass reads every crop as scripted[n] (letter, probability),
    in the first frame, blanks after; it records the input widths it was given."""

    def __init__(self, scripted: list[tuple[str, float]]):
        self.scripted, self.widths = scripted, []

    def __call__(self, images: np.ndarray) -> np.ndarray:
        letter, p = self.scripted[len(self.widths)]
        self.widths.append(images.shape[3])
        frames = max(images.shape[3] // 4, 1)
        lp = one_hot_log_probs([ALPHABET.index(letter) + 1] + [BLANK] * (frames - 1), sharp=p).numpy()
        return np.repeat(lp, images.shape[0], axis=1)  # [T, 1, C] -> [T, B, C]


def test_stretch_width_widens_the_ink_and_keeps_the_height():
    strip = to_gray_strip(word_image("plan"))
    wide = stretch_width(strip, 1.5)
    assert wide.shape == (HEIGHT, round(strip.shape[1] * 1.5))
    ink_columns = lambda s: np.flatnonzero((s < 128).any(axis=0))  # noqa: E731
    assert ink_columns(wide)[-1] - ink_columns(wide)[0] == pytest.approx(
        1.5 * (ink_columns(strip)[-1] - ink_columns(strip)[0]), abs=3)
    assert stretch_width(strip, 100.0).shape[1] == 1024  # capped like any strip


def loose_crop(crop: np.ndarray, rows: int) -> np.ndarray:
    """The crop with `rows` more rows of its board above and below the writing."""
    return cv2.copyMakeBorder(crop, rows, rows, 0, 0, cv2.BORDER_REPLICATE)


def test_trim_margins_cuts_the_empty_rows_and_keeps_the_writing():
    word = word_image("plan")
    loose = loose_crop(word, 3 * word.shape[0])
    trimmed = trim_margins(loose)
    assert trimmed.shape[1:] == loose.shape[1:] and trimmed.shape[0] <= word.shape[0] + 4
    ink_rows = lambda img: np.flatnonzero((img.min(axis=(1, 2)) < 128))  # noqa: E731
    assert len(ink_rows(trimmed)) == len(ink_rows(loose))  # no ink row lost
    assert ink_rows(trimmed)[0] > 0 and ink_rows(trimmed)[-1] < trimmed.shape[0] - 1  # a margin kept
    assert trim_margins(255 - loose).shape == trimmed.shape  # light writing on a dark board too
    blank = np.full((60, 100, 3), 200, np.uint8)
    assert trim_margins(blank) is blank  # nothing to trim to: the crop comes back whole


def test_unsure_words_are_read_again_stretched_and_the_most_confident_reading_is_kept():
    word = word_image("to", scale=0.6)
    forward = ScriptedForward([("n", 0.4), ("w", 0.99), ("v", 0.7)])
    recognizer = Recognizer(forward, RecognizerConfig(stretch_below=0.9, stretches=(Stretch(1.25), Stretch(1.5))))
    [reading] = recognizer.recognize([word])
    assert (reading.text, reading.confidence) == ("w", pytest.approx(0.99))
    margin = recognizer.cfg.right_margin_columns
    base = forward.widths[0] - margin
    assert [w - margin for w in forward.widths] == [base, round(base * 1.25), round(base * 1.5)]


def test_trimmed_crops_are_read_again_narrower_wider_and_whole():
    loose = loose_crop(word_image("to", scale=0.6), 20)
    forward = ScriptedForward([("n", 0.4), ("w", 0.5), ("v", 0.3), ("t", 0.45), ("o", 0.8)])
    recognizer = Recognizer(forward, RecognizerConfig(stretch_below=0.5, trim_margins=True))
    [reading] = recognizer.recognize([loose])
    assert (reading.text, reading.confidence) == ("o", pytest.approx(0.8))  # the whole crop's reading
    margin = recognizer.cfg.right_margin_columns
    trimmed, whole = to_gray_strip(trim_margins(loose)).shape[1], to_gray_strip(loose).shape[1]
    assert whole < trimmed  # the trimmed crop's writing is larger in the strip
    assert [w - margin for w in forward.widths] == [trimmed, round(trimmed * 0.9), round(trimmed * 1.25),
                                                    round(trimmed * 1.5), whole]


def test_confident_words_the_default_and_lines_widened_read_once():
    word, line = word_image("to", scale=0.6), word_image("budget meeting notes for the whole team", 1.0)
    assert to_gray_strip(line).shape[1] > RecognizerConfig.stretch_max_width
    for crop, cfg, scripted in [(word, RecognizerConfig(stretch_below=0.5), [("n", 0.9)]),
                                (line, RecognizerConfig(stretch_below=0.9, stretches=(Stretch(1.25),)), [("n", 0.4)]),
                                (word, RecognizerConfig(), [("n", 0.4)])]:
        forward = ScriptedForward(scripted)
        assert Recognizer(forward, cfg).recognize([crop])[0].text == "n"
        assert len(forward.widths) == 1
    # a line may still be read narrower
    forward = ScriptedForward([("n", 0.4), ("w", 0.6)])
    assert Recognizer(forward, RecognizerConfig(stretch_below=0.5)).recognize([line])[0].text == "w"
    base = forward.widths[0] - RecognizerConfig.right_margin_columns
    assert forward.widths[1] - RecognizerConfig.right_margin_columns == round(base * 0.9)


@pytest.fixture()
def tiny_word_set(tmp_path):
    words = ["note", "plan", "budget", "team", "todo", "idea", "call", "Q3"] * 4
    (tmp_path / "words").mkdir()
    lines = []
    for i, w in enumerate(words):
        name = f"words/{i:03d}.png"
        cv2.imwrite(str(tmp_path / name), word_image(w, scale=0.8 + 0.1 * (i % 3)))
        lines.append(f"{name}\t{w}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_few_training_steps_write_checkpoints_and_resume(tiny_word_set, tmp_path):
    """Training writes best.pt/last.pt/log.csv/loss.png, lowers the loss, and resumes from last.pt."""
    from data.readers import open_dataset
    from recognizer.train import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig(data=[str(tiny_word_set)], val_data=[str(tiny_word_set)], out=str(out), max_steps=12,
                      batch_size=8, val_every=6, lr=3e-3, threads=1, augment=False)
    logs: list[str] = []
    best = train(cfg, open_dataset, log=logs.append)
    assert best.exists() and (out / "last.pt").exists() and (out / "log.csv").exists() and (out / "loss.png").exists()
    rows = (out / "log.csv").read_text().splitlines()
    first, last = (float(r.split(",")[3]) for r in (rows[1], rows[-1]))  # val_loss column
    assert last < first

    cfg.max_steps = 18
    train(cfg, open_dataset, log=logs.append)
    assert any("resumed from" in line and "step 12" in line for line in logs)

    recognizer = Recognizer.load(best)
    readings = recognizer.recognize([word_image("plan"), word_image("team")])
    assert len(readings) == 2 and all(0.0 <= r.confidence <= 1.0 for r in readings)


def test_best_checkpoint_can_be_chosen_by_character_error_rate(tiny_word_set, tmp_path):
    """--select-by cer keeps the weights of the validation with the lowest CER, whatever their loss."""
    import csv

    from data.readers import open_dataset
    from recognizer.train import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig(data=[str(tiny_word_set)], val_data=[str(tiny_word_set)], out=str(out), max_steps=12,
                      batch_size=8, val_every=3, lr=3e-3, threads=1, augment=False, select_by="cer")
    best = torch.load(train(cfg, open_dataset, log=lambda _: None), weights_only=False)
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    lowest = min(rows, key=lambda r: float(r["val_cer"]))  # the first of equals, as training keeps it
    lowest_loss = min(rows, key=lambda r: float(r["val_loss"]))
    assert lowest["step"] != lowest_loss["step"]  # so that the choice shows (a few steps: CER stays 1.0)
    assert best["metrics"]["step"] == int(lowest["step"])
    with pytest.raises(ValueError, match="select_by"):
        train(TrainConfig(data=[str(tiny_word_set)], out=str(tmp_path / "x"), select_by="accuracy"), open_dataset)


def test_interpolate_command_writes_weights_between_two_checkpoints(tmp_path):
    """`ocrsearch train interpolate` mixes two checkpoints' weights; other architectures are refused."""
    import typer

    from ocrsearch.cli_train import train_app
    from recognizer.torch_forward import load_checkpoint

    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = CRNN()
        paths.append(tmp_path / f"w{seed}.pt")
        torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, paths[-1])
    app = typer.Typer()
    app.add_typer(train_app, name="train")
    out = tmp_path / "mix.pt"
    result = CliRunner().invoke(app, ["train", "interpolate", "--start", str(paths[0]), "--end", str(paths[1]),
                                      "--alpha", "0.25", "--out", str(out), "--version", "mix-test"])
    assert result.exit_code == 0, result.output
    model, version = load_checkpoint(out)  # loads as any recognizer checkpoint
    assert version == "mix-test"
    first, second = (torch.load(p, weights_only=False)["model"] for p in paths)
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.75 * first[name] + 0.25 * second[name], atol=1e-6), name
        else:
            assert torch.equal(value, first[name]), name
    other = CRNN(CRNNConfig(rnn_hidden=32))
    torch.save({"model": other.state_dict(), "config": other.cfg.to_dict()}, tmp_path / "other.pt")
    refused = CliRunner().invoke(app, ["train", "interpolate", "--start", str(paths[0]), "--end",
                                       str(tmp_path / "other.pt"), "--alpha", "0.5", "--out", str(tmp_path / "x.pt")])
    assert refused.exit_code != 0 and "different recognizer architectures" in refused.output
    assert not (tmp_path / "x.pt").exists()


def test_eval_command_prints_metrics(tiny_word_set, tmp_path):
    """`ocrsearch eval recognizer` prints CER, word accuracy, mean edit distances and crops/s."""
    import typer

    from ocrsearch.cli_train import eval_app

    model = CRNN()
    weights = tmp_path / "w.pt"
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, weights)
    app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    result = CliRunner().invoke(app, ["eval", "recognizer", "--data", str(tiny_word_set), "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    for key in ("CER=", "word_acc=", "word_acc_nocase=", "mean_ED=", "mean_ED/len=", "crops/s="):
        assert key in result.output
    assert "n=32" in result.output


def test_train_command_shapes_a_new_model(tiny_word_set, tmp_path):
    """`ocrsearch train recognizer --channels ... --rnn-hidden N` trains a model of that shape; a malformed
    --channels is refused naming the option."""
    import typer

    from ocrsearch.cli_train import train_app

    app = typer.Typer()
    app.add_typer(train_app, name="train")
    out = tmp_path / "run"
    args = ["train", "recognizer", "--data", str(tiny_word_set), "--val-data", str(tiny_word_set), "--out", str(out),
            "--max-steps", "2", "--batch-size", "8", "--val-every", "2", "--threads", "1", "--no-augment"]
    result = CliRunner().invoke(app, args + ["--channels", "8,16,24,32,40", "--rnn-hidden", "24"])
    assert result.exit_code == 0, result.output
    config = torch.load(out / "best.pt", weights_only=False)["config"]
    assert tuple(config["channels"]) == (8, 16, 24, 32, 40) and config["rnn_hidden"] == 24
    bad = CliRunner().invoke(app, args + ["--channels", "8,16,x"])
    assert bad.exit_code != 0 and "--channels" in bad.output


def test_missing_weights_name_the_path(tmp_path):
    """Loading absent weights fails with an error that names the file."""
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        Recognizer.load(tmp_path / "nope.pt")


def test_packed_set_holds_the_same_strips_and_labels(tiny_word_set, tmp_path):
    """`ocrsearch data pack` turns a labels.tsv set into shards that read back as the same strips."""
    import typer

    from data.readers import open_dataset
    from ocrsearch.cli_data import data_app

    app = typer.Typer()
    app.add_typer(data_app, name="data")
    packed_dir = tmp_path / "packed"
    result = CliRunner().invoke(app, ["data", "pack", str(tiny_word_set), "--out", str(packed_dir)])
    assert result.exit_code == 0, result.output
    assert "32 crops packed" in result.output
    source, packed = open_dataset(tiny_word_set), open_dataset(packed_dir)
    assert len(packed) == len(source) == 32
    for i in (0, 5, 31):
        image, text = source[i]
        strip, packed_text = packed[i]
        assert packed_text == text
        assert np.array_equal(strip, to_gray_strip(image))
        assert packed.width(i) == strip.shape[1]


def test_session_limit_stops_with_a_checkpoint_that_resumes_the_schedule(tiny_word_set, tmp_path):
    """--session-minutes ends a run early with last.pt; the next run goes on with the same schedule."""
    from data.readers import open_dataset
    from recognizer.train import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig(data=[str(tiny_word_set)], val_data=[str(tiny_word_set)], out=str(out), max_steps=50,
                      batch_size=8, val_every=1000, threads=1, augment=False, session_minutes=1e-6)
    logs: list[str] = []
    train(cfg, open_dataset, log=logs.append)
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["step"] == 1  # stopped after the first step, validated and checkpointed
    cfg.session_minutes = None
    cfg.max_steps = 3
    train(cfg, open_dataset, log=logs.append)
    assert any("resumed from" in line and "step 1" in line for line in logs)
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 3


def test_memory_format_follows_the_device():
    """channels_last helps depthwise convolutions on CPU but is ~35x slower on a GPU in float32."""
    from recognizer.train import preferred_memory_format

    assert preferred_memory_format(torch.device("cpu")) == torch.channels_last
    assert preferred_memory_format(torch.device("cuda")) == torch.contiguous_format


def test_distorted_strips_keep_height_ink_and_background() -> None:
    """distort_strip slants, squashes and re-strokes a word strip: the height stays, the width grows
    by at most the slant, the ink is still there and the edges it pulls in are background, not black."""
    from recognizer.train import distort_strip

    strip = to_gray_strip(word_image("hello"))
    rng = np.random.default_rng(0)
    background = float(np.median(strip))
    for _ in range(20):
        out = distort_strip(strip, rng)
        assert out.dtype == np.uint8 and out.shape[0] == HEIGHT
        assert strip.shape[1] <= out.shape[1] <= strip.shape[1] + 0.4 * HEIGHT + 1
        assert (out < background - 60).sum() > 0.3 * (strip < background - 60).sum()  # ink kept
        edges = np.concatenate([out[:, 0], out[:, -1]])
        assert np.median(edges) > background - 40


def test_pipeline_settings_reach_the_recognizer():
    """Photos are read once per word by default; `ocrsearch recognize` turns re-reading on."""
    from ocrsearch.config import RECOGNIZE_STRETCH_BELOW, RECOGNIZE_TRIM_MARGINS, PipelineConfig
    from ocrsearch.pipeline import load_recognizer

    photos = load_recognizer(PipelineConfig(decoder="greedy")).cfg
    assert photos.stretch_below == 0.0 and not photos.trim_margins
    words = load_recognizer(PipelineConfig(decoder="greedy", stretch_below=RECOGNIZE_STRETCH_BELOW,
                                           trim_margins=RECOGNIZE_TRIM_MARGINS)).cfg
    assert words.stretch_below == RECOGNIZE_STRETCH_BELOW > 0 and words.trim_margins
