"""Named presets: a model architecture and the training recipe that goes with it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from cantor.data.band_grid import BandGridConverter
from cantor.data.corpus import CHORALE_VOICES
from cantor.data.symbolic import VoiceGridConverter
from cantor.features.cqt import CQTConfig
from cantor.features.mel import MelConfig
from cantor.features.stft import STFTConfig
from cantor.models.generator import GeneratorConfig
from cantor.models.instrument import InstrumentClassifierConfig
from cantor.models.separator import SeparatorConfig
from cantor.models.stem_vae import StemVAEConfig
from cantor.models.transcriber import TranscriberConfig
from cantor.models.vocoder import GANVocoderConfig, VocoderConfig, WaveFlowConfig
from cantor.nn.tcn import TCNConfig
from cantor.nn.vae import BottleneckConfig
from cantor.train.losses import MRSTFT_RESOLUTIONS

BAND_SOURCES = ("drums", "bass", "melody", "other")
CHORALE_SOURCES = CHORALE_VOICES


@dataclass(frozen=True)
class SeparatorTrainConfig:
    """How a separator is trained. Loss weights by name: α (reconstruction) = ``spectral_l1``/``waveform_l1``,
    β (KL) = ``kl``, annealed from 0 over ``kl_warmup_steps``; ``adversarial``/``feature_matching`` need the
    discriminator."""

    segment_seconds: float = 3.0
    batch_size: int = 8
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    warmup_steps: int = 100
    max_steps: int = 4000
    losses: dict[str, float] = field(default_factory=lambda: {"spectral_l1": 1.0, "waveform_l1": 5.0, "kl": 1e-3})
    kl_warmup_steps: int = 500
    free_bits: float = 0.05
    discriminator: bool = False
    discriminator_width: int = 32
    discriminator_learning_rate: float = 2e-4
    adversarial_start_step: int = 300
    remix: float = 0.5
    gain_db: tuple[float, float] = (-6.0, 3.0)
    eq_db: float = 0.0  # a random smooth equaliser of up to ±eq_db on each source of a training crop (0: none)
    val_every_steps: int = 250
    val_items: int = 24
    val_segment_seconds: float = 10.0
    checkpoint_minutes: float = 5.0
    grad_clip: float = 5.0
    seed: int = 0
    num_workers: int = 1
    init: str | None = None  # fine-tuning: the separator (shipped name or folder) whose weights training starts from


def _small(sources: tuple[str, ...]) -> SeparatorConfig:
    return SeparatorConfig(
        sources=sources,
        hidden=192,
        encoder_tcn=TCNConfig(channels=192, hidden=384, dilations=(1, 2, 4, 8, 16), repeats=2),
        decoder_tcn=TCNConfig(channels=192, hidden=384, dilations=(1, 2, 4, 8), repeats=1),
        bottleneck=BottleneckConfig(kind="vae", latent_dim=64),
    )


_TINY = SeparatorConfig(
    sources=("a", "b"),
    sample_rate=8000,
    stft=STFTConfig(n_fft=256, hop_length=64),
    hidden=32,
    encoder_tcn=TCNConfig(channels=32, hidden=64, dilations=(1, 2, 4), repeats=1),
    decoder_tcn=TCNConfig(channels=32, hidden=64, dilations=(1, 2), repeats=1),
    bottleneck=BottleneckConfig(kind="vae", latent_dim=8),
)

_TINY_TRAIN = SeparatorTrainConfig(
    segment_seconds=0.5,
    batch_size=4,
    learning_rate=3e-3,
    warmup_steps=10,
    max_steps=200,
    kl_warmup_steps=50,
    val_every_steps=100,
    val_items=4,
    val_segment_seconds=0.5,
    num_workers=0,
)

# The vocoders' sizes, here because a separator variant reuses them: its reconstruction network is a GAN vocoder.
_GAN_SMALL = GANVocoderConfig(dim=256, intermediate=768, layers=8)
_TINY_MEL = MelConfig(sample_rate=8000, stft=STFTConfig(n_fft=256, hop_length=64), n_mels=32)
_TINY_GAN = GANVocoderConfig(mel=_TINY_MEL, dim=32, intermediate=64, layers=2)

SEPARATOR_PRESETS: dict[str, tuple[SeparatorConfig, SeparatorTrainConfig]] = {
    "band-small": (_small(BAND_SOURCES), SeparatorTrainConfig()),
    "chorale-small": (_small(CHORALE_SOURCES), SeparatorTrainConfig()),
    # Ablations of band-small: one change each.
    "band-small-lstm": (dataclasses.replace(_small(BAND_SOURCES), encoder="lstm"), SeparatorTrainConfig()),
    "band-small-deterministic": (
        dataclasses.replace(_small(BAND_SOURCES), bottleneck=BottleneckConfig(kind="deterministic", latent_dim=64)),
        SeparatorTrainConfig(losses={"spectral_l1": 1.0, "waveform_l1": 5.0}),
    ),
    "band-small-gmm": (
        dataclasses.replace(_small(BAND_SOURCES), bottleneck=BottleneckConfig(latent_dim=64, prior="gmm")),
        SeparatorTrainConfig(),
    ),
    "band-small-gan": (
        _small(BAND_SOURCES),
        SeparatorTrainConfig(
            discriminator=True,
            losses={"spectral_l1": 1.0, "waveform_l1": 5.0, "kl": 1e-3, "adversarial": 0.05, "feature_matching": 0.5},
        ),
    ),
    # The reconstruction network is the gan-small vocoder (start it from the shipped one with --init-vocoder gan).
    "band-small-vocoder": (
        dataclasses.replace(_small(BAND_SOURCES), reconstruction="vocoder", vocoder=_GAN_SMALL),
        SeparatorTrainConfig(),
    ),
    # For tests and smoke runs: trains in seconds on toy data.
    "tiny-vocoder": (dataclasses.replace(_TINY, reconstruction="vocoder", vocoder=_TINY_GAN), _TINY_TRAIN),
    "tiny": (_TINY, _TINY_TRAIN),
}


# Fine-tuning a trained separator (--finetune): a tenth of the learning rate, a short warm-up, and the KL term at
# its full weight from the start (the latent is already shaped; annealing it from 0 again would loosen it).
SEPARATOR_FINETUNE = {"learning_rate": 1e-4, "final_learning_rate": 1e-5, "warmup_steps": 50, "kl_warmup_steps": 1}


def separator_preset(name: str, *, sources: tuple[str, ...] | None = None):
    """(model config, train config) of a preset; ``sources`` overrides the preset's stem names."""
    model, train = _look_up(SEPARATOR_PRESETS, "separator preset", name)
    if sources is not None:
        model = dataclasses.replace(model, sources=tuple(sources))
    return model, train


