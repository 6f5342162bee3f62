"""Slow, obvious reference loops for the saliency measures, written from their papers.

Used by tests/test_metric_formulas.py (and tests/test_davsod_stretch.py) to pin what the
project reports (pysodmetrics 1.6.2 underneath) to the formulas; nothing here calls
pysodmetrics or ``libs.metrics``. Each function's docstring names the paper and the formula.

The papers leave a few conventions open; the ones taken, and from where:

- Input (pysodmetrics ``utils.prepare_data``, which mimics the MATLAB tools' ``im2double``
  + ``mapminmax``): GT foreground is ``gt > 128``; the prediction is ``v / 255``, min-max
  stretched to [0, 1] unless it is constant (MATLAB's ``mapminmax`` leaves a constant row
  unchanged too), computed as ``(p - min) / (max - min)`` in float64. That order of
  operations decides the 1-ulp ties at thresholds (docs/evaluation.md, "What the toolbox
  leaves open"), so :func:`prepare` does the same operations.
- Threshold curves (maxF, meanF, maxE, meanE): 256 thresholds t = 255, ..., 0 on the
  quantised map ``floor(255 * p)``, foreground where ``>= t`` (pysodmetrics'
  ``FmeasureV2.dynamically_binarizing`` and ``Emeasure.cal_em_with_cumsumhistogram``). The
  per-frame curves are averaged over a video's frames; maxX / meanX are the max / mean of
  that mean curve (how the project reports them: libs/metrics/saliency.py).
- ``EPS`` is MATLAB's ``eps`` (``np.spacing(1)``), which the authors' MATLAB code adds to
  denominators; pysodmetrics keeps it.
- The S-measure's centroid rounding and the weighted F's nearest-GT-pixel choice: see
  :func:`s_measure_ref` and :func:`weighted_f_ref`.
"""
import math

import numpy as np

__all__ = ["EPS", "THRESHOLDS", "prepare", "quantised", "mae_ref", "f_beta", "f_curve_ref", "adaptive_f_ref",
           "object_score", "s_measure_ref", "enhanced_alignment", "e_curve_ref", "gaussian_7x7", "weighted_f_ref",
           "reference"]

EPS = np.spacing(1)
THRESHOLDS = range(255, -1, -1)  # curve index i <-> threshold 255 - i


def prepare(pred_u8, gt_u8):
    """pysodmetrics' input convention, element by element: (stretched float map, bool GT)."""
    p = [[v / 255 for v in row] for row in pred_u8.tolist()]
    flat = [v for row in p for v in row]
    lo, hi = min(flat), max(flat)
    if hi != lo:
        p = [[(v - lo) / (hi - lo) for v in row] for row in p]
    gt = [[v > 128 for v in row] for row in gt_u8.tolist()]
    return np.array(p, dtype=np.float64), np.array(gt, dtype=bool)


def quantised(p):
    """``floor(255 * p)`` per pixel (the 8-bit map the threshold curves count on)."""
    return np.array([[math.floor(255 * v) for v in row] for row in p.tolist()], dtype=np.int64)


def pixels(*maps):
    """Per pixel, the values of ``maps`` (row-major), as Python scalars."""
    return zip(*(m.ravel().tolist() for m in maps))


def mae_ref(p, gt):
    """Perazzi et al., CVPR 2012 (Saliency Filters), the mean absolute error:
    MAE = 1/(W H) sum_xy |S(x, y) - G(x, y)|."""
    return sum(abs(v - float(g)) for v, g in pixels(p, gt)) / p.size


def f_beta(fg, gt, beta2=0.3):
    """Achanta et al., CVPR 2009: F_beta = (1 + beta^2) P R / (beta^2 P + R), beta^2 = 0.3 (the
    field's choice since that paper); P = TP / (TP + FP), R = TP / (TP + FN), 0/0 read as 0."""
    tp = fp = fn = 0
    for f, g in pixels(fg, gt):
        tp += f and g
        fp += f and not g
        fn += g and not f
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return (1 + beta2) * precision * recall / (beta2 * precision + recall)


def f_curve_ref(p, gt):
    q = quantised(p)
    return np.array([f_beta(q >= t, gt) for t in THRESHOLDS])


