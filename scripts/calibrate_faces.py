"""Calibrate face matching on the people Jikimi serves, and report accuracy per population.

Populations (kept apart in every figure; never LFW alone):

* ``kpop``: the 15 K-pop women of ``../shared/faces/east-asian`` (young Korean women: the victims we serve),
* ``other_ea``: the other East Asian people there (Korean, Japanese, Chinese public figures),
* ``lfw_ea``: LFW's East Asian people (``LFW_EAST_ASIAN``),
* ``lfw_other``: the rest of LFW (at most 4 photos per person).

The face model is the active one (dlib by default, or the ONNX model named by ``JIKIMI_FACE_MODEL``); its
calibration is written where ``jikimi.index.faces.calibration_path()`` says (the shipped file for dlib, beside
the ONNX file otherwise).

Step 1 (slow, once per model): detect and embed every photo with the product's own pipeline
(``jikimi.signals.face.detect_faces``, HOG then the CNN detector when HOG finds nothing, the face nearest the
centre), cached outside the repository (``$JIKIMI_BENCH_CACHE`` or ``/tmp/jikimi-bench-cache``).

Step 2 (a minute): cross-validation by person. For each population, its people are split into folds; for each
fold, the cohort (``jikimi.index.faces.Cohort``) is fitted on every photo of every population except that
fold's people, each fold person gets a template from ``k`` random photos (1, 3, 5; three draws), and is
compared with her other photos (genuine) and with every photo of the fold's other people (impostors).

Step 3: the operating point for each ``k``: the similarity and normalised-score limits that find the most
photos (K-pop first) while, on every East Asian population, at most ``--target-far`` of impostor comparisons
pass. ``--write`` writes ``face_calibration.json`` and the cohort (fitted on all photos) for the model.

    nice -n 10 .venv/bin/python scripts/calibrate_faces.py            # report only
    nice -n 10 .venv/bin/python scripts/calibrate_faces.py --write    # and write the calibration
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from jikimi.config import SHARED_DIR
from jikimi.index.faces import Cohort, calibration_path, normalised_scores
from jikimi.signals.face import detect_faces
from jikimi.signals.face_models import current_embedder

CACHE_DIR = Path(os.environ.get("JIKIMI_BENCH_CACHE") or "/tmp/jikimi-bench-cache")
CACHE_VERSION = "v5"
LFW_EAST_ASIAN = (
    "Ai_Sugiyama",
    "Annette_Lu",
    "Antony_Leung",
    "Candie_Kung",
    "Chen_Shui-bian",
    "Choi_Sung-hong",
    "Edward_Lu",
    "Fujio_Cho",
    "Hee-Won_Han",
    "Heizo_Takenaka",
    "Hitomi_Soga",
    "Hu_Jintao",
    "Jackie_Chan",
    "Jeong_Se-hyun",
    "Jiang_Zemin",
    "Jong_Wook_Lee",
    "Junichiro_Koizumi",
    "Kim_Dae-jung",
    "Kim_Jong-Il",
    "Kim_Ryong-sung",
    "Kim_Yong-il",
    "Kwon_Yang-sook",
    "Lee_Hoi-chang",
    "Lee_Soo-hyuck",
    "Li_Peng",
    "Li_Zhaoxing",
    "Lucy_Liu",
    "Michael_Chang",
    "Michelle_Kwan",
    "Michelle_Yeoh",
    "Nan_Wang",
    "Naoto_Kan",
    "Prince_Naruhito",
    "Roh_Moo-hyun",
    "Sachiko_Yamada",
    "Tang_Jiaxuan",
    "Toshihiko_Fukui",
    "Tung_Chee-hwa",
    "Wang_Yingfan",
    "Wen_Jiabao",
    "Wu_Yi",
    "Yao_Ming",
    "Yoko_Ono",
    "Yoriko_Kawaguchi",
    "Yu_Shyi-kun",
    "Zhang_Ziyi",
    "Zhu_Rongji",
)
"""LFW's East Asian people (Chinese, Japanese, Korean, Taiwanese; chosen by name and photo)."""
LFW_OTHER_PER_PERSON = 4
POPULATIONS = ("kpop", "other_ea", "lfw_ea", "lfw_other")
EAST_ASIAN = ("kpop", "other_ea", "lfw_ea")
PHOTOS = (1, 3, 5)
CLUSTERS = 8
TARGET_FAR = 0.0005
DRAWS = 3
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def _embed_one(path: Path) -> tuple[np.ndarray, int]:
    """(embedding, detector: 1 HOG, 2 CNN, 0 none) of the face nearest the photo's centre."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    cx, cy = rgb.shape[1] / 2, rgb.shape[0] / 2
    for kind, det in ((1, "hog"), (2, "cnn")):
        faces = detect_faces(rgb, detector=det, upsample=1)  # type: ignore[arg-type]
        if faces:
            f = min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)
            return f.embedding, kind
    return np.zeros(current_embedder().dim, np.float32), 0


def population_files(shared: Path) -> dict[str, list[Path]]:
    faces = shared / "faces"
    ea = sorted(p for p in (faces / "east-asian").glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    lfw = faces / "lfw"
    others = sorted(d for d in lfw.iterdir() if d.is_dir() and d.name not in LFW_EAST_ASIAN)
    return {
        "kpop": [p for p in ea if p.parent.name.startswith("kpop_")],
        "other_ea": [p for p in ea if not p.parent.name.startswith("kpop_")],
        "lfw_ea": sorted(p for n in LFW_EAST_ASIAN for p in (lfw / n).glob("*.jpg")),
        "lfw_other": [p for d in others for p in sorted(d.glob("*.jpg"))[:LFW_OTHER_PER_PERSON]],
    }


@dataclass
class Population:
    name: str
    vectors: np.ndarray  # unit embeddings of photos with a face
    people: np.ndarray  # person label per vector
    photos: int  # photos in the set
    found: int  # photos with a face


def embed_population(name: str, files: Sequence[Path], shared: Path) -> Population:
    """Embed (or read from the cache) one population; progress on stderr, resumable per population."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    model = current_embedder().name
    cache = CACHE_DIR / f"faces_{name}_{model.replace('/', '_')}_{CACHE_VERSION}.npz"
    rel = np.array([str(p.relative_to(shared / "faces")) for p in files])
    if cache.exists():
        data = dict(np.load(cache))
        if list(data["files"]) != list(rel):
            data = {}
    else:
        data = {}
    if not data:
        emb = np.zeros((len(files), current_embedder().dim), np.float32)
        kind = np.zeros(len(files), np.int8)
        t0 = time.time()
        for i, p in enumerate(files):
            try:
                emb[i], kind[i] = _embed_one(p)
            except (OSError, ValueError) as exc:
                print(f"  {p}: {exc}", file=sys.stderr)
            if i % 100 == 0:
                print(f"  {name}: {i}/{len(files)} photos, {time.time() - t0:.0f} s", file=sys.stderr)
        data = {"files": rel, "emb": emb, "found": kind}
        np.savez(cache, **data)
    ok = data["found"] > 0
    people = np.array([Path(f).parent.name for f in data["files"]])
    return Population(name, _unit(data["emb"][ok]), people[ok], len(ok), int(ok.sum()))


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