@dataclass(frozen=True)
class VocoderTrainConfig:
    """How a vocoder is trained. GAN: reconstruction terms (``mel_l1``, ``mrstft``) alone until
    ``adversarial_start_step``, then with ``adversarial`` and ``feature_matching``. WaveFlow: ``nll`` (maximum
    likelihood); its validation also decodes at ``temperature`` for the mel distance."""

    segment_samples: int = 16384
    batch_size: int = 8
    learning_rate: float = 5e-4
    final_learning_rate: float = 5e-5
    warmup_steps: int = 100
    max_steps: int = 20000
    losses: dict[str, float] = field(default_factory=lambda: {"mel_l1": 15.0, "mrstft": 1.0})
    adversarial_start_step: int = 0  # 0 with no adversarial losses: never
    # The mrstft term's (n_fft, hop) pairs in training (validation keeps the default three, to stay comparable).
    stft_resolutions: tuple[tuple[int, int], ...] = MRSTFT_RESOLUTIONS
    discriminator_width: int = 16
    discriminator_learning_rate: float = 2e-4
    discriminator_highpass_hz: float = 0.0  # the discriminators judge only what lies above this (0: the whole band)
    temperature: float = 0.8
    val_every_steps: int = 500
    val_items: int = 16
    val_segment_samples: int = 65536
    checkpoint_minutes: float = 5.0
    grad_clip: float = 10.0
    seed: int = 0
    num_workers: int = 1
    init: str | None = None  # fine-tuning: the vocoder (shipped name or folder) whose weights training starts from

    @property
    def adversarial(self) -> bool:
        return bool(self.losses.get("adversarial") or self.losses.get("feature_matching"))


