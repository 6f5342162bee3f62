"""The epoch loop shared by image pretraining, FGPLG training and video training.

Published behaviour kept: epochs numbered ``start_epoch .. epochs`` inclusive (``range(start,
epochs + 1)``: ``--epochs 50`` runs 51 epochs), a train and a val phase per epoch, Adam, the
best epoch by validation S-measure saved as a bare state dict
(``<prefix>_current_best_model.pth``), backups ``<prefix>_epoch-<n>.pth`` after every epoch
``n > 0`` divisible by ``backup_epochs``. Added: ``<prefix>_last_state.pth`` after every
epoch (model, optimizer, next epoch, best score, args) so ``--resume`` continues an
interrupted run losing at most the current epoch; mixed precision; DistributedDataParallel.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import torch
from torch import nn
from tqdm import tqdm

from libs.utils.checkpoint import save_model, save_training_state, unwrap_model
from libs.utils.distributed import DistributedContext, all_reduce_sum, barrier, seed_everything
from libs.utils.precision import autocast_context, autocast_dtype

__all__ = [
    "FitConfig",
    "fit",
    "build_adam",
    "wrap_for_training",
    "describe_metrics",
    "training_step",
]


@dataclass
class FitConfig:
    epochs: int
    save_folder: Path
    prefix: str
    start_epoch: int = 0
    backup_epochs: int = 1
    eval_first: bool = False
    amp: bool = False
    max_iters: Optional[int] = None  # per epoch; for smoke tests and quick runs
    grad_clip: Optional[float] = None
    best_name: Optional[str] = None  # file name of the best model; default <prefix>_current_best_model.pth
    state_extra: Optional[dict] = None  # stored in the last state beside the weights (FGPLG: its flow source)
    state_keys: Optional[Callable[[str], bool]] = None  # weights the last state keeps (default: all)
    seed: Optional[int] = None  # reseed every epoch from (seed, epoch, rank): a resumed epoch draws as a straight run


def build_adam(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


def wrap_for_training(model: nn.Module, ctx: DistributedContext) -> nn.Module:
    """Freeze the unused ImageNet classifier, move to the device, wrap in DDP under torchrun."""
    inner = unwrap_model(model)
    for name, p in inner.named_parameters():
        if ".resnet.fc." in f".{name}":  # never used by the saliency head; DDP needs no unused grads
            p.requires_grad_(False)
    model = model.to(ctx.device)
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model


def describe_metrics(metrics: Dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items())


def _needs_grad_scaler(device, amp):
    return amp and autocast_dtype(device) == torch.float16  # fp16's narrow range needs loss scaling; bf16's not


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, train_step, batch, *, device: torch.device,
                  amp: bool = False, scaler=None, grad_clip: Optional[float] = None) -> torch.Tensor:
    """One optimisation step: ``train_step(model, batch)`` under autocast, backward, step.

    Returns the (detached) loss computed before the update. ``scaler`` is a
    ``torch.amp.GradScaler`` for fp16 autocast (None for fp32 and bf16). Raises
    ``FloatingPointError`` on a non-finite loss, before touching the weights.
    """
    optimizer.zero_grad(set_to_none=True)
    with autocast_context(device, amp):
        loss = train_step(model, batch)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the training loss is {loss.item()}")
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return loss.detach()


def _train_epoch(model, loader, optimizer, train_step, cfg, ctx, epoch, scaler):
    if cfg.seed is not None:
        # Random draws in the main process (clip reversal, augmentation with -j 0) then depend on the
        # epoch only, so --resume repeats them; loader workers keep their own streams.
        seed_everything(cfg.seed + 1000 * epoch, ctx.rank)
    model.train()
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    total = len(loader) if cfg.max_iters is None else min(len(loader), cfg.max_iters)
    loss_sum, count = 0.0, 0
    bar = tqdm(loader, total=total, desc=f"epoch {epoch}/{cfg.epochs} train", disable=not ctx.is_main,
               leave=False, dynamic_ncols=True)
    for i, batch in enumerate(bar):
        if i >= total:
            break
        try:
            loss = training_step(model, optimizer, train_step, batch, device=ctx.device, amp=cfg.amp, scaler=scaler,
                                 grad_clip=cfg.grad_clip)
        except FloatingPointError as e:
            raise FloatingPointError(f"epoch {epoch}, iteration {i + 1}: {e}") from None
        loss_sum += loss.item()
        count += 1
        bar.set_postfix(loss=f"{loss_sum / count:.4f}")
    loss_sum, count = all_reduce_sum([loss_sum, count], ctx.device)
    return loss_sum / max(count, 1)


def _validate(model, validate, ctx):
    """Rank 0 validates the unwrapped model; the others wait."""
    metrics = None
    if ctx.is_main:
        inner = unwrap_model(model)
        was_training = inner.training
        inner.eval()
        with torch.inference_mode():
            metrics = validate(inner)
        inner.train(was_training)
    barrier()
    return metrics


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    train_step: Callable[[nn.Module, dict], torch.Tensor],
    validate: Callable[[nn.Module], Dict[str, float]],
    cfg: FitConfig,
    ctx: DistributedContext,
    args: Optional[dict] = None,
    best_score: float = -math.inf,
    log: Callable[[str], None] = print,
) -> Dict[str, float]:
    """Train epochs ``cfg.start_epoch .. cfg.epochs`` (inclusive, as published).

    Returns ``{'best_score', 'best_epoch', 'best_path', 'history', **last val metrics}``;
    ``history`` lists ``{'epoch', 'train_loss', 'val'}`` per epoch (the eval-first entry
    has epoch None and no train loss); val metrics exist on rank 0 only.

    ``train_step(model, batch)`` returns the loss to minimise; ``validate(model)`` returns
    metrics with at least ``S`` (higher is better) computed by :mod:`libs.metrics.saliency`.
    """
    save_folder = Path(cfg.save_folder)
    if ctx.is_main:
        save_folder.mkdir(parents=True, exist_ok=True)
    say = log if ctx.is_main else (lambda *_: None)
    scaler = torch.amp.GradScaler("cuda") if _needs_grad_scaler(ctx.device, cfg.amp) else None
    best_path = save_folder / (cfg.best_name or f"{cfg.prefix}_current_best_model.pth")
    best_epoch = None
    last, history = {}, []
    if cfg.eval_first:
        last = _validate(model, validate, ctx)
        history.append({"epoch": None, "val": last})
        say(f"[eval-first] val {describe_metrics(last)}")
    for epoch in range(cfg.start_epoch, cfg.epochs + 1):
        start = time.time()
        train_loss = _train_epoch(model, train_loader, optimizer, train_step, cfg, ctx, epoch, scaler)
        last = _validate(model, validate, ctx)
        history.append({"epoch": epoch, "train_loss": train_loss, "val": last})
        if ctx.is_main:
            improved = last["S"] > best_score
            if improved:
                best_score, best_epoch = last["S"], epoch
                save_model(model, best_path)
            if epoch > 0 and cfg.backup_epochs and epoch % cfg.backup_epochs == 0:
                save_model(model, save_folder / f"{cfg.prefix}_epoch-{epoch}.pth")
            save_training_state(save_folder / f"{cfg.prefix}_last_state.pth", model, optimizer,
                                epoch=epoch + 1, best_score=best_score, args=args or {},
                                keep=cfg.state_keys, **(cfg.state_extra or {}))
            say(f"epoch {epoch}/{cfg.epochs}: train loss={train_loss:.4f} val {describe_metrics(last)}"
                f"{' (best)' if improved else ''} [{time.time() - start:.0f}s]")
        barrier()
    return {"best_score": best_score, "best_epoch": best_epoch, "best_path": str(best_path), "history": history,
            **(last or {})}