@dataclass
class Scores:
    """Genuine and impostor (similarity, z) of one population with k enrolment photos."""

    gen_sim: np.ndarray
    gen_z: np.ndarray
    imp_sim: np.ndarray
    imp_z: np.ndarray


def cross_validate(pops: dict[str, Population], k: int, clusters: int, seed: int = 0) -> dict[str, Scores]:
    rng = np.random.default_rng(seed)
    all_vecs = np.vstack([p.vectors for p in pops.values()])
    all_keys = np.concatenate([np.char.add(f"{n}:", p.people) for n, p in pops.items()])
    out: dict[str, Scores] = {}
    for name, pop in pops.items():
        people = np.array(sorted(set(pop.people)))
        folds = np.array_split(rng.permutation(people), 5 if len(people) > 20 else 3)
        parts: list[tuple[np.ndarray, ...]] = []
        for fold in folds:
            test = np.isin(pop.people, fold)
            cohort = Cohort.fit(all_vecs[~np.isin(all_keys, np.char.add(f"{name}:", fold))], clusters)
            x, who = pop.vectors[test], pop.people[test]
            tpl, tpl_who, probes_of = [], [], []
            for _ in range(DRAWS):
                for q in fold:
                    idx = np.flatnonzero(who == q)
                    if len(idx) < k + 1:
                        continue
                    pick = rng.choice(idx, k, replace=False)
                    tpl.append(_unit(x[pick].mean(0)))
                    tpl_who.append(q)
                    probes_of.append(np.setdiff1d(idx, pick))
            if not tpl:
                continue
            t = np.array(tpl)
            sim = x @ t.T
            z = normalised_scores(sim, cohort.stats(x), cohort.stats(t))
            for j, q in enumerate(tpl_who):
                imp = who != q
                parts.append((sim[probes_of[j], j], z[probes_of[j], j], sim[imp, j], z[imp, j]))
        if parts:  # a population with no one having k + 1 photos is left out for this k
            out[name] = Scores(*(np.concatenate([p[i] for p in parts]) for i in range(4)))
    return out