_GAN_LOSSES = {"mel_l1": 15.0, "mrstft": 1.0, "adversarial": 1.0, "feature_matching": 2.0}
_WAVEFLOW_SMALL = WaveFlowConfig(height=8, flows=4, layers=5, channels=24, condition_dim=32)
_TINY_WAVEFLOW = WaveFlowConfig(mel=_TINY_MEL, height=8, flows=2, layers=3, channels=16, condition_dim=16)
_TINY_WAVEFLOW_TRAIN = VocoderTrainConfig(
    segment_samples=2048,
    batch_size=4,
    learning_rate=3e-3,
    warmup_steps=5,
    max_steps=60,
    losses={"nll": 1.0},
    val_every_steps=30,
    val_items=2,
    val_segment_samples=4096,
    num_workers=0,
)
_WAVEFLOW_TRAIN = VocoderTrainConfig(
    segment_samples=8192,
    batch_size=4,
    losses={"nll": 1.0},
    learning_rate=5e-4,
    final_learning_rate=5e-5,
    grad_clip=50.0,
    val_items=8,
    val_segment_samples=32768,
)

_TINY_GAN_TRAIN = VocoderTrainConfig(
    segment_samples=2048,
    batch_size=4,
    learning_rate=3e-3,
    warmup_steps=5,
    max_steps=60,
    losses={"mel_l1": 15.0, "mrstft": 1.0, "adversarial": 1.0, "feature_matching": 2.0},
    adversarial_start_step=40,
    discriminator_width=4,
    val_every_steps=30,
    val_items=2,
    val_segment_samples=4096,
    num_workers=0,
)

VOCODER_PRESETS: dict[str, tuple[VocoderConfig, VocoderTrainConfig]] = {
    # iSTFT-head GAN vocoder, 44.1 kHz full band; reconstruction warm-up, then adversarial fine-tuning.
    "gan-small": (
        VocoderConfig(family="gan", gan=_GAN_SMALL),
        VocoderTrainConfig(losses=_GAN_LOSSES, adversarial_start_step=3000),
    ),
    # WaveFlow, h = 8: autoregressive over 8 rows; 4 flows of 5 layers, C = 24 residual channels, D = 32. Small
    # because a flow at 44.1 kHz pays for every sample: at C = 48 one training step took ~30 s on one core.
    "waveflow-small": (
        VocoderConfig(family="waveflow", waveflow=_WAVEFLOW_SMALL),
        _WAVEFLOW_TRAIN,
    ),
    # The same WaveFlow with the non-local block: attention over ±8 conditioning frames.
    "waveflow-small-attention": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_WAVEFLOW_SMALL, attention_window=8)),
        _WAVEFLOW_TRAIN,
    ),
    # waveflow-small-attention with 4 samples per cell (WaveGlow's squeeze into channels): the network runs once per
    # 4 samples, so sampling is ~4× cheaper; batches 4× as large keep one training step's cost.
    "waveflow-small-grouped": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_WAVEFLOW_SMALL, attention_window=8, group=4)),
        dataclasses.replace(_WAVEFLOW_TRAIN, batch_size=16),
    ),
    # … and with 8 samples per cell (~8× cheaper to sample than waveflow-small-attention).
    "waveflow-small-grouped8": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_WAVEFLOW_SMALL, attention_window=8, group=8)),
        dataclasses.replace(_WAVEFLOW_TRAIN, batch_size=32),
    ),
    # The special cases: h = 2 couples two groups of samples (WaveGlow-like), h = 64 is WaveNet-like.
    "waveglow-like": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_WAVEFLOW_SMALL, height=2, flows=6)),
        _WAVEFLOW_TRAIN,
    ),
    "wavenet-like": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_WAVEFLOW_SMALL, height=64, flows=2)),
        _WAVEFLOW_TRAIN,
    ),
    # gan-small with held phase, so held notes keep their pitch (see GANVocoder); plus an 8192-point STFT (5.4 Hz
    # bins at 44.1 kHz: a partial a few hertz off shows there, not at 2048) and the head's magnitudes held to the
    # clip's STFT, at 10 (the held phase reads each partial's frequency off them)
    "gan-small-held": (
        VocoderConfig(family="gan", gan=dataclasses.replace(_GAN_SMALL, phase="held")),
        VocoderTrainConfig(
            losses={**_GAN_LOSSES, "stft_magnitude": 10.0},
            adversarial_start_step=3000,
            stft_resolutions=(*MRSTFT_RESOLUTIONS, (8192, 2048)),
        ),
    ),
    # Seconds-long configs for tests and smoke runs (8 kHz).
    "tiny-gan": (VocoderConfig(family="gan", gan=_TINY_GAN), _TINY_GAN_TRAIN),
    "tiny-gan-held": (VocoderConfig(family="gan", gan=dataclasses.replace(_TINY_GAN, phase="held")), _TINY_GAN_TRAIN),
    "tiny-waveflow": (VocoderConfig(family="waveflow", waveflow=_TINY_WAVEFLOW), _TINY_WAVEFLOW_TRAIN),
    "tiny-waveflow-grouped": (
        VocoderConfig(family="waveflow", waveflow=dataclasses.replace(_TINY_WAVEFLOW, group=2)),
        _TINY_WAVEFLOW_TRAIN,
    ),
}


