"""What the three training stages (pretrain, FGPLG, video) share around their own data and
loss: the process group, the model's starting weights or ``--resume`` state, the
optimizer, the data loaders and the epoch loop with its summary line.
"""
from __future__ import annotations

from typing import Callable, Optional

from libs.utils.checkpoint import load_checkpoint, load_training_state
from libs.utils.cli import UsageError
from libs.utils.distributed import cleanup_distributed, init_distributed, seed_everything
from libs.utils.precision import to_channels_last

from .common import load_model_weights, make_loader, set_aspp_dropout, subset
from .fit import FitConfig, build_adam, fit, wrap_for_training

__all__ = ["run_stage", "prepare_model", "make_loaders", "fit_stage"]


def run_stage(args, body: Callable, log=print):
    """``body(ctx, log)`` inside the process group (``torchrun``) or a single process.

    Every rank is seeded with ``--seed`` + rank; only rank 0 logs.
    """
    ctx = init_distributed(args.device)
    try:
        seed_everything(args.seed, ctx.rank)
        return body(ctx, log if ctx.is_main else (lambda *_: None))
    finally:
        cleanup_distributed()


def prepare_model(model, args, ctx, log, optional: Optional[Callable[[str], bool]] = None,
                  initialise: Optional[Callable[[], None]] = None, expect: Optional[dict] = None):
    """Starting weights, memory format, DDP wrapper and Adam for a training stage.

    ``--resume`` restores model, optimizer, next epoch and best score (``expect`` entries,
    e.g. FGPLG's flow source, must match the state's); otherwise ``initialise()`` when
    given, else ``--checkpoint`` loaded strictly but for the keys ``optional`` accepts as
    missing. Returns ``(model, optimizer, start_epoch, best_score)``.
    """
    set_aspp_dropout(model, args.aspp_dropout)
    start_epoch, best_score, state = args.start_epoch, float("-inf"), None
    if args.resume:
        state = load_training_state(args.resume)
        for key, value in (expect or {}).items():
            if state.get(key, value) != value:
                raise UsageError(f"{args.resume}: trained with --{key} {state[key]}, not --{key} {value}")
        load_checkpoint(model, state["state_dict"], strict=True, optional=optional)
        start_epoch, best_score = state["epoch"], state["best_score"]
        log(f"resuming {args.resume}: epochs up to {start_epoch - 1} done, best S-measure {best_score:.4f}")
    elif initialise is not None:
        initialise()
    else:
        load_model_weights(model, args.checkpoint, strict=True, optional=optional, log=log)
    if start_epoch > args.epochs:
        raise UsageError(f"--epochs {args.epochs}: epochs up to {start_epoch - 1} are already done, "
                         f"nothing to train (epochs run from --start-epoch to --epochs inclusive)")
    if args.channels_last:
        to_channels_last(model)  # Module.to(memory_format=...) raises on the non-local blocks' 5-D weights
    model = wrap_for_training(model, ctx)
    optimizer = build_adam(model, args.lr)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    return model, optimizer, start_epoch, best_score


def make_loaders(args, ctx, train_set, val_set, drop_last: bool = False):
    """Shuffled (and, under torchrun, sharded) training loader; validation loader for rank 0."""
    train_loader = make_loader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers,
                               ctx=ctx, seed=args.seed, drop_last=drop_last)
    val_loader = make_loader(subset(val_set, args.val_max_items), batch_size=args.batch_size, shuffle=False,
                             num_workers=args.num_workers, ctx=ctx, distributed=False)
    return train_loader, val_loader


def fit_stage(script: str, args, ctx, log, model, optimizer, train_loader, train_step, validate, *, prefix: str,
              start_epoch: int, best_score: float, **config) -> dict:
    """The epoch loop (:func:`libs.pipeline.fit.fit`) with the flags every stage shares."""
    cfg = FitConfig(epochs=args.epochs, save_folder=args.save_folder, prefix=prefix, start_epoch=start_epoch,
                    backup_epochs=args.backup_epochs, eval_first=args.eval_first, amp=args.amp,
                    max_iters=args.max_iters, seed=args.seed, **config)
    result = fit(model, optimizer, train_loader, train_step, validate, cfg, ctx, args=vars(args),
                 best_score=best_score, log=log)
    when = (f"epoch {result['best_epoch']}" if result["best_epoch"] is not None
            else "no epoch of this run improved on it")
    log(f"{script}: done; best val S-measure {result['best_score']:.4f} ({when}) -> {result['best_path']}")
    return result
