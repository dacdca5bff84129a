"""Pair verification metrics from cosine similarities."""

from __future__ import annotations

import torch


def verification(scores: torch.Tensor, same: torch.Tensor) -> dict[str, float]:
    """Best-threshold accuracy, F1 at that threshold, and ROC AUC of similarity scores for pairs
    labelled same/different. The threshold is chosen on these same pairs, so accuracy and F1 are
    optimistic for a small set (they are for following training, not for publication)."""
    scores, same = scores.double().cpu(), same.bool().cpu()
    n_pos, n_neg = int(same.sum()), int((~same).sum())
    if n_pos == 0 or n_neg == 0:
        return {"acc": float("nan"), "f1": float("nan"), "auc": float("nan"), "threshold": float("nan")}
    order = torch.argsort(scores, descending=True)
    s, y = scores[order], same[order]
    tp = torch.cumsum(y.double(), 0)
    fp = torch.cumsum((~y).double(), 0)
    # Accept the first k pairs (score >= s[k-1]), k = 0..M.
    tp = torch.cat([torch.zeros(1, dtype=tp.dtype), tp])
    fp = torch.cat([torch.zeros(1, dtype=fp.dtype), fp])
    tn = n_neg - fp
    acc = (tp + tn) / (n_pos + n_neg)
    # Only cut between distinct scores.
    distinct = torch.ones(len(acc), dtype=torch.bool)
    distinct[1:-1] = s[1:] != s[:-1]
    acc = torch.where(distinct, acc, torch.full_like(acc, -1.0))
    k = int(torch.argmax(acc))
    precision = tp[k] / max(float(tp[k] + fp[k]), 1.0)
    recall = tp[k] / n_pos
    f1 = 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))
    if k == 0:
        threshold = float(s[0]) + 1e-6
    elif k == len(s):
        threshold = float(s[-1])
    else:
        threshold = float((s[k - 1] + s[k]) / 2)
    tpr = tp / n_pos
    fpr = fp / n_neg
    auc = float(torch.trapezoid(tpr, fpr))
    return {"acc": float(acc[k]), "f1": f1, "auc": auc, "threshold": threshold}
