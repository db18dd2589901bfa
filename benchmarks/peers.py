"""Peers for the separation benchmark, trained from scratch on Cantor's data with a CPU-time budget. Not a test.

    .venv/bin/python benchmarks/peers.py --peer umx --data /work/data/band --out /work/runs/peer-umx-band \
        --cpu-minutes 180 --threads 1
    .venv/bin/python benchmarks/peers.py --peer convtasnet --data /work/data/band --out /work/runs/peer-tasnet-band \
        --cpu-minutes 180 --threads 1

* **Open-Unmix** — the ``openunmix`` package's ``OpenUnmix`` class (its default size: hidden 512, three BLSTM
  layers, n_fft 4096, hop 1024, bins up to 16 kHz), one model per source as in the paper, trained on magnitude MSE;
  sources from the estimated magnitudes as ratio masks on the mixture STFT (``niter=0``: no Wiener EM).
  ``openunmix`` imports torchaudio at module level; the benchmark never uses it, so a stub module stands in.
* **Conv-TasNet** — ``asteroid``'s ``ConvTasNet`` in the paper's configuration (N=512, L=16, B=128, H=512, P=3,
  X=8, R=3; gLN, sigmoid masks) at 44.1 kHz, stereo channels as separate items, trained on negative SI-SDR with
  the sources in fixed order (no permutation search: the stems have names).

The budget is the process's CPU time (``time.process_time``), so a peer gets the same compute however busy the
machine is. Checkpoints every few minutes; a re-run resumes. Install the peers with ``make bench-deps``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

from cantor.data.dataset import MultitrackDataset
from cantor.features.stft import ISTFT, STFT, STFTConfig
from cantor.files import write_json_atomic
from cantor.inference.chunked import apply_chunked, plan_chunks
from cantor.inference.wiener import wiener_filter
from cantor.metrics.sdr import si_sdr_tracks

UMX_STFT = STFTConfig(n_fft=4096, hop_length=1024)
SAMPLE_RATE = 44100
PEERS = ("umx", "convtasnet")


def _import_openunmix():
    # openunmix's package imports torchaudio (for file loading we never use); the model class needs only torch.
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    from openunmix.model import OpenUnmix

    return OpenUnmix


class UMXPeer(nn.Module):
    """One Open-Unmix per source. ``forward`` takes the mixture ``[batch, 2, T]`` → sources ``[batch, S, 2, T]``."""

    def __init__(self, sources: int) -> None:
        super().__init__()
        open_unmix = _import_openunmix()
        bins = UMX_STFT.n_bins
        max_bin = int(16000 / (SAMPLE_RATE / 2) * (bins - 1)) + 1
        self.stft, self.istft = STFT(UMX_STFT), ISTFT(UMX_STFT)
        self.targets = nn.ModuleList(
            open_unmix(nb_bins=bins, nb_channels=2, hidden_size=512, nb_layers=3, max_bin=max_bin)
            for _ in range(sources)
        )

    def magnitudes(self, mixture_spec: torch.Tensor) -> torch.Tensor:
        magnitude = mixture_spec.abs()  # (B, 2, F, N)
        return torch.stack([target(magnitude) for target in self.targets], dim=1)  # (B, S, 2, F, N)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        spec = self.stft(mixture)
        estimates = self.magnitudes(spec)
        masks = estimates / estimates.sum(dim=1, keepdim=True).clamp_min(1e-8)
        return self.istft(masks * spec[:, None], length=mixture.shape[-1])


class ConvTasNetPeer(nn.Module):
    """asteroid's Conv-TasNet, paper size, stereo as two mono items: ``[batch, 2, T]`` → ``[batch, S, 2, T]``."""

    def __init__(self, sources: int) -> None:
        super().__init__()
        from asteroid.models import ConvTasNet

        self.sources = sources
        self.net = ConvTasNet(n_src=sources, sample_rate=SAMPLE_RATE)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        batch, channels, length = mixture.shape
        out = self.net(mixture.reshape(batch * channels, length))[..., :length]  # (B·C, S, T)
        return out.reshape(batch, channels, self.sources, length).transpose(1, 2)


