"""Task ``lineage``: a whole lineage per record (domain → species), with a calibrated confidence at every rank.

The data set is a reference with rank columns (``seqxent prepare --reference-format sintax|qiime|rdp|table``);
its ``label_column`` is one of the ranks (the rank the peers are compared at, e.g. genus).

- **Every taxon is a class**, however few its records: ``min_per_class`` excludes nothing here. The classes
  are all taxa of every rank in the training split (:class:`~seqxent.data.taxon_tree.TaxonTree`).
- **Network**: one trunk (:class:`~seqxent.model.networks.SequenceCNN`) and one softmax head per rank; the
  heads are the blocks of one output layer, rank by rank.
- **Loss**: the weighted sum over ranks of each rank's cross-entropy (mean over the records that name the rank
  and whose taxon is a class; a missing rank leaves only that rank's loss). Weights ``1`` for every rank.
- **Calibration**: one temperature per rank, fitted by ``seqxent calibrate`` on the validation split.
- **Nearest reference**: rank by rank, the calibrated head is pooled with the votes of the query's closest
  training sequences (k-mer containment), a product of experts fitted on validation
  (:mod:`seqxent.calibrate.nearest`): the component that names taxa with one or two records.
- **Calls**: consistent, top down (:meth:`TaxonTree.decode`): each call lies under the calls above it; a
  cut-off truncates the lineage at the first rank below it.
- **Evaluation**: per rank, the forced-call accuracy with a bootstrap interval, the ECE of the calls before and
  after scaling, and IDTAXA's misclassification, over- and under-classification rates at the cut-off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from seqxent.data.batching import Collate, Example, iterate_batches
from seqxent.data.taxon_tree import MISSING, TaxonTree, class_name, rank_offsets
from seqxent.errors import InputError
from seqxent.metrics.calibration import call_reliability
from seqxent.metrics.classification import confusion_matrix
from seqxent.metrics.taxonomy import (
    classification_rates,
    forced_accuracy,
    over_vs_mis_curve,
    rates_by_identity,
)
from seqxent.model.networks import LeafMarginals
from seqxent.model.rank_heads import LineageLoss, mix_reference, rank_softmax
from seqxent.tasks.base import SplitPredictions, Task

if TYPE_CHECKING:  # pandas is not imported at run time: `seqxent predict` starts without it
    import pandas as pd

#: Cut-off of the calls when the model has no chosen one (SINTAX's and the RDP classifier's usual 0.8).
DEFAULT_CUTOFF = 0.8
#: Misclassification rate at the label rank that ``seqxent calibrate`` chooses the cut-off for (on validation).
MAX_MISCLASSIFICATION = 0.02
#: Cut-offs tried (and plotted: over- vs misclassification).
CUTOFFS = np.round(np.linspace(0.0, 1.0, 101), 2)
#: Training settings a lineage model refuses, with the value they must keep.
UNSUPPORTED_SETTINGS = {"loss": "ce", "class_weighting": "none", "pos_weight": 0.0, "focal_alpha": 0.0,
                        "teacher": None, "mixup_alpha": 0.0, "ensemble": 1}


class LineageTask(Task):
    """A lineage per record: one softmax head per rank on one trunk, consistent calls, per-rank temperatures."""

    name = "lineage"
    holds_out_classes = True  # leave-clade-out: `prepare --novel-classes` holds whole taxa out
    baselines = "labels"  # the peers are scored at the label rank (e.g. genus)
    lineages = True
    nearest_reference = True

    # ----------------------------------------------------------------- labels

    def exclude_rare(self, labels, usable, reasons, min_per_class, separator) -> dict:
        """Nothing: every taxon of the reference is a class, however few its records."""
        return {}

    def stratification_labels(self, labels: Sequence[str]) -> list[str]:  # noqa: D102
        return list(labels)

    def summary_labels(self, labels: pd.Series) -> list[str]:  # noqa: D102
        return labels.tolist()

    @staticmethod
    def ranks(data) -> list[str]:
        """The rank columns of a prepared data set.

        Raises:
            InputError: for a data set without ranks (not prepared from a reference with lineages).
        """
        if not data.ranks:
            raise InputError(f"data set {data.name!r}: the lineage task needs a reference with ranks "
                             "(seqxent prepare --reference-format sintax|qiime|rdp|table)")
        return list(data.ranks)

    def tree(self, data) -> TaxonTree:
        """The taxa of the training split and their known ancestors."""
        rows = data.split("train")
        return TaxonTree.from_lineages(rows[self.ranks(data)].to_numpy().tolist(), self.ranks(data))

    def classes(self, data) -> list[str]:  # noqa: D102
        return self.tree(data).classes

    def model_meta(self, data) -> dict:
        """``meta["lineage"]`` of a new checkpoint: the tree (ranks, sizes, ancestors) and the label rank."""
        return {"lineage": {**self.tree(data).to_meta(), "label_rank": data.label_column}}

    def class_counts(self, data, classes: Sequence[str]) -> np.ndarray:
        """Training records that name each taxon."""
        rows, index = data.split("train"), {c: i for i, c in enumerate(classes)}
        counts = np.zeros(len(classes), dtype=np.int64)
        for rank in self.ranks(data):
            for name, n in rows[rank][rows[rank] != ""].value_counts().items():
                counts[index[class_name(rank, name)]] += n
        return counts

    def examples(self, data, split: str, classes: Sequence[str]) -> list[Example]:
        """Encoded records of one split, targets by rank.

        The target is the class index at each rank: :data:`MISSING` where the rank is missing or its taxon is
        no class (e.g. a taxon of the test split absent from training).
        """
        rows, ranks = data.split(split), self.ranks(data)
        index = {c: i for i, c in enumerate(classes)}
        names = rows[ranks].to_numpy()
        return [Example(rid, data.alphabet.to_codes(seq),
                        tuple(index.get(class_name(rank, name), MISSING) if name else MISSING
                              for rank, name in zip(ranks, lineage, strict=True)))
                for rid, seq, lineage in zip(rows["id"], rows["sequence"], names, strict=True)]

    # ----------------------------------------------------------------- model and training

    def network(self, cfg, data, classes: Sequence[str], hparams: dict) -> tuple[str, dict, torch.nn.Module]:
        """The network of ``lineage_head``: per-rank heads, or one softmax over the leaves summed up the tree.

        ``ranks``: a :class:`~seqxent.model.networks.SequenceCNN` with one output per taxon of every rank;
        ``leaf``: :class:`~seqxent.model.networks.LeafMarginals` over the distinct training lineages.
        """
        if cfg.lineage_head == "ranks":
            return super().network(cfg, data, classes, hparams)
        tree = self.tree(data)
        leaves = tree.leaf_classes(data.split("train")[self.ranks(data)].to_numpy().tolist())
        hparams = {"member": {**hparams, "n_classes": leaves.shape[1]}, "n_ranks": len(tree.ranks),
                   "n_outputs": len(classes)}
        model = LeafMarginals(**hparams)
        model.leaf_classes.copy_(torch.from_numpy(leaves))
        return "leaf_marginals", hparams, model

    def check_training(self, cfg, alphabet_name: str) -> None:
        """The per-rank cross-entropy (optionally smoothed); the k-mer branch starts at random.

        Raises:
            InputError: for a setting of :data:`UNSUPPORTED_SETTINGS` or ``kmer_init: logreg``.
        """
        super().check_training(cfg, alphabet_name)
        for key, value in UNSUPPORTED_SETTINGS.items():
            if (getattr(cfg, key) or None) != (value or None):  # "" and None: no teacher
                raise InputError(f"Expected argument `{key}` to be {value!r} for lineage tasks, but got "
                                 f"{getattr(cfg, key)!r}")
        if cfg.kmer_k and cfg.kmer_init == "logreg":
            raise InputError("Expected argument `kmer_init` to be 'random' for lineage tasks (the k-mer "
                             "regression is fitted to one rank), but got 'logreg'")

    def loss(self, cfg, class_counts: np.ndarray, classes: Sequence[str] = ()) -> LineageLoss:
        """The sum of the per-rank cross-entropies (optionally smoothed) over the rank blocks of ``classes``."""
        offsets = rank_offsets(classes)
        ranks = [classes[start].split(":", 1)[0] for start in offsets[:-1]]
        return LineageLoss(offsets, ranks, label_smoothing=cfg.label_smoothing)

    def output(self, ckpt, calibrated: bool = True):
        """``(logits (N, K), nearest) -> per-rank probabilities``: the heads at their per-rank temperatures.

        Pooled with the closest reference sequences' votes (:func:`~seqxent.model.rank_heads.mix_reference`)
        when ``nearest`` (:meth:`KmerReference.nearest` with ``top``) is given and the model has the pooling.
        """
        lineage = ckpt.meta["lineage"]
        temps = _temperatures(lineage) if calibrated else 1.0
        offsets = np.cumsum([0] + list(lineage["sizes"]))
        pool = lineage.get("nearest") if calibrated else None
        taxa = np.asarray(pool["reference_targets"], dtype=np.int64).reshape(-1, len(offsets) - 1) if pool else None
        alphas = np.array([params[0] for params in pool["params"]]) if pool else None

        def activate(logits: np.ndarray, nearest: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
            if pool is None or nearest is None:
                return rank_softmax(logits, offsets, temps)
            probs = rank_softmax(logits, offsets, temps / alphas)  # p_head^α, normalised
            _, _, closest, containment = nearest
            return mix_reference(probs, offsets, closest, containment, taxa, pool["params"])

        return activate

    def reference_top(self, ckpt) -> int:
        """How many closest reference sequences vote (0: the model has no pooling yet)."""
        pool = ckpt.meta["lineage"].get("nearest")
        return int(pool["top"]) if pool else 0

    def reference_targets(self, ckpt, data, sequences: Sequence[str]) -> np.ndarray:
        """``(M, R)`` class index at each rank of each reference sequence (its training records' lineage)."""
        rows = data.split("train")
        ranks = ckpt.meta["lineage"]["ranks"]
        index = {c: i for i, c in enumerate(ckpt.classes)}
        by_sequence = dict(zip(rows["sequence"], rows[ranks].to_numpy().tolist(), strict=True))
        return np.array([[index.get(class_name(rank, name), MISSING) if name else MISSING
                          for rank, name in zip(ranks, by_sequence[seq], strict=True)] for seq in sequences],
                        dtype=np.int64).reshape(len(sequences), len(ranks))

    def vote_problems(self, ckpt, preds: SplitPredictions, targets: np.ndarray) -> dict[str, tuple]:
        """Per rank, the arguments of the :class:`~seqxent.calibrate.nearest.VoteProblem` the pooling is fitted to.

        The validation records that name a taxon at the rank; one whose taxon is no class of the model (absent
        from training) has truth -1: it counts by the probability left off the call.
        """
        lineage = ckpt.meta["lineage"]
        tree = TaxonTree.from_meta(lineage, ckpt.classes)
        truth_all, _ = self.truth(tree, preds.rows)  # -1: a named taxon that is no class
        _, _, closest, containment = preds.nearest
        temps = _temperatures(lineage)
        out = {}
        for r, rank in enumerate(tree.ranks):
            block = tree.rank_slice(r)
            use = truth_all[:, r] != MISSING
            truth = truth_all[use, r]
            out[rank] = (preds.logits[use, block] / temps[r], np.where(truth >= 0, truth - block.start, -1),
                         closest[use], containment[use],
                         np.where(targets[:, r] >= 0, targets[:, r] - block.start, MISSING))
        return out

    def store_nearest(self, ckpt, targets: np.ndarray, top: int, params: Mapping[str, Sequence[float]]) -> None:
        """Keep the pooling: the reference sequences' classes, how many vote, ``(α, γ, β, ε, δ)`` per rank."""
        lineage = ckpt.meta["lineage"]
        lineage["nearest"] = {"reference_targets": targets.reshape(-1).tolist(), "top": int(top),
                              "params": [[float(v) for v in params[rank]] for rank in lineage["ranks"]]}

    def strand_score(self, ckpt):
        """The mean over ranks of each rank's top probability (the top rank alone is near 1 either way)."""
        offsets = np.cumsum([0] + list(ckpt.meta["lineage"]["sizes"]))
        return lambda probs: np.mean([probs[:, a:b].max(axis=1) for a, b in zip(offsets[:-1], offsets[1:],
                                                                                   strict=True)], axis=0)

    @torch.no_grad()
    def validate(self, model, examples: list[Example], collate: Collate, batch_size: int,
                 device, classes: Sequence[str] = ()) -> tuple[float, float]:
        """Sum over ranks of the mean cross-entropy (early stopping), and the mean over ranks of the accuracy."""
        model.eval()
        logits, targets = [], []
        for batch in iterate_batches(examples, collate, batch_size):
            batch = batch.to(device)
            logits.append(model(batch.x, batch.mask).float().cpu())
            targets.append(batch.target.cpu())
        z, t = torch.cat(logits), torch.cat(targets)
        sizes = rank_offsets(classes)
        total, accuracies = 0.0, []
        for r, (start, stop) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            known = t[:, r] != MISSING
            if bool(known.any()):
                block, truth = z[known, start:stop], t[known, r] - start
                total += float(F.cross_entropy(block, truth))
                accuracies.append(float((block.argmax(dim=1) == truth).float().mean()))
        return total, float(np.mean(accuracies)) if accuracies else 0.0

    # ----------------------------------------------------------------- calibration and evaluation

    def temperature_problems(self, ckpt, preds: SplitPredictions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per rank, the validation logits of that rank's block and the local targets of records that name it."""
        tree = TaxonTree.from_meta(ckpt.meta["lineage"], ckpt.classes)
        out = {}
        for r, rank in enumerate(tree.ranks):
            block, t = tree.rank_slice(r), preds.target[:, r]
            known = t != MISSING
            out[rank] = (preds.logits[known, block], t[known] - block.start)
        return out

    def store_temperatures(self, ckpt, temperatures: Mapping[str, float]) -> None:
        """Keep one temperature per rank in ``meta["lineage"]["temperatures"]`` (rank order)."""
        lineage = ckpt.meta["lineage"]
        lineage["temperatures"] = [float(temperatures[rank]) for rank in lineage["ranks"]]

    def split_predictions(self, rows: pd.DataFrame, logits: list[np.ndarray], examples) -> SplitPredictions:  # noqa: D102
        target = np.array([ex.target for ex in examples], dtype=np.int64).reshape(len(examples), -1)
        return SplitPredictions(rows, np.stack(logits), target, np.arange(len(examples)))

    def calls(self, ckpt, preds: SplitPredictions, calibrated: bool = True) -> tuple[TaxonTree, np.ndarray, np.ndarray]:
        """``(tree, calls, confidence)``: the consistent calls of every record and their confidences."""
        tree = TaxonTree.from_meta(ckpt.meta["lineage"], ckpt.classes)
        probs = self.output(ckpt, calibrated)(preds.logits, preds.nearest)
        calls, conf = tree.decode(probs)
        return tree, calls, conf

    def evaluate(self, ckpt, preds: SplitPredictions, n_bins: int = 15, n_boot: int = 1000, seed: int = 1,
                 threshold: float = 0.5, train_counts: np.ndarray | None = None) -> dict:
        """Per-rank accuracy (forced, consistent calls), calibration of the calls, IDTAXA rates at the cut-off.

        A record counts at a rank when the reference names that rank for it; its taxon is ``known`` when it is
        a class of the model (a taxon of the training split), ``novel`` otherwise (a forced call is then wrong).
        """
        tree, calls, conf = self.calls(ckpt, preds)
        _, raw_calls, raw_conf = self.calls(ckpt, preds, calibrated=False)
        ranks = tree.ranks
        label_rank = ckpt.meta["lineage"].get("label_rank", ranks[-1])
        cutoff = ckpt.meta["lineage"].get("cutoff", DEFAULT_CUTOFF)
        truth, known = self.truth(tree, preds.rows)
        # One definition of accuracy for the model and the peers (seqxent.baseline.score): a novel taxon (-1)
        # is never a call, so it is always wrong.
        forced = forced_accuracy(truth, calls, ranks, n_boot=n_boot, seed=seed)
        forced_known = forced_accuracy(truth, calls, ranks, known=known)
        network = forced_accuracy(truth, raw_calls, ranks)  # the heads alone: no temperatures, no nearest reference
        per_rank, calibration = {}, {}
        for r, rank in enumerate(ranks):
            named = truth[:, r] != MISSING
            if not named.any():
                continue
            ece, bins = call_reliability(conf[named, r], calls[named, r] == truth[named, r], n_bins)
            ece_raw, bins_raw = call_reliability(raw_conf[named, r], raw_calls[named, r] == truth[named, r], n_bins)
            per_rank[rank] = {
                "n": forced[rank]["n"], "n_known": int(known[named, r].sum()),
                "accuracy": {"value": forced[rank]["accuracy"], "ci95": forced[rank]["ci"]},
                "accuracy_known": forced_known[rank]["accuracy"], "accuracy_network": network[rank]["accuracy"],
                "mean_confidence": float(conf[named, r].mean()), "ece": ece, "ece_before": ece_raw}
            calibration[rank] = {"ece": ece, "bins_after": bins.to_dict(), "bins_before": bins_raw.to_dict(),
                                 "ece_before": ece_raw}
        depth = TaxonTree.truncate(conf, cutoff)
        rates = classification_rates(truth, calls, depth, known, ranks, n_boot=n_boot, seed=seed)
        curve = over_vs_mis_curve(truth, calls, np.clip(conf, 0.0, 1.0), known, CUTOFFS[::5], ranks)
        label = per_rank.get(label_rank, {})
        temps = ckpt.meta["lineage"].get("temperatures")
        return {"headline": {f"{label_rank}_accuracy": label.get("accuracy", {"value": None, "ci95": [None, None]})},
                "metrics": {f"{rank}_accuracy": block["accuracy"]["value"] for rank, block in per_rank.items()},
                "per_rank": per_rank, "cutoff": cutoff, "rates_at_cutoff": rates, "rates_by_cutoff": curve,
                "calibration": {"temperatures": dict(zip(ranks, temps, strict=True)) if temps else None,
                                "n_bins": n_bins, "label_rank": label_rank,
                                "after": {"ece": calibration.get(label_rank, {}).get("ece")},
                                "before": {"ece": calibration.get(label_rank, {}).get("ece_before")},
                                "bins_after": calibration.get(label_rank, {}).get("bins_after"),
                                "bins_before": calibration.get(label_rank, {}).get("bins_before"),
                                "per_rank": calibration},
                "per_class": {}, "confusion": self.confusion(tree, truth, calls)}

    def rates_by_identity(self, ckpt, preds: SplitPredictions, identity: np.ndarray, n_boot: int = 0,
                          seed: int = 1) -> dict:
        """IDTAXA's rates at the cut-off per bin of identity to the closest training sequence (TAXXI's bins)."""
        tree, calls, conf = self.calls(ckpt, preds)
        truth, known = self.truth(tree, preds.rows)
        depth = TaxonTree.truncate(conf, ckpt.meta["lineage"].get("cutoff", DEFAULT_CUTOFF))
        return rates_by_identity(truth, calls, depth, known, np.clip(identity, 0.0, 1.0), tree.ranks,
                                 n_boot=n_boot, seed=seed)

    @staticmethod
    def confusion(tree: TaxonTree, truth: np.ndarray, calls: np.ndarray, max_taxa: int = 40) -> dict:
        """The confusion matrix (rows true, columns called) at the deepest rank with at most ``max_taxa`` taxa.

        Records whose taxon there is missing or not a class are left out. ``{"kind", "classes", "matrix"}``.
        """
        small = [r for r, size in enumerate(tree.sizes) if size <= max_taxa] or [0]
        r = small[-1]
        block = tree.rank_slice(r)
        use = truth[:, r] >= 0
        matrix = confusion_matrix(calls[use, r] - block.start, truth[use, r] - block.start, n_classes=tree.sizes[r])
        return {"kind": f"rank {tree.ranks[r]}", "classes": tree.names(r), "matrix": matrix.tolist()}

    def choose_cutoff(self, ckpt, preds: SplitPredictions, max_misclassification: float = MAX_MISCLASSIFICATION
                      ) -> dict:
        """The lowest cut-off of :data:`CUTOFFS` keeping the label rank's misclassification rate within a bound.

        Measured on ``preds`` (the validation split), stored as ``meta["lineage"]["cutoff"]``; returns the
        rates at that cut-off. The lowest such cut-off keeps the most calls standing (least underclassification)
        for that error rate.
        """
        tree, calls, conf = self.calls(ckpt, preds)
        truth, known = self.truth(tree, preds.rows)
        label_rank = ckpt.meta["lineage"].get("label_rank", tree.ranks[-1])
        curve = over_vs_mis_curve(truth, calls, np.clip(conf, 0.0, 1.0), known, CUTOFFS, tree.ranks)[label_rank]
        rates = [1.0 if m is None else m for m in curve["misclassification_rate"]]
        ok = [i for i, m in enumerate(rates) if m <= max_misclassification]
        i = ok[0] if ok else len(CUTOFFS) - 1
        ckpt.meta["lineage"]["cutoff"] = float(CUTOFFS[i])
        return {"cutoff": float(CUTOFFS[i]), "rank": label_rank, "max_misclassification": max_misclassification,
                **{key: curve[key][i] for key in ("misclassification_rate", "overclassification_rate",
                                                  "underclassification_rate")}}

    @staticmethod
    def truth(tree: TaxonTree, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(truth, known)``, both ``(N, R)``: the true class index at each rank, and whether it is a class.

        ``truth`` is :data:`MISSING` where the rank is not named and ``-1`` for a named taxon that is no class
        of the model (a novel taxon).
        """
        index = {c: i for i, c in enumerate(tree.classes)}
        truth = np.full((len(rows), len(tree.ranks)), MISSING, dtype=np.int64)
        for r, rank in enumerate(tree.ranks):
            names = rows[rank].to_numpy() if rank in rows else np.array([""] * len(rows))
            truth[:, r] = [index.get(class_name(rank, n), -1) if n else MISSING for n in names]
        return truth, truth >= 0

    def prediction_table(self, ckpt, preds: SplitPredictions, threshold: float = 0.5) -> dict[str, list]:
        """Per record: per rank the true taxon, the call, its confidence; the lineage standing at the cut-off."""
        tree, calls, conf = self.calls(ckpt, preds)
        cutoff = ckpt.meta["lineage"].get("cutoff", DEFAULT_CUTOFF)
        depth = TaxonTree.truncate(conf, cutoff)
        prefix = [len(rank) + 1 for rank in tree.ranks]
        table: dict[str, list] = {"id": preds.rows["id"].tolist()}
        for r, rank in enumerate(tree.ranks):
            table[rank] = preds.rows[rank].tolist()
            table[f"predicted_{rank}"] = [tree.classes[c][prefix[r]:] if c >= 0 else "" for c in calls[:, r]]
            table[f"p_{rank}"] = conf[:, r].astype(np.float64).round(4).tolist()
        table["depth"] = depth.tolist()
        return table


def _temperatures(lineage: Mapping) -> np.ndarray:
    """``(R,)`` per-rank temperatures of a checkpoint's ``meta["lineage"]`` (1 each before calibration)."""
    return np.broadcast_to(np.asarray(lineage.get("temperatures", 1.0), dtype=float), (len(lineage["ranks"]),))