# Fine-tuning a trained vocoder: the discriminators (new) join at once, at a lower rate than training from scratch.
VOCODER_FINETUNE = {
    "learning_rate": 2e-4,
    "final_learning_rate": 2e-5,
    "warmup_steps": 50,
    "max_steps": 3000,
    "adversarial_start_step": 0,
}


def vocoder_preset(name: str) -> tuple[VocoderConfig, VocoderTrainConfig]:
    """(model config, train config) of a vocoder preset."""
    return _look_up(VOCODER_PRESETS, "vocoder preset", name)


# --- analysis: the note transcriber and the instrument classifier ----------------------------------------------


@dataclass(frozen=True)
class AnalysisTrainConfig:
    """How a transcriber or instrument classifier is trained on cached stem CQTs (:mod:`cantor.data.stems`).

    Loss weights by name: the transcriber's ``onset``/``frame``/``offset`` (binary cross-entropy per key), the
    classifier's ``family``/``program`` (cross-entropy). Crops get the rest of their song mixed in at
    ``leakage_db`` with probability ``leakage_probability``, as separated stems do, a random smooth equaliser
    curve of up to ±``eq_db`` on the stem itself (0: none), and a random shift of its spectrum by up to
    ``shift_bins`` CQT bins (0: none; see :class:`~cantor.data.stems.StemCropDataset`).
    """

    crop_frames: int = 256
    batch_size: int = 16
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    warmup_steps: int = 100
    max_steps: int = 3000
    losses: dict[str, float] = field(default_factory=dict)
    leakage_db: tuple[float, float] = (-30.0, -10.0)
    leakage_probability: float = 0.7
    gain_db: tuple[float, float] = (-12.0, 6.0)
    eq_db: float = 0.0
    shift_bins: int = 0
    songs: int | None = None  # per data folder and split; None: all
    val_every_steps: int = 250
    val_items: int = 96
    val_crop_frames: int = 512
    checkpoint_minutes: float = 5.0
    grad_clip: float = 5.0
    seed: int = 0
    num_workers: int = 0
    init: str | None = None  # fine-tuning: the model (shipped name or folder) whose weights training starts from


NOTE_LOSSES = {"onset": 1.0, "frame": 1.0, "offset": 0.5}
INSTRUMENT_LOSSES = {"family": 1.0, "program": 0.5}
_TINY_CQT = CQTConfig(sample_rate=8000, hop_length=128, lowest_midi=36, semitones=48)
_TINY_ANALYSIS_TRAIN = AnalysisTrainConfig(
    crop_frames=64,
    batch_size=8,
    learning_rate=3e-3,
    warmup_steps=10,
    max_steps=150,
    leakage_probability=0.0,
    gain_db=(-3.0, 3.0),
    val_every_steps=50,
    val_items=8,
    val_crop_frames=64,
)

TRANSCRIBER_PRESETS: dict[str, tuple[TranscriberConfig, AnalysisTrainConfig]] = {
    "transcriber-small": (TranscriberConfig(), AnalysisTrainConfig(losses=NOTE_LOSSES)),
    "tiny-transcriber": (
        TranscriberConfig(cqt=_TINY_CQT, channels=8, key_channels=8, hidden=32, embedding=64),
        dataclasses.replace(_TINY_ANALYSIS_TRAIN, losses=NOTE_LOSSES),
    ),
}
INSTRUMENT_PRESETS: dict[str, tuple[InstrumentClassifierConfig, AnalysisTrainConfig]] = {
    # The classifier gets the random equaliser: fine-tuned with it (two runs, 5500 steps), unseen-font family
    # accuracy rose from 0.80 to 0.81 (band) and 0.87 to 0.925 (chorale); the transcriber fine-tuned with it lost
    # raw pitch on the unseen font (0.94 → 0.92), so its preset has none. Then the spectrum shift (up to a
    # semitone, as a soundfont resamples its recorded notes): fine-tuned with both (3000 steps), unseen-font band
    # family 0.812 → 0.838, chorale unchanged (0.925). Then a stronger equaliser (±12 dB), chosen on validation
    # stems over a wider shift (±2 semitones) and a random time-stretch, which both lost stems in the held-out font.
    "classifier-small": (
        InstrumentClassifierConfig(),
        AnalysisTrainConfig(losses=INSTRUMENT_LOSSES, eq_db=12.0, shift_bins=3),
    ),
    "tiny-classifier": (
        InstrumentClassifierConfig(cqt=_TINY_CQT, channels=(8, 8), hidden=16, layers=2),
        dataclasses.replace(_TINY_ANALYSIS_TRAIN, losses=INSTRUMENT_LOSSES),
    ),
}


