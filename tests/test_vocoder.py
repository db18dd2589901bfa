"""Vocoders: WaveFlow is invertible and learns, the GAN vocoder learns, chunked decoding equals a whole decode,
weights round-trip, training runs end to end, and bad input gives a clear error."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F

from cantor.errors import CantorError, UsageError
from cantor.features.mel import LogMel
from cantor.inference.vocode import Vocoder, positional_noise
from cantor.metrics.pitch import peak_frequency
from cantor.models.presets import vocoder_preset
from cantor.models.vocoder import (
    VOCODER_KIND,
    GANVocoder,
    VocoderConfig,
    WaveFlow,
    _cumsum_frames,
    build_vocoder,
    peak_frequencies,
)
from cantor.models.weights import load_weights, save_weights
from cantor.nn.flows import squeeze, unsqueeze
from cantor.nn.vocoder_discriminators import VocoderDiscriminator, high_pass
from cantor.train import losses
from cantor.train.runner import RunOptions
from cantor.train.vocoder import train_vocoder

from .toy import RATE, write_toy_folder


def _randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Small random weights everywhere (a fresh WaveFlow is the identity: its last layers start at zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model.eval()


def _toy_tone(seconds: float, *, batch: int = 4, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    clips = [sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 4)) for f0 in rng.uniform(150, 600, batch)]
    return torch.tensor(np.stack(clips), dtype=torch.float32)


def _model_folder(tmp_path, preset: str) -> tuple[object, VocoderConfig]:
    config, _ = vocoder_preset(preset)
    model = _randomised(build_vocoder(config))
    folder = save_weights(tmp_path / preset, model, kind=VOCODER_KIND, config=config.to_dict())
    return folder, config


@pytest.mark.parametrize("preset", ["tiny-waveflow", "tiny-waveflow-grouped"])
def test_waveflow_is_invertible(preset):
    config, _ = vocoder_preset(preset)
    model = _randomised(WaveFlow(config.waveflow))
    audio = _toy_tone(0.25, batch=2)[:, : 64 * 31]
    mel = LogMel(config.mel)(audio)
    with torch.no_grad():
        z = model(audio, mel).z
        recovered = model.infer(mel, noise=z / config.waveflow.sigma, temperature=1.0)
    assert z.abs().max() > 1e-3 and not torch.allclose(z, audio)  # the flow does transform
    assert (recovered - audio).abs().max() < 1e-4
    # Sampling keeps the weights' precision inside a mixed-precision region (as in validation during such training).
    with torch.autocast("cpu", dtype=torch.bfloat16):
        again = model.infer(mel, noise=z / config.waveflow.sigma, temperature=1.0)
    assert again.dtype == torch.float32 and torch.allclose(again, recovered)


@pytest.mark.parametrize("preset", ["tiny-waveflow", "tiny-waveflow-grouped", "tiny-gan", "tiny-gan-held"])
def test_a_tiny_vocoder_learns_a_toy_signal(preset):
    torch.manual_seed(0)
    config, _ = vocoder_preset(preset)
    model = build_vocoder(config)
    mel_of = LogMel(config.mel)
    audio = _toy_tone(0.26, batch=4)[:, : 64 * 32]
    mel = mel_of(audio)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        if config.family == "waveflow":
            return model.negative_log_likelihood(audio, mel)
        fake = model(mel)
        return 15 * F.l1_loss(mel_of(fake), mel) + losses.multi_resolution_stft(fake, audio, resolutions=((256, 64),))

    first = loss().item()
    for _ in range(40 if config.family == "waveflow" else 80):
        value = loss()
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
    last = loss().item()
    if config.family == "waveflow":
        assert last < first - 1.0, (first, last)  # nats per sample: the likelihood rises by a factor of e and more
    else:
        assert last < 0.6 * first, (first, last)


@pytest.mark.parametrize("preset", ["tiny-gan", "tiny-gan-held", "tiny-waveflow", "tiny-waveflow-grouped"])
def test_chunked_decoding_equals_a_whole_decode(tmp_path, preset):
    folder, config = _model_folder(tmp_path, preset)
    audio = _toy_tone(1.3, batch=2)
    temperature = 0.7 if config.family == "waveflow" else None  # a GAN has none
    whole = Vocoder(folder, chunk_seconds=100.0, temperature=temperature, seed=3)
    chunked = Vocoder(folder, chunk_seconds=0.5, temperature=temperature, seed=3)
    mel = whole.mel(audio)
    expected = whole.decode(mel)
    got = chunked.decode(mel)
    assert got.shape == expected.shape == (2, (mel.shape[-1] - 1) * config.mel.stft.hop_length)
    snr = 10 * torch.log10(expected.pow(2).sum() / (got - expected).pow(2).sum().clamp_min(1e-20))
    assert snr > 60, snr
    # Resynthesis keeps the input's shape and length (odd lengths too), chunked or not.
    odd = audio[:, :9999]
    assert torch.allclose(chunked.resynthesize(odd, RATE), whole.resynthesize(odd, RATE), atol=1e-4)
    assert whole.resynthesize(odd[0], RATE).shape == (9999,)


def test_peak_frequencies_lock_each_bin_to_its_peak():
    # two partials through a 64-point Hann window, at 8.3 and 20.75 bins, and one flat frame
    n_fft, bins = 64, torch.arange(33, dtype=torch.float64)
    t = torch.arange(n_fft, dtype=torch.float64)
    signal = torch.sin(2 * math.pi * 8.3 * t / n_fft) + 0.5 * torch.sin(2 * math.pi * 20.75 * t / n_fft + 1.0)
    frame = torch.fft.rfft(signal * torch.hann_window(n_fft, periodic=True, dtype=torch.float64)).abs().log()
    frequencies = peak_frequencies(torch.stack([frame, torch.zeros(33, dtype=torch.float64)]))
    # the bins of each main lobe (±2 around the maximum's bin, 8 and 21) all point at the partial's frequency
    assert torch.allclose(frequencies[0, 6:11], torch.tensor(8.3, dtype=torch.float64), atol=0.02)
    assert torch.allclose(frequencies[0, 19:24], torch.tensor(20.75, dtype=torch.float64), atol=0.02)
    assert torch.equal(frequencies[1], bins)  # a flat frame: every bin its own
    # modulo 4: congruent to those, and small
    small = peak_frequencies(frame, modulo=4)
    assert torch.allclose(torch.remainder(small - frequencies[0] + 0.5, 4), torch.tensor(0.5, dtype=torch.float64))
    assert small.min() >= -2.5 and small.max() <= 6.5
    # a ripple from bin to bin on the lobe (as a network's magnitudes can have) does not make peaks of its own
    ripple = frame + 0.8 * (-1.0) ** bins
    assert torch.allclose(peak_frequencies(ripple)[6:11], torch.tensor(8.3, dtype=torch.float64), atol=0.02)


@pytest.mark.parametrize("frames", [1, 15, 16, 17, 100])
def test_the_blocked_frame_sum_equals_a_running_sum_even_under_bfloat16_autocast(frames):
    values = torch.rand(2, frames, 5, generator=torch.Generator().manual_seed(frames)) * 9 - 2.5
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the phase sum must stay float32 inside a bf16 network
        summed = _cumsum_frames(values)
    assert summed.dtype == torch.float32
    assert torch.allclose(summed, torch.cumsum(values.double(), dim=1).float(), atol=1e-4)


@pytest.mark.parametrize("phase", ["held", "local"])
def test_held_phase_keeps_a_steady_pitch_that_local_phase_cannot(phase):
    """A steady partial between bins, handed to the head as its true STFT magnitude and phase (one frame, repeated):
    with held phase it comes back at its own frequency (the drift the magnitudes give advances it); with local phase
    every frame is the same, so the output is periodic in one hop and lands on a multiple of sample_rate / hop."""
    config, _ = vocoder_preset("tiny-gan")
    gan = dataclasses.replace(config.gan, phase=phase)
    stft, rate = gan.mel.stft, gan.mel.sample_rate
    frequency = 262.5  # 8.4 bins of 31.25 Hz; not a multiple of 8000 / 64 = 125 Hz
    t = np.arange(rate) / rate
    tone = torch.tensor(0.5 * np.sin(2 * np.pi * frequency * t), dtype=torch.float32)
    spec = torch.stft(tone, stft.n_fft, stft.hop_length, window=torch.hann_window(stft.n_fft), return_complex=True)
    column = spec[:, spec.shape[-1] // 2]
    model = GANVocoder(gan)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.cat([column.abs().clamp_min(1e-9).log(), column.angle()]))
        decoded = model.eval()(torch.zeros(1, gan.mel.n_mels, spec.shape[-1]))[0].numpy()
    interior = decoded[stft.n_fft : rate - stft.n_fft]
    peak = peak_frequency(interior, rate)
    assert np.sqrt(np.mean(interior**2)) > 0.2  # a tone at the input's level, not a remnant
    if phase == "held":
        assert abs(1200 * np.log2(peak / frequency)) < 5
    else:
        assert abs(peak / (rate / stft.hop_length) - round(peak / (rate / stft.hop_length))) < 0.01
        assert abs(1200 * np.log2(peak / frequency)) > 30


def test_an_unknown_phase_model_is_refused():
    config, _ = vocoder_preset("tiny-gan")
    with pytest.raises(ValueError, match="phase must be one of"):
        dataclasses.replace(config.gan, phase="random")


def test_waveflow_samples_at_its_own_temperature_unless_told(tmp_path):
    config, _ = vocoder_preset("tiny-waveflow")
    config = dataclasses.replace(config, waveflow=dataclasses.replace(config.waveflow, temperature=0.3))
    folder = save_weights(
        tmp_path / "flow", _randomised(build_vocoder(config)), kind=VOCODER_KIND, config=config.to_dict()
    )
    mel = LogMel(config.mel)(_toy_tone(0.3, batch=1))
    own, asked = Vocoder(folder, seed=1), Vocoder(folder, temperature=0.8, seed=1)
    assert (own.temperature, asked.temperature) == (0.3, 0.8)
    assert torch.equal(own.decode(mel), Vocoder(folder, temperature=0.3, seed=1).decode(mel))
    assert not torch.allclose(own.decode(mel), asked.decode(mel))
    with pytest.raises(ValueError, match="temperature must be at least 0"):
        dataclasses.replace(config.waveflow, temperature=-1.0)
    gan, _ = _model_folder(tmp_path, "tiny-gan")
    with pytest.raises(UsageError, match="only a WaveFlow vocoder samples at a temperature"):
        Vocoder(gan, temperature=0.5)


def test_squeeze_puts_each_sample_in_its_cell_and_back():
    audio = torch.arange(2 * 96, dtype=torch.float32).view(2, 96)
    rows = squeeze(audio, 4, 3)  # 4 rows, cells of 3 samples: 8 columns
    assert rows.shape == (2, 3, 4, 8)
    # cell (row j, column c) holds samples (c·4 + j)·3 … + 2, one per channel
    assert rows[1, :, 2, 5].tolist() == [96 + (5 * 4 + 2) * 3 + k for k in range(3)]
    assert torch.equal(unsqueeze(rows), audio)
    assert torch.equal(squeeze(audio, 4).squeeze(1)[0, :, 0], audio[0, :4])  # one sample per cell: rows of samples


def test_grouped_waveflow_keeps_its_mixing_with_its_weights(tmp_path):
    config, _ = vocoder_preset("tiny-waveflow-grouped")
    model = _randomised(build_vocoder(config))
    folder = save_weights(tmp_path / "grouped", model, kind=VOCODER_KIND, config=config.to_dict())
    loaded, _ = load_weights(folder, kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c)))
    audio = _toy_tone(0.25, batch=1)[:, : 64 * 31]
    mel = LogMel(config.mel)(audio)
    with torch.no_grad():
        assert torch.equal(loaded(audio, mel).z, model(audio, mel).z)
    # the rotation is drawn at construction, so only the saved one reproduces the model
    assert not torch.equal(build_vocoder(config).flows[0].mixing, model.flows[0].mixing)
    assert torch.allclose(model.flows[0].mixing @ model.flows[0].mixing.T, torch.eye(2), atol=1e-6)


def test_positional_noise_depends_only_on_position():
    whole = positional_noise(0, 200_000, seed=5)
    assert torch.equal(positional_noise(70_001, 90_000, seed=5), whole[70_001:160_001])
    assert not torch.equal(positional_noise(0, 1000, seed=6), whole[:1000])
    assert abs(whole.std().item() - 1) < 0.01


def test_weights_round_trip_and_strict_loading(tmp_path):
    folder, config = _model_folder(tmp_path, "tiny-gan")
    build = lambda c: build_vocoder(VocoderConfig.from_dict(c))  # noqa: E731
    model, _ = load_weights(folder, kind=VOCODER_KIND, build=build)
    again, _ = load_weights(
        save_weights(tmp_path / "again", model, kind=VOCODER_KIND, config=config.to_dict()),
        kind=VOCODER_KIND,
        build=build,
    )
    mel = torch.randn(1, config.mel.n_mels, 20)
    assert torch.equal(model(mel), again(mel))
    bigger = dataclasses.replace(config, gan=dataclasses.replace(config.gan, dim=40))
    save_weights(tmp_path / "wrong", model, kind=VOCODER_KIND, config=bigger.to_dict())
    with pytest.raises(CantorError, match="does not match its config"):
        load_weights(tmp_path / "wrong", kind=VOCODER_KIND, build=build)
    with pytest.raises(CantorError, match="not a 'separator'"):
        load_weights(folder, kind="separator", build=build)


@pytest.mark.parametrize("preset", ["tiny-gan", "tiny-gan-held"])
def test_a_gan_decodes_in_bfloat16_close_to_float32(tmp_path, preset):
    folder, _ = _model_folder(tmp_path, preset)
    exact, fast = Vocoder(folder, precision="fp32"), Vocoder(folder, precision="bf16")
    mel = exact.mel(_toy_tone(1.0, batch=1))
    reference, decoded = exact.decode(mel), fast.decode(mel)
    assert not torch.equal(decoded, reference)  # the backbone did run in bfloat16
    # Far closer to the float32 decode than the decode of another tone is (0.06–0.08 for these random models).
    assert F.l1_loss(exact.mel(decoded), exact.mel(reference)) < 0.01


def test_waveflow_runs_in_float32_and_refuses_bfloat16(tmp_path):
    folder, _ = _model_folder(tmp_path, "tiny-waveflow")
    assert Vocoder(folder).precision == "fp32"  # auto
    with pytest.raises(UsageError, match="only a GAN vocoder runs in bf16"):
        Vocoder(folder, precision="bf16")
    with pytest.raises(UsageError, match="precision must be one of"):
        Vocoder(folder, precision="int8")


def test_bad_mels_and_models_give_clear_errors(tmp_path):
    folder, config = _model_folder(tmp_path, "tiny-gan")
    vocoder = Vocoder(folder)
    with pytest.raises(UsageError, match=rf"\[\.\.\., {config.mel.n_mels}, frames"):
        vocoder.decode(torch.zeros(7, 20))
    with pytest.raises(UsageError, match="NaN"):
        vocoder.decode(torch.full((config.mel.n_mels, 20), math.nan))
    with pytest.raises(UsageError, match="unknown model"):
        Vocoder("no-such-vocoder")


@pytest.mark.parametrize("preset", ["tiny-gan", "tiny-gan-held"])
def test_training_runs_resumes_and_exports(tmp_path, preset):
    data = write_toy_folder(tmp_path / "toy", songs={"train": 2, "valid": 1}, seconds=2.0)
    config, train = vocoder_preset(preset)
    short = dataclasses.replace(train, max_steps=20, adversarial_start_step=10, val_every_steps=10)
    if config.gan.phase != "local":  # and the head's magnitudes held to the clips' STFT, discriminators above 300 Hz
        short = dataclasses.replace(
            short, losses={**short.losses, "stft_magnitude": 1.0}, discriminator_highpass_hz=300.0
        )
    run = train_vocoder(
        data=[data], out=tmp_path / "run", model_config=config, train_config=short, options=RunOptions(progress=False)
    )
    longer = dataclasses.replace(short, max_steps=30)
    train_vocoder(data=[data], out=run, model_config=config, train_config=longer, options=RunOptions(progress=False))
    _, final = load_weights(run / "final", kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c)))
    assert final["metadata"]["step"] == 30  # continued from 20, and two optimiser steps per GAN step counted once
    _, best = load_weights(run / "best", kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c)))
    assert best["metadata"]["metrics"]["valid/mel_l1"] > 0
    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_high_passed_discriminators_cannot_hear_the_low_band():
    rate, length = 44100, 8192
    t = torch.arange(length) / rate
    # whole numbers of cycles in the clip (54 and 2002 Hz), so each tone lies in one FFT bin
    low, high = (torch.sin(2 * math.pi * (cycles * rate / length) * t) for cycles in (10, 372))
    cutoff = 400 / rate  # removes below 200 Hz, keeps above 400 Hz
    assert float(high_pass(low[None], cutoff).abs().max()) < 1e-4
    assert torch.allclose(high_pass(high[None], cutoff), high[None], atol=1e-4)
    torch.manual_seed(0)
    deaf = VocoderDiscriminator(width=4, highpass=cutoff)
    (logits, _), (moved, _) = deaf(high[None]), deaf((high + low)[None])
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(logits, moved, strict=True))
    hearing = VocoderDiscriminator(width=4)
    hearing.load_state_dict(deaf.state_dict())
    (logits, _), (moved, _) = hearing(high[None]), hearing((high + low)[None])
    assert not all(torch.allclose(a, b, atol=1e-4) for a, b in zip(logits, moved, strict=True))
    with pytest.raises(ValueError, match="fraction of the sample rate"):
        VocoderDiscriminator(highpass=0.5)


def test_a_discriminator_highpass_above_nyquist_is_refused(tmp_path):
    data = write_toy_folder(tmp_path / "toy", songs={"train": 1, "valid": 1}, seconds=1.0)
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "cantor.cli.main", "train", "vocoder", "--data", str(data), "--out", str(run),
         "--preset", "tiny-gan", "--discriminator-highpass", "30000", "--max-steps", "1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0 and "below the Nyquist frequency" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not run.exists()


def test_cli_vocodes_a_file_and_a_saved_mel(tmp_path):
    folder, _ = _model_folder(tmp_path, "tiny-gan")
    audio = _toy_tone(0.7, batch=2)
    wav = tmp_path / "in.wav"
    soundfile.write(wav, audio.numpy().T, RATE)
    out = tmp_path / "out.wav"
    cli = [sys.executable, "-m", "cantor.cli.main", "vocode"]
    result = subprocess.run([*cli, str(wav), "-o", str(out), "-m", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written, rate = soundfile.read(out, always_2d=True)
    assert rate == RATE and written.shape == (audio.shape[1], 2)
    # Another rate streams through the vocoder's rate and back: same rate, channels and length out.
    soundfile.write(tmp_path / "in11k.flac", audio.numpy().T[:5555], 11025)
    assert Vocoder(folder).resynthesize_file(tmp_path / "in11k.flac", tmp_path / "out11k.wav").is_file()
    info = soundfile.info(tmp_path / "out11k.wav")
    assert (info.samplerate, info.channels, info.frames) == (11025, 2, 5555)
    mel_file = tmp_path / "mel.npy"
    np.save(mel_file, Vocoder(folder).mel(audio[0]).numpy())
    decoded = tmp_path / "decoded.wav"
    result = subprocess.run(
        [*cli, "--mel", str(mel_file), "-o", str(decoded), "-m", str(folder)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert soundfile.info(decoded).frames > 0
    for args, message in [
        ([str(wav), "-o", str(out), "-m", str(folder)], "exists"),
        ([str(tmp_path / "none.wav"), "-o", str(tmp_path / "x.wav"), "-m", str(folder)], "none.wav"),
        (["--mel", str(wav), "-o", str(tmp_path / "y.wav"), "-m", str(folder)], "not a NumPy"),
        ([str(wav), "-o", str(tmp_path / "z.wav"), "-m", "nothing"], "unknown model"),
        (["-o", str(tmp_path / "w.wav")], "either one audio INPUT or --mel"),
        ([str(wav), "-o", str(tmp_path / "v.wav"), "-m", str(folder), "--precision", "half"], "precision must be"),
    ]:
        result = subprocess.run([*cli, *args], capture_output=True, text=True)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not any(".partial" in p.name or ".staging" in p.name for p in tmp_path.iterdir())
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "y.wav").exists()


def test_finetuning_starts_from_the_base_vocoder(tmp_path):
    from safetensors.numpy import load_file

    data = write_toy_folder(tmp_path / "toy", songs={"train": 2, "valid": 1}, seconds=2.0)
    base, config = _model_folder(tmp_path, "tiny-gan")
    _, train = vocoder_preset("tiny-gan")
    # A vanishing learning rate leaves the weights where they start: the base's, not a fresh initialisation's.
    frozen = dataclasses.replace(
        train, max_steps=2, adversarial_start_step=0, val_every_steps=2, learning_rate=1e-12, final_learning_rate=1e-12
    )
    options = RunOptions(progress=False)
    run = train_vocoder(
        data=[data],
        out=tmp_path / "tuned",
        model_config=config,
        train_config=dataclasses.replace(frozen, init=str(base)),
        options=options,
    )
    before, after = load_file(base / "model.safetensors"), load_file(run / "final" / "model.safetensors")
    assert max(float(np.abs(after[k] - before[k]).max()) for k in before) < 1e-6
    fresh = train_vocoder(
        data=[data], out=tmp_path / "fresh", model_config=config, train_config=frozen, options=options
    )
    scratch = load_file(fresh / "final" / "model.safetensors")
    assert max(float(np.abs(scratch[k] - before[k]).max()) for k in before) > 1e-2

    other = dataclasses.replace(config, gan=dataclasses.replace(config.gan, layers=config.gan.layers + 1))
    with pytest.raises(ValueError, match="differs"):
        train_vocoder(
            data=[data],
            out=tmp_path / "x",
            model_config=other,
            train_config=dataclasses.replace(frozen, init=str(base)),
            options=options,
        )

    cli = [
        sys.executable,
        "-m",
        "cantor.cli.main",
        "train",
        "vocoder",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "y"),
    ]
    for args, message in [
        (["--finetune", str(base), "--preset", "tiny-gan"], "leave out --preset"),
        (["--finetune", "no-such-vocoder"], "unknown model 'no-such-vocoder'"),
    ]:
        result = subprocess.run([*cli, *args], capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