def tar_at_far(gen: np.ndarray, imp: np.ndarray, far: float) -> float:
    return float((gen > np.quantile(imp, 1 - far)).mean())


def eer(gen: np.ndarray, imp: np.ndarray) -> float:
    ts = np.quantile(np.concatenate([gen, imp]), np.linspace(0, 1, 1001))
    fr = np.array([(gen < t).mean() for t in ts])
    fa = np.array([(imp >= t).mean() for t in ts])
    i = int(np.argmin(np.abs(fr - fa)))
    return float((fr[i] + fa[i]) / 2)


@dataclass(frozen=True)
class Rule:
    """Accept when (similarity >= sim and z >= z) or (similarity >= alt_sim and z >= alt_z)."""

    sim: float
    z: float
    alt_sim: float
    alt_z: float

    def accepts(self, sim: np.ndarray, z: np.ndarray) -> np.ndarray:
        out: np.ndarray = ((sim >= self.sim) & (z >= self.z)) | ((sim >= self.alt_sim) & (z >= self.alt_z))
        return out


def _far(scores: dict[str, Scores], rule: Rule) -> float:
    return max(float(rule.accepts(s.imp_sim, s.imp_z).mean()) for s in scores.values())


def _value(scores: dict[str, Scores], rule: Rule) -> float:
    tars = {n: float(rule.accepts(s.gen_sim, s.gen_z).mean()) for n, s in scores.items()}
    return 3 * tars.get("kpop", 0.0) + sum(tars.values())


def choose_point(scores: dict[str, Scores], target: float) -> Rule:
    """The rule finding the most genuine photos (K-pop counted four times, every other population once) such
    that on every population at most ``target`` of impostor comparisons pass. First one rectangle (similarity
    and z limits), then a second one: a lower similarity accepted when z stands out further from the cohort
    (what keeps faces of well-separated populations findable while the first limits guard look-alikes)."""
    sims = np.round(np.arange(0.90, 0.995, 0.0025), 4)
    zs = np.round(np.arange(0.0, 9.0, 0.05), 2)
    best: tuple[float, Rule] | None = None
    for c in sims:
        for zt in zs:
            rule = Rule(float(c), float(zt), float(c), float(zt))
            if _far(scores, rule) > target:
                continue
            if best is None or _value(scores, rule) > best[0]:
                best = (_value(scores, rule), rule)
            break  # a higher z at this similarity only loses matches
    if best is None:
        raise SystemExit("no operating point meets the target false-accept rate")
    first = best[1]
    for c in sims[sims < first.sim]:
        for zt in zs[zs >= first.z]:
            rule = Rule(first.sim, first.z, float(c), float(zt))
            if _far(scores, rule) > target:
                continue
            if _value(scores, rule) > best[0]:
                best = (_value(scores, rule), rule)
            break
    return best[1]


def far_table(scores: dict[str, Scores], rule: Rule) -> list[list[float]]:
    """(z, the highest share over the populations of impostor comparisons accepted with at least this z)."""
    rows = []
    for z in np.round(np.arange(min(rule.z, rule.alt_z) - 0.5, max(rule.z, rule.alt_z) + 4.01, 0.1), 2):
        f = max(float((rule.accepts(s.imp_sim, s.imp_z) & (s.imp_z >= z)).mean()) for s in scores.values())
        rows.append([float(z), f])
    return rows