def analysis_preset(task: str, name: str):
    """``task`` "transcriber" or "classifier" → ``(model config, AnalysisTrainConfig)``."""
    return _look_up(TRANSCRIBER_PRESETS if task == "transcriber" else INSTRUMENT_PRESETS, f"{task} preset", name)


# Fine-tuning a trained analysis model on new data (e.g. more soundfonts): a third of the learning rate, a short
# warm-up (the optimiser's moments start from zero) and fewer steps; the base's architecture is kept.
ANALYSIS_FINETUNE = {"learning_rate": 3e-4, "warmup_steps": 50, "max_steps": 1500}


# --- the symbolic generator --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorTrainConfig:
    """How the LSTM-VAE is trained on the corpus windows that hold its voices (chorales for SATB, folk tunes for a
    melody), split by tune like the audio data.

    Loss per window: token cross-entropy + β · max(KL − ``free_nats``, 0), β rising linearly from 0 to
    ``kl_weight`` over the first ``kl_warmup_fraction`` of the steps (KL annealing; free bits let the latent carry
    that many nats at no cost, as in MusicVAE). ``previous_dropout`` blanks the decoder's previous-step input at
    that rate. Windows are transposed by up to ±``transpose`` semitones.
    """

    batch_size: int = 128
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    warmup_steps: int = 200
    max_steps: int = 20000
    kl_weight: float = 0.2
    kl_warmup_fraction: float = 0.25
    free_nats: float = 32.0
    previous_dropout: float = 0.2
    transpose: int = 6
    hop_bars: int = 1
    pieces: int | None = None  # the first N usable pieces per split; None: all
    arrangements: int = 4  # band style: band scores drawn per corpus piece (each its own harmony, bass and groove)
    init: str | None = None  # fine-tuning: the generator (name or folder) to start from
    anchor_weight: float = 0.0  # fine-tuning: weight of the squared distance to the starting weights
    val_every_steps: int = 500
    val_sampled_items: int = 64  # validation windows also decoded free-running (slow: a step at a time)
    checkpoint_minutes: float = 5.0
    grad_clip: float = 1.0
    seed: int = 0
    num_workers: int = 0


_CHORALE_GENERATOR = GeneratorConfig(
    converter=VoiceGridConverter(voices=CHORALE_VOICES, low=28, high=96, bars=4),
    embedding=32,
    encoder_hidden=256,
    latent=128,
    conductor_hidden=256,
    bar_embedding=128,
    decoder_hidden=384,
    decoder_layers=2,
    dropout=0.2,
)

GENERATOR_PRESETS: dict[str, tuple[GeneratorConfig, GeneratorTrainConfig]] = {
    # Four-voice chorales (soprano, alto, tenor, bass), 4-bar windows.
    "chorale": (_CHORALE_GENERATOR, GeneratorTrainConfig()),
    # Folk melodies (one voice), 4-bar windows; the range of a tin whistle to a fiddle's low strings.
    "folk": (
        dataclasses.replace(
            _CHORALE_GENERATOR, converter=VoiceGridConverter(voices=("melody",), low=48, high=96, bars=4)
        ),
        GeneratorTrainConfig(free_nats=16.0),
    ),
    # A band (melody, bass, chords, drums) arranged from the folk tunes and chorales in 4/4 and 2/2, 4-bar windows.
    "band": (
        dataclasses.replace(_CHORALE_GENERATOR, converter=BandGridConverter(low=24, high=96, bars=4)),
        GeneratorTrainConfig(free_nats=48.0),
    ),
    # For tests and smoke runs: learns a handful of chorales in seconds.
    "tiny-generator": (
        GeneratorConfig(
            converter=VoiceGridConverter(voices=CHORALE_VOICES, bars=2),
            embedding=8,
            encoder_hidden=64,
            latent=16,
            conductor_hidden=32,
            bar_embedding=32,
            decoder_hidden=128,
            decoder_layers=1,
        ),
        GeneratorTrainConfig(
            batch_size=16,
            learning_rate=1e-2,
            warmup_steps=10,
            max_steps=240,
            kl_weight=0.001,
            free_nats=0.0,
            previous_dropout=0.0,
            transpose=0,
            hop_bars=4,
            pieces=3,
            val_every_steps=120,
            val_sampled_items=4,
        ),
    ),
}