def build_peer(name: str, sources: int) -> nn.Module:
    if name == "umx":
        return UMXPeer(sources)
    if name == "convtasnet":
        return ConvTasNetPeer(sources)
    raise SystemExit(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")


def load_peer(folder: Path) -> tuple[nn.Module, dict]:
    info = json.loads((folder / "peer.json").read_text())
    model = build_peer(info["peer"], len(info["sources"]))
    model.load_state_dict(torch.load(folder / "last.pt", map_location="cpu", weights_only=True)["model"])
    return model.eval(), info


def separate_with_peer(model: nn.Module, mixture: torch.Tensor, *, wiener_iterations: int = 0) -> torch.Tensor:
    """Mixture ``[2, T]`` → ``[S, 2, T]`` in 10-s chunks with 1-s margins (Conv-TasNet at 44.1 kHz needs GBs for
    a whole song). ``wiener_iterations``: Open-Unmix's usual multichannel Wiener post-filter (its ``niter``)."""
    plan = plan_chunks(
        mixture.shape[-1], sample_rate=SAMPLE_RATE, segment_seconds=10.0, receptive_field=SAMPLE_RATE, align=1024
    )

    def run(chunk: torch.Tensor, _: int) -> torch.Tensor:
        sources = model(chunk[None])[0]
        if not wiener_iterations:
            return sources
        stft, istft = STFT(UMX_STFT), ISTFT(UMX_STFT)
        refined = wiener_filter(stft(chunk), stft(sources), iterations=wiener_iterations)
        return istft(refined, length=chunk.shape[-1])

    with torch.inference_mode():
        return apply_chunked(run, mixture, plan)


def _loss(name: str, model: nn.Module, mixture: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    if name == "umx":
        spec = model.stft(mixture)
        target = model.stft(sources).abs()  # (B, S, 2, F, N)
        return torch.mean((model.magnitudes(spec) - target) ** 2)
    return -si_sdr_tracks(model(mixture), sources).mean()


def _input_statistics(model: UMXPeer, loader, batches: int = 20) -> None:
    """Open-Unmix normalises its input by the training set's mean and scale per bin; estimate them from data."""
    frames = []
    for index, (mixture, _) in enumerate(loader):
        frames.append(model.stft(mixture).abs().mean(dim=1).transpose(1, 2).reshape(-1, UMX_STFT.n_bins))
        if index + 1 == batches:
            break
    values = torch.cat(frames)
    for target in model.targets:
        bins = target.nb_bins
        target.input_mean.data = -values[:, :bins].mean(dim=0)
        target.input_scale.data = 1.0 / values[:, :bins].std(dim=0).clamp_min(1e-5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", choices=PEERS, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", default="drums,bass,melody,other")
    parser.add_argument("--cpu-minutes", type=float, required=True, help="budget of process CPU time")
    parser.add_argument("--segment", type=float, default=None, help="seconds per crop (umx 3, convtasnet 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="(umx 8, convtasnet 2)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sources = tuple(args.sources.split(","))
    segment = args.segment or (3.0 if args.peer == "umx" else 1.0)
    batch_size = args.batch_size or (8 if args.peer == "umx" else 2)
    dataset = MultitrackDataset(
        args.data,
        split="train",
        sources=sources,
        segment_seconds=segment,
        remix=0.5,
        gain_db=(-6.0, 3.0),
        samples_per_epoch=200 * batch_size,
        seed=0,
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, drop_last=True)
    model = build_peer(args.peer, len(sources))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / "last.pt"
    state = {"step": 0, "cpu_seconds": 0.0, "epoch": 0, "losses": []}
    if checkpoint.is_file():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        state = saved["state"]
    elif args.peer == "umx":
        _input_statistics(model, loader)
    info = {
        "peer": args.peer,
        "sources": list(sources),
        "data": str(args.data),
        "segment": segment,
        "batch_size": batch_size,
        "command": " ".join(sys.argv),
        "parameters": sum(p.numel() for p in model.parameters()),
    }

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": state}, tmp)
        tmp.replace(checkpoint)
        write_json_atomic(args.out / "peer.json", {**info, **{k: v for k, v in state.items() if k != "losses"}})

    budget = args.cpu_minutes * 60
    cpu_start, last_save = time.process_time() - state["cpu_seconds"], time.monotonic()
    model.train()
    while state["cpu_seconds"] < budget:
        dataset.set_epoch(state["epoch"])
        for mixture, targets in loader:
            loss = _loss(args.peer, model, mixture, targets)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            state["step"] += 1
            state["cpu_seconds"] = time.process_time() - cpu_start
            state["losses"].append(round(loss.item(), 5))
            if state["step"] % 10 == 0:
                print(
                    f"step {state['step']} loss {loss.item():.4f} cpu {state['cpu_seconds'] / 60:.1f} min",
                    file=sys.stderr,
                )
            if time.monotonic() - last_save > args.checkpoint_minutes * 60:
                save()
                last_save = time.monotonic()
            if state["cpu_seconds"] >= budget:
                break
        state["epoch"] += 1
    save()
    print(f"{args.peer}: {state['step']} steps in {state['cpu_seconds'] / 3600:.2f} CPU-hours → {checkpoint}")


if __name__ == "__main__":
    main()