def fit_logistic(gen: np.ndarray, imp: np.ndarray) -> tuple[float, float]:
    """P(same | z) = 1 / (1 + exp(-a (z - b))), equal priors (classes weighted equally); Newton steps."""
    x = np.concatenate([gen, imp])
    y = np.concatenate([np.ones(len(gen)), np.zeros(len(imp))])
    w = np.concatenate([np.full(len(gen), 0.5 / len(gen)), np.full(len(imp), 0.5 / len(imp))])
    a, b = 1.0, float(np.median(x))
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(a * (x - b), -50, 50)))
        g = np.array([np.sum(w * (p - y) * (x - b)), np.sum(w * (p - y) * -a)])
        r = w * p * (1 - p)
        h = np.array(
            [
                [np.sum(r * (x - b) ** 2), np.sum(r * (x - b) * -a)],
                [np.sum(r * (x - b) * -a), np.sum(r * a * a)],
            ]
        )
        try:
            step = np.linalg.solve(h + 1e-9 * np.eye(2), g)
        except np.linalg.LinAlgError:
            break
        a, b = a - step[0], b - step[1]
    return float(a), float(b)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=SHARED_DIR)
    ap.add_argument("--clusters", type=int, default=CLUSTERS, help="cohort clusters (default %(default)s)")
    ap.add_argument("--target-far", type=float, default=TARGET_FAR)
    ap.add_argument("--write", action="store_true", help="write the active model's calibration and cohort")
    ap.add_argument("--out", type=Path, default=None, help="calibration file (default: the active model's)")
    args = ap.parse_args(argv)
    args.out = args.out or calibration_path()
    print(f"face model: {current_embedder().name} ({current_embedder().dim} values)")
    files = population_files(args.shared)
    pops = {n: embed_population(n, f, args.shared) for n, f in files.items()}
    for p in pops.values():
        print(f"{p.name}: {p.photos} photos, {p.found} with a face, {len(set(p.people))} people")
    report: dict[str, dict[str, object]] = {
        n: {"photos": p.found, "people": len(set(p.people))} for n, p in pops.items()
    }
    points: dict[str, dict[str, object]] = {}
    for k in PHOTOS:
        scores = cross_validate(pops, k, args.clusters)
        if k == 1:
            print("\npairs (1 photo against 1 photo), cross-validated by person:")
            for n, s in scores.items():
                row = {
                    "tar_far_1e-3_similarity": tar_at_far(s.gen_sim, s.imp_sim, 1e-3),
                    "tar_far_1e-2_similarity": tar_at_far(s.gen_sim, s.imp_sim, 1e-2),
                    "eer_similarity": eer(s.gen_sim, s.imp_sim),
                    "tar_far_1e-3_z": tar_at_far(s.gen_z, s.imp_z, 1e-3),
                    "tar_far_1e-2_z": tar_at_far(s.gen_z, s.imp_z, 1e-2),
                    "eer_z": eer(s.gen_z, s.imp_z),
                    "genuine": len(s.gen_sim),
                    "impostor": len(s.imp_sim),
                }
                report[n]["pairs"] = row
                print(
                    f"  {n:9s} "
                    + " ".join(f"{a}={b:.4f}" if isinstance(b, float) else f"{a}={b}" for a, b in row.items())
                )
            a, b = fit_logistic(
                np.concatenate([scores[n].gen_z for n in EAST_ASIAN]),
                np.concatenate([scores[n].imp_z for n in EAST_ASIAN]),
            )
        rule = choose_point(scores, args.target_far)
        at = {
            n: {
                "tar": float(rule.accepts(s.gen_sim, s.gen_z).mean()),
                "far": float(rule.accepts(s.imp_sim, s.imp_z).mean()),
                "impostor": len(s.imp_sim),
            }
            for n, s in scores.items()
        }
        for n in scores:
            report[n].setdefault("shipped", {})[str(k)] = at[n]  # type: ignore[index]
        points[str(k)] = {
            "similarity": rule.sim,
            "z": rule.z,
            "alt_similarity": rule.alt_sim,
            "alt_z": rule.alt_z,
            "far": max(v["far"] for v in at.values()),
            "tar": at["kpop"]["tar"],
            "far_table": far_table(scores, rule),
        }
        print(
            f"\n{k} enrolment photo(s): (similarity >= {rule.sim:.4f} and z >= {rule.z:.2f}) "
            f"or (similarity >= {rule.alt_sim:.4f} and z >= {rule.alt_z:.2f})"
        )
        for n, v in at.items():
            print(
                f"  {n:9s} her other photos found {v['tar']:.1%}, "
                f"other people's faces matched {v['far']:.3%} of {v['impostor']}"
            )
    if args.write:
        everything = np.vstack([p.vectors for p in pops.values()])
        cohort = Cohort.fit(everything, args.clusters)
        cohort_file = args.out.with_name(args.out.stem + "_cohort.npz")
        np.savez_compressed(
            cohort_file,
            means=cohort.means.astype(np.float32),
            covariances=cohort.covariances.astype(np.float32),
        )
        out = {
            "model": current_embedder().name,
            "scoring": "template-snorm-min",
            "cohort": cohort_file.name,
            "cohort_sha256": hashlib.sha256(cohort_file.read_bytes()).hexdigest(),
            "clusters": int(cohort.means.shape[0]),
            "target_far": args.target_far,
            "data": {n: report[n]["photos"] for n in pops},
            "logistic_a": a,
            "logistic_b": b,
            "by_photos": points,
            "populations": report,
        }
        args.out.write_text(json.dumps(out, indent=1) + "\n")
        print(f"\nwrote {args.out} and {cohort_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
