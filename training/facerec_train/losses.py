"""Metric-learning losses on a batch of unit embeddings with identity labels."""

from __future__ import annotations

import torch


def pairwise_distances(e: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """Euclidean distances between all rows, [B, B] (numerically safe at zero)."""
    d2 = (e.unsqueeze(1) - e.unsqueeze(0)).pow(2).sum(-1).clamp_min(0.0)
    if squared:
        return d2
    return (d2 + 1e-12).sqrt() * (d2 > 0)


def contrastive_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Hadsell, Chopra, LeCun 2005 over every pair in the batch: a same-person pair costs d^2/2,
    a different-people pair max(0, m - d)^2/2 (d Euclidean). The two pair kinds are averaged
    separately and added, so the many negative pairs of a batch do not swamp the positives."""
    d = pairwise_distances(e)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=e.device)
    pos = same & ~eye
    neg = ~same
    loss = e.new_zeros(())
    if pos.any():
        loss = loss + 0.5 * d[pos].pow(2).mean()
    if neg.any():
        loss = loss + 0.5 * (margin - d[neg]).clamp_min(0.0).pow(2).mean()
    return loss


def triplet_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 0.2, mining: str = "semihard") -> torch.Tensor:
    """FaceNet (Schroff et al. 2015): max(d(a,p)^2 - d(a,n)^2 + m, 0), squared distances, online
    mining in the batch.

    - "hard" (batch-hard, Hermans et al. 2017): per anchor the farthest positive and the nearest
      negative.
    - "semihard" (FaceNet): every (anchor, positive) pair with the nearest negative that is still
      farther than the positive (d(a,p) < d(a,n)); when none is, the farthest negative (as
      TensorFlow's semi-hard loss does).
    """
    d2 = pairwise_distances(e, squared=True)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=e.device)
    pos, neg = same & ~eye, ~same
    inf = torch.finfo(d2.dtype).max
    if mining == "hard":
        valid = pos.any(1) & neg.any(1)
        if not valid.any():
            return e.new_zeros(())
        hardest_pos = torch.where(pos, d2, torch.zeros_like(d2)).max(1).values
        hardest_neg = torch.where(neg, d2, torch.full_like(d2, inf)).min(1).values
        return (hardest_pos - hardest_neg + margin).clamp_min(0.0)[valid].mean()
    if mining != "semihard":
        raise ValueError(f"unknown mining {mining!r} (hard or semihard)")
    a_idx, p_idx = pos.nonzero(as_tuple=True)
    if len(a_idx) == 0:
        return e.new_zeros(())
    d_ap = d2[a_idx, p_idx].unsqueeze(1)  # [T, 1]
    d_an = d2[a_idx]  # [T, B]
    negs = neg[a_idx]
    semi = negs & (d_an > d_ap)
    nearest_semi = torch.where(semi, d_an, torch.full_like(d_an, inf)).min(1).values
    farthest_neg = torch.where(negs, d_an, torch.full_like(d_an, -inf)).max(1).values
    has_semi = semi.any(1)
    chosen = torch.where(has_semi, nearest_semi, farthest_neg)
    ok = negs.any(1)
    if not ok.any():
        return e.new_zeros(())
    return (d_ap.squeeze(1) - chosen + margin).clamp_min(0.0)[ok].mean()
