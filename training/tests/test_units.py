"""Unit checks of the losses, metrics and model (run: python -m unittest discover training/tests)."""

from __future__ import annotations

import unittest

import torch
import torch.nn.functional as F

from facerec_train.data import PKSampler, verification_pairs
from facerec_train.losses import contrastive_loss, triplet_loss
from facerec_train.metrics import verification
from facerec_train.model import Backbone, Embedder


class Losses(unittest.TestCase):
    def test_contrastive_matches_hadsell_on_one_pair_of_each_kind(self) -> None:
        # Two people, two vectors each; distances chosen by hand.
        e = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.0, 1.0]])
        y = torch.tensor([0, 0, 1, 1])
        d = torch.cdist(e, e)
        same = y[:, None] == y[None, :]
        eye = torch.eye(4, dtype=torch.bool)
        pos = 0.5 * d[same & ~eye].pow(2).mean()
        neg = 0.5 * (1.5 - d[~same]).clamp_min(0).pow(2).mean()
        self.assertAlmostEqual(float(contrastive_loss(e, y, margin=1.5)), float(pos + neg), places=5)

    def test_contrastive_is_zero_when_people_are_apart_and_collapsed(self) -> None:
        e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
        y = torch.tensor([0, 0, 1, 1])
        self.assertAlmostEqual(float(contrastive_loss(e, y, margin=1.0)), 0.0, places=5)
        self.assertGreater(float(contrastive_loss(e, torch.tensor([0, 1, 0, 1]), margin=1.0)), 0.5)

    def test_triplet_hard_and_semihard(self) -> None:
        e = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]), dim=1)
        y = torch.tensor([0, 0, 1, 1])
        self.assertAlmostEqual(float(triplet_loss(e, y, 0.2, "hard")), 0.0, places=5)
        swapped = torch.tensor([0, 1, 0, 1])
        self.assertGreater(float(triplet_loss(e, swapped, 0.2, "hard")), 1.0)
        self.assertGreater(float(triplet_loss(e, swapped, 0.2, "semihard")), 0.0)
        with self.assertRaises(ValueError):
            triplet_loss(e, y, 0.2, "easy")

    def test_semihard_picks_the_nearest_negative_beyond_the_positive(self) -> None:
        # Anchor a, positive at squared distance 0.04, negatives at 0.01 (hard), 0.09 (semi-hard),
        # 1.0 (easy): the loss for (a, p) uses 0.09.
        e = torch.tensor([[0.0], [0.2], [-0.1], [0.3], [1.0]])
        y = torch.tensor([0, 0, 1, 2, 3])
        d2 = torch.cdist(e, e).pow(2)
        loss = triplet_loss(e, y, margin=0.2, mining="semihard")
        # Triplets: (a=0,p=1) and (a=1,p=0).
        # (0,1): d_ap 0.04, negatives of 0: 0.01, 0.09, 1.0 -> semi-hard 0.09 -> 0.04-0.09+0.2 = 0.15
        # (1,0): d_ap 0.04, negatives of 1: 0.09, 0.01, 0.64 -> semi-hard 0.09 -> 0.15
        self.assertAlmostEqual(float(loss), 0.15, places=4)
        self.assertAlmostEqual(float(d2[0, 2]), 0.01, places=5)


class Metrics(unittest.TestCase):
    def test_separable_scores_give_perfect_accuracy(self) -> None:
        m = verification(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([True, True, False, False]))
        self.assertEqual((m["acc"], m["f1"], m["auc"]), (1.0, 1.0, 1.0))
        self.assertTrue(0.3 < m["threshold"] < 0.8)

    def test_one_overlap(self) -> None:
        m = verification(torch.tensor([0.9, 0.2, 0.5, 0.1]), torch.tensor([True, True, False, False]))
        self.assertAlmostEqual(m["acc"], 0.75)
        self.assertAlmostEqual(m["auc"], 0.75)


class Sampling(unittest.TestCase):
    def test_pk_batches_hold_k_photos_of_p_people(self) -> None:
        labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])
        sampler = PKSampler(labels, p=2, k=2, seed=1)
        for batch in sampler:
            got = labels[batch].tolist()
            self.assertEqual(len(got), 4)
            self.assertEqual(sorted(got.count(v) for v in set(got)), [2, 2])
            self.assertNotIn(3, got)

    def test_pairs_are_balanced_and_labelled(self) -> None:
        labels = [0, 0, 1, 1, 2, 2, 2]
        pairs, same = verification_pairs(labels, 100, seed=3)
        self.assertEqual(int(same.sum()), int((~same).sum()))
        for (a, b), s in zip(pairs.tolist(), same.tolist()):
            self.assertEqual(labels[a] == labels[b], s)


class Model(unittest.TestCase):
    def test_pretrained_lite0_gives_unit_64d_vectors_for_any_batch(self) -> None:
        torch.manual_seed(0)
        m = Embedder(Backbone(64, pretrained=True), 64).eval()
        x = torch.rand(3, 3, 112, 112) * 255
        with torch.no_grad():
            e = m(x)
            e1 = m(x[:1])
        self.assertEqual(tuple(e.shape), (3, 64))
        self.assertTrue(torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5))
        self.assertTrue(torch.allclose(e[:1], e1, atol=1e-5))


if __name__ == "__main__":
    unittest.main()