# Going on training a generator on its own corpus (`--start-from`, e.g. to grow a term it lacks): the base's latent
# is already shaped, so β in full from the first step (a ramp from 0 would let the KL balloon) and a gentler rate.
GENERATOR_EXTEND = {"learning_rate": 3e-4, "warmup_steps": 50, "kl_warmup_fraction": 0.0}


# Fine-tuning a shipped generator on 5–20 of the user's pieces: a few hundred small steps, full β from the start
# (the base's latent is already shaped), and a pull towards the base weights so it keeps writing coherent music;
# the held-out piece chooses the checkpoint.
GENERATOR_FINETUNE = GeneratorTrainConfig(
    batch_size=32,
    learning_rate=3e-4,
    final_learning_rate=3e-5,
    warmup_steps=20,
    max_steps=300,
    kl_warmup_fraction=0.0,
    free_nats=16.0,
    anchor_weight=1e-2,
    val_every_steps=50,
    val_sampled_items=8,
)


def generator_preset(name: str) -> tuple[GeneratorConfig, GeneratorTrainConfig]:
    """(model config, train config) of a generator preset; the name is the style it writes."""
    return _look_up(GENERATOR_PRESETS, "generator style", name)


# --- the stem VAE (audio variations) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StemVAETrainConfig:
    """How the stem VAE learns: log-mel L1 + β · KL, β rising linearly from 0 to ``kl_weight`` over the first
    ``kl_warmup_fraction`` of the steps; ``free_bits`` nats per latent dimension and frame cost nothing. Crops of
    ``segment_frames`` mel frames of any stem or mixture."""

    segment_frames: int = 128
    batch_size: int = 16
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    warmup_steps: int = 100
    max_steps: int = 5000
    kl_weight: float = 0.02
    kl_warmup_fraction: float = 0.3
    free_bits: float = 0.05
    val_every_steps: int = 250
    val_items: int = 32
    checkpoint_minutes: float = 5.0
    grad_clip: float = 5.0
    seed: int = 0
    num_workers: int = 1


STEM_VAE_PRESETS: dict[str, tuple[StemVAEConfig, StemVAETrainConfig]] = {
    # 128 channels (TCN blocks of 256), a latent of 32 every 4 frames (46 ms): ~1 s a step on one CPU core.
    "stem-vae-small": (
        StemVAEConfig(
            hidden=128,
            encoder_tcn=TCNConfig(hidden=256, dilations=(1, 2, 4, 8), repeats=2),
            decoder_tcn=TCNConfig(hidden=256, dilations=(1, 2, 4, 8), repeats=2),
        ),
        StemVAETrainConfig(),
    ),
    # 256 channels (TCN blocks of 512), the same latent: for a GPU, on a mel pack (recipes/stem_vae_on_gpu.sh).
    "stem-vae": (StemVAEConfig(), StemVAETrainConfig(batch_size=32, max_steps=20000, val_every_steps=500)),
    # For tests and smoke runs.
    "tiny-stem-vae": (
        StemVAEConfig(
            hidden=32,
            encoder_tcn=TCNConfig(hidden=64, dilations=(1, 2), repeats=1),
            bottleneck=BottleneckConfig(latent_dim=8),
            decoder_tcn=TCNConfig(hidden=64, dilations=(1, 2), repeats=1),
        ),
        StemVAETrainConfig(
            segment_frames=32,
            batch_size=4,
            max_steps=20,
            val_every_steps=10,
            val_items=4,
            warmup_steps=2,
            num_workers=0,
        ),
    ),
}


def stem_vae_preset(name: str) -> tuple[StemVAEConfig, StemVAETrainConfig]:
    """(model config, train config) of a stem VAE preset."""
    return _look_up(STEM_VAE_PRESETS, "stem VAE preset", name)


def _look_up(presets: dict, what: str, name: str):
    if name not in presets:
        raise KeyError(f"unknown {what} {name!r}; choose from {', '.join(presets)}")
    return presets[name]