def adaptive_f_ref(p, gt):
    """Achanta et al., CVPR 2009 (Frequency-tuned salient region detection): the adaptive
    threshold is twice the mean saliency (capped at 1, as the MATLAB ``Fmeasure_calu.m`` and
    pysodmetrics do), compared with ``>=`` on the unquantised map."""
    threshold = min(2 * sum(v for (v,) in pixels(p)) / p.size, 1.0)
    return f_beta(p >= threshold, gt)


def _std(values):
    """MATLAB ``std`` (N - 1 normalisation); 0 for one value."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def object_score(values):
    """Fan et al., ICCV 2017 (Structure-measure), object-aware term: O = 2 x_mean / (x_mean^2 + 1 + 2 lambda sigma_x),
    lambda = 0.5, on the prediction inside the GT (O_FG) or 1 - prediction outside it (O_BG)."""
    mean = sum(values) / len(values)
    return 2 * mean / (mean**2 + 1 + _std(values) + EPS)


def _ssim(x, y):
    """Fan et al., ICCV 2017 (Structure-measure), region-aware term, its SSIM form: q = 4 x_mean y_mean sigma_xy /
    ((x_mean^2 + y_mean^2)(sigma_x^2 + sigma_y^2)) on one region; the MATLAB ``ssim.m`` cases
    for a zero numerator (1 when the denominator is 0 too, else 0)."""
    n = len(x)
    assert n > 0, "the reference needs four non-empty quadrants"
    mx, my = sum(x) / n, sum(y) / n
    sx = sum((a - mx) ** 2 for a in x) / (n - 1 + EPS)
    sy = sum((b - my) ** 2 for b in y) / (n - 1 + EPS)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y)) / (n - 1 + EPS)
    num, den = 4 * mx * my * sxy, (mx**2 + my**2) * (sx + sy)
    if num != 0:
        return num / (den + EPS)
    return 1.0 if den == 0 else 0.0


def s_measure_ref(p, gt, alpha=0.5):
    """Fan et al., ICCV 2017: S = alpha S_o + (1 - alpha) S_r, alpha = 0.5, clipped at 0
    (MATLAB ``StructureMeasure.m``); S = 1 - mean(p) for an empty GT and mean(p) for a full one."""
    h, w = gt.shape
    values = [(v, bool(g)) for v, g in pixels(p, gt)]
    mu = sum(g for _, g in values) / len(values)
    if mu == 0:
        return 1 - sum(v for v, _ in values) / len(values)
    if mu == 1:
        return sum(v for v, _ in values) / len(values)
    # S_o = mu O_FG + (1 - mu) O_BG
    s_object = (mu * object_score([v for v, g in values if g])
                + (1 - mu) * object_score([1 - v for v, g in values if not g]))
    # S_r: four regions split at the GT centroid, weighted by their area. Centroid: the mean
    # row / column of the GT pixels (0-based) rounded half to even, plus one, so that the
    # split row/column belongs to the top/left regions (pysodmetrics' reading of MATLAB
    # centroid.m; the two round a half-integer centroid differently).
    rows = [i for i in range(h) for j in range(w) if gt[i, j]]
    cols = [j for i in range(h) for j in range(w) if gt[i, j]]
    y, x = round(sum(rows) / len(rows)) + 1, round(sum(cols) / len(cols)) + 1
    s_region = 0.0
    for r0, r1, c0, c1 in ((0, y, 0, x), (0, y, x, w), (y, h, 0, x), (y, h, x, w)):
        px = [p[i, j] for i in range(r0, r1) for j in range(c0, c1)]
        gx = [float(gt[i, j]) for i in range(r0, r1) for j in range(c0, c1)]
        s_region += (r1 - r0) * (c1 - c0) / (h * w) * _ssim(px, gx)
    return max(0.0, alpha * s_object + (1 - alpha) * s_region)


def enhanced_alignment(fm, gt):
    """Fan et al., IJCAI 2018 (Enhanced-alignment measure): bias matrices phi = I - mean(I); alignment
    xi = 2 phi_GT phi_FM / (phi_GT^2 + phi_FM^2); enhanced alignment f(xi) = (1 + xi)^2 / 4;
    Q = sum f / (W H - 1) with the authors' MATLAB ``Emeasure.m`` denominator W H - 1 (+ eps).
    An empty GT scores the pixels predicted background, a full GT those predicted foreground
    (the same MATLAB code)."""
    n = fm.size
    if not gt.any():
        total = sum(1.0 for (f,) in pixels(fm) if not f)
    elif gt.all():
        total = sum(1.0 for (f,) in pixels(fm) if f)
    else:
        mu_fm = sum(f for (f,) in pixels(fm)) / n
        mu_gt = sum(g for (g,) in pixels(gt)) / n
        total = 0.0
        for f, g in pixels(fm, gt):
            a, b = float(f) - mu_fm, float(g) - mu_gt
            xi = 2 * a * b / (a * a + b * b + EPS)
            total += (1 + xi) ** 2 / 4
    return total / (n - 1 + EPS)


def e_curve_ref(p, gt):
    q = quantised(p)
    return np.array([enhanced_alignment(q >= t, gt) for t in THRESHOLDS])


def gaussian_7x7(sigma=5.0):
    """MATLAB ``fspecial('gaussian', 7, sigma)``: exp(-(x^2 + y^2) / (2 sigma^2)), summing to 1."""
    k = [[math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) for dx in range(-3, 4)] for dy in range(-3, 4)]
    total = sum(sum(row) for row in k)
    return [[v / total for v in row] for row in k]


def weighted_f_ref(p, gt, beta=1.0, sigma=5.0):
    """Margolin et al., CVPR 2014 (How to evaluate foreground maps?), the weighted F-measure as
    their ``WFb.m`` computes it: E = |FG - GT|; pixel dependency: a background pixel takes the error of its
    nearest GT pixel, the errors are smoothed by a 7x7 Gaussian (sigma 5, zero padding as
    ``imfilter``) and a GT pixel keeps min(E, smoothed); pixel importance: background errors
    are weighted by B = 2 - exp(ln(0.5) / 5 * distance to the GT); R^w = 1 - mean over the
    GT of E^w, P^w = TP^w / (TP^w + FP^w), F^w = (1 + beta^2) P^w R^w / (beta^2 P^w + R^w),
    beta = 1. An empty GT gives 0 (pysodmetrics' convention: the MATLAB code divides by zero).

    "Nearest GT pixel" depends on the distance transform when several are equally near
    (MATLAB ``bwdist`` and SciPy's EDT may pick differently): the loop asserts that the maps
    used here have no such tie between pixels of different error.
    """
    h, w = gt.shape
    if not gt.any():
        return 0.0
    err = np.abs(p - gt)
    fg = [(i, j) for i in range(h) for j in range(w) if gt[i, j]]
    err_t = err.copy()
    dist = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            if gt[i, j]:
                continue
            d2 = min((i - a) ** 2 + (j - b) ** 2 for a, b in fg)
            nearest = {err[a, b] for a, b in fg if (i - a) ** 2 + (j - b) ** 2 == d2}
            assert len(nearest) == 1, f"pixel ({i}, {j}): equally near GT pixels of different error"
            err_t[i, j] = nearest.pop()
            dist[i, j] = math.sqrt(d2)
    k = gaussian_7x7(sigma)
    smoothed = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            smoothed[i, j] = sum(k[dy + 3][dx + 3] * err_t[i + dy, j + dx]
                                 for dy in range(-3, 4) for dx in range(-3, 4)
                                 if 0 <= i + dy < h and 0 <= j + dx < w)
    tp_w = fp_w = recall_loss = 0.0
    for i in range(h):
        for j in range(w):
            if gt[i, j]:
                e_w = min(err[i, j], smoothed[i, j])
                tp_w += 1 - e_w
                recall_loss += e_w
            else:
                fp_w += err[i, j] * (2 - math.exp(math.log(0.5) / 5 * dist[i, j]))
    recall = 1 - recall_loss / len(fg)
    precision = tp_w / (tp_w + fp_w + EPS)
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall + EPS)


def reference(frames):
    """The reported numbers for one video ``[(pred_u8, gt_u8), ...]`` from the loops."""
    prepared = [prepare(p, g) for p, g in frames]
    f_curve = np.mean([f_curve_ref(p, g) for p, g in prepared], axis=0)
    e_curve = np.mean([e_curve_ref(p, g) for p, g in prepared], axis=0)
    mean = lambda fn: sum(fn(p, g) for p, g in prepared) / len(prepared)  # noqa: E731
    return {
        "MAE": mean(mae_ref),
        "maxF": f_curve.max(), "meanF": f_curve.mean(), "adpF": mean(adaptive_f_ref),
        "S": mean(s_measure_ref),
        "maxE": e_curve.max(), "meanE": e_curve.mean(),
        "wF": mean(weighted_f_ref),
    }
