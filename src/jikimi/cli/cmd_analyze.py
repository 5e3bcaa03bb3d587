"""``jikimi analyze``: every signal for each file — hashes, faces (with consented matches), nudity,
synthetic-media evidence and face-swap scores — decoded once, the analysers sharing the same pixels."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer


@dataclass(frozen=True)
class AnalyseOptions:
    """How to analyse: video sampling, small-face search, which analysers."""

    every_seconds: float = 1.0
    max_frames: int = 120
    small_faces: bool = False
    faces: bool = True
    embeddings: bool = True
    """Compute face embeddings (only needed to match enrolled people; the slowest step)."""
    nudity: bool = True
    synthetic: bool = True
    faceswap: bool = True
    source_features: bool = False
    """Compute ORB features for source-photo matching (only when someone's source photos are enrolled)."""


def _face_params(h: int, w: int, small_faces: bool) -> tuple[int, int]:
    """(upsample, max_side) for dlib's HOG detector: large photos are searched at 1024 px without
    upsampling (faces from ~90 px), small ones upsampled once (faces from ~40 px)."""
    if small_faces:
        return 1, 1600
    return (1 if max(h, w) < 800 else 0), 1024


class _Timer:
    """Wall and CPU time per analyser (every analyser runs in the calling thread)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return fn()
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000
            self.cpu_ms[name] = self.cpu_ms.get(name, 0.0) + (time.thread_time() - c0) * 1000


def analyse_file(path: str, options: AnalyseOptions | None = None) -> dict[str, Any]:
    """The ``jikimi analyze --json`` record of one file (without person matches: those need the database and
    are added by :func:`add_matches`). Face embeddings travel in ``record["_embeddings"]``. Never raises for
    a bad file: the record then holds ``error``."""
    from jikimi.errors import JikimiError

    opts = options or AnalyseOptions()
    try:
        return _analyse(path, opts)
    except JikimiError as exc:
        return {"path": path, "error": str(exc)}
    except MemoryError:
        return {"path": path, "error": "not enough memory to decode this file"}
    except Exception as exc:  # a library bug must not end the batch: report it on this item
        return {"path": path, "error": f"unexpected error: {type(exc).__name__}: {exc}"}


def _analyse(path: str, opts: AnalyseOptions) -> dict[str, Any]:
    import numpy as np

    from jikimi.errors import JikimiError
    from jikimi.media import load
    from jikimi.signals import compute_each
    from jikimi.signals.registry import HASH_SIGNALS

    timer = _Timer()
    media = timer.run("decode", lambda: load(Path(path)))
    record: dict[str, Any] = {
        "path": path,
        "kind": media.kind,
        "format": media.format,
        "width": media.width,
        "height": media.height,
    }
    if media.kind == "video":
        record["duration"] = round(media.duration or 0.0, 3)
    errors: dict[str, str] = {}
    hashes, hash_errors = timer.run("hashes", lambda: compute_each(media, list(HASH_SIGNALS)))
    errors.update(hash_errors)
    record["hashes"] = hashes

    def guarded(name: str, fn: Callable[[], Any]) -> Any:
        try:
            return timer.run(name, fn)
        except JikimiError as exc:
            errors[name] = str(exc)
            return None
        except Exception as exc:  # one analyser's bug must not lose the others' results
            errors[name] = f"unexpected error: {type(exc).__name__}: {exc}"
            return None

    embeddings: list[Any] = []
    features: list[tuple[int, Any]] = []
    video = media.kind == "video"
    if video:
        frames: Iterable[tuple[int, float, Any]] = _video_frames(media, opts)
    else:  # faces are found upright (EXIF orientation applied)
        frames = [(0, 0.0, timer.run("decode", lambda: np.ascontiguousarray(np.asarray(media.upright()))))]
    if opts.source_features:
        frames = _with_features(frames, features, guarded)
    record.update(_analyse_frames(frames, opts, timer, guarded, embeddings, video=video))
    if opts.synthetic:
        from jikimi.signals.synthetic import SyntheticSignal, combine

        syn = guarded(
            "synthetic",
            lambda: SyntheticSignal().analyse(media, media.rgb() if media.kind == "image" else None),
        )
        if syn is not None:
            joined = combine({"synthetic": syn, "faceswap": record.get("faceswap")})
            syn["conclusion"], syn["evidence"] = joined["conclusion"], joined["evidence"]
            record["synthetic"] = syn
    if errors:
        record["errors"] = errors
    record["timings_ms"] = {k: round(v, 1) for k, v in timer.ms.items()}
    record["cpu_ms"] = {k: round(v, 1) for k, v in timer.cpu_ms.items()}
    record["_embeddings"] = embeddings
    record["_features"] = features
    return record


VIDEO_FEATURE_FRAMES = 16


def _with_features(
    frames: Iterable[tuple[int, float, Any]],
    into: list[tuple[int, Any]],
    guarded: Callable[[str, Callable[[], Any]], Any],
) -> Iterator[tuple[int, float, Any]]:
    """Pass the pictures on, computing the ORB features of each (of a video's first
    ``VIDEO_FEATURE_FRAMES`` sampled frames) for source-photo matching."""
    from functools import partial

    from jikimi.index.source_photos import probe_features

    for index, ts, rgb in frames:
        if len(into) < VIDEO_FEATURE_FRAMES:
            got = guarded("source_photo", partial(probe_features, rgb))
            if got is not None:
                into.append((index, got))
        yield index, ts, rgb


def _video_frames(media: Any, opts: AnalyseOptions) -> Iterator[tuple[int, float, Any]]:
    for n, fr in enumerate(media.frames(opts.every_seconds)):
        if n >= opts.max_frames:
            break
        yield int(fr.index), float(fr.timestamp), fr.rgb


def _analyse_frames(
    frames: Any,
    opts: AnalyseOptions,
    timer: _Timer,
    guarded: Callable[[str, Callable[[], Any]], Any],
    embeddings: list[Any],
    *,
    video: bool,
) -> dict[str, Any]:
    """Faces, nudity and face-swap scores on each picture (an image, or the sampled frames of a video)."""
    from functools import partial

    out: dict[str, Any] = {}
    faces_out: list[dict[str, Any]] = []
    nud_sig = fs_sig = None
    if opts.nudity:
        from jikimi.signals.nudity import NuditySignal

        nud_sig = NuditySignal()
    if opts.faceswap:
        from jikimi.signals.faceswap import FaceSwapSignal, get_model

        fs_sig = FaceSwapSignal()
        if guarded("faceswap", get_model) is None:
            fs_sig = None
    worst: dict[str, Any] | None = None
    explicit_frames = 0
    fs_maxima: list[tuple[int, float, float]] = []
    fs_image: dict[str, Any] | None = None
    sampled = 0
    for index, ts, rgb in frames:
        sampled += 1
        faces: list[dict[str, Any]] = []
        boxes: list[tuple[float, float, float, float]] = []
        marks68: list[Any] | None = None
        if opts.faces:
            up, side = _face_params(rgb.shape[0], rgb.shape[1], opts.small_faces)
            if opts.embeddings:  # the face signal: boxes, 5 landmarks and the embeddings for the search
                from jikimi.signals.face import detect_faces

                find = partial(
                    detect_faces,
                    rgb,
                    upsample=up,
                    max_side=side,
                    frame_index=index,
                    timestamp=ts,
                )
                for face in guarded("face", find) or []:
                    faces.append(face.to_dict())
                    boxes.append((face.box.left, face.box.top, face.box.right, face.box.bottom))
                    embeddings.append(face.embedding)
            else:  # the same dlib detector and landmarks, without the embeddings nobody will search
                got = guarded("face", partial(_faces_without_embeddings, rgb, up, side, index, ts))
                if got is not None:
                    faces, boxes, marks68 = got
        if nud_sig is not None:
            res = guarded("nudity", partial(nud_sig.analyse, rgb))
            if res is not None:
                explicit_frames += int(res["explicit"])
                if worst is None or res["explicit_score"] > worst["explicit_score"]:
                    worst = {"index": index, "timestamp": round(ts, 3), **res} if video else res
        scores: list[float | None] = [None] * len(faces)
        if fs_sig is not None:
            res_fs = guarded("faceswap", partial(fs_sig.analyse_image, rgb, boxes, marks68))
            fs_image = res_fs
            if res_fs is not None:
                scores = [f["score"] for f in res_fs["faces"]]
                if res_fs["score"] is not None:
                    fs_maxima.append((index, ts, float(res_fs["score"])))
        for d, score in zip(faces, scores, strict=True):
            d["faceswap"] = score
            faces_out.append(d)
    if opts.faces:
        out["faces"] = faces_out
    if nud_sig is not None:
        from jikimi.signals.nudity import MODEL_NAME

        if video:
            out["nudity"] = {
                "model": MODEL_NAME,
                "explicit": explicit_frames > 0,
                "explicit_score": worst["explicit_score"] if worst else 0.0,
                "frames_sampled": sampled,
                "explicit_frames": explicit_frames,
                "worst_frame": worst,
            }
        elif worst is not None:
            out["nudity"] = {"model": MODEL_NAME, **worst}
    if fs_sig is not None:
        from jikimi.signals.faceswap import get_model, video_score

        if video:
            top = video_score([m[2] for m in fs_maxima])
            out["faceswap"] = fs_sig.summary(
                get_model(),
                top,
                aggregate="mean of the top quarter of per-frame maxima",
                frames_sampled=sampled,
                frames_with_faces=len(fs_maxima),
                top_frames=[
                    {"index": i, "timestamp": round(t, 3), "score": round(s, 4)}
                    for i, t, s in sorted(fs_maxima, key=lambda m: -m[2])[:5]
                ],
            )
        elif fs_image is not None:
            out["faceswap"] = {k: v for k, v in fs_image.items() if k != "faces"}
    return out


def _faces_without_embeddings(
    rgb: Any, upsample: int, max_side: int, index: int, ts: float
) -> tuple[list[dict[str, Any]], list[tuple[float, float, float, float]], list[Any]]:
    from jikimi.signals.faceswap import FIVE_OF_68, detect_scored, landmarks68

    faces, boxes, marks = [], [], []
    for box, score in detect_scored(rgb, upsample=upsample, max_side=max_side):
        lm = landmarks68(rgb, box)
        faces.append(
            {
                "box": [int(v) for v in box],
                "confidence": round(score, 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in lm[list(FIVE_OF_68)]],
                "detector": "hog",
                "frame_index": index,
                "timestamp": round(ts, 3),
            }
        )
        boxes.append(box)
        marks.append(lm)
    return faces, boxes, marks


def add_matches(records: list[dict[str, Any]], store: Any, face_gallery: Any, sources: Any = None) -> None:
    """Fill ``faces[i]["match"]`` with the best enrolled, consenting person (or None) and ``people`` with
    everyone found and how (``[{"id", "name", "by": ["face"|"source_photo"], "score", ...}]``; by face, or
    as a derivative of one of her source photos when ``sources`` is given), in place."""
    import numpy as np

    from jikimi.scan.decide import PersonMatch, people_entries
    from jikimi.store.people import search_faces

    for rec in records:
        embs = rec.pop("_embeddings", None) or []
        features = rec.pop("_features", None) or []
        faces = rec.get("faces") or []
        found: dict[int, PersonMatch] = {}
        names: dict[int, str] = {}
        if not embs or face_gallery is None:
            for f in faces:
                f["match"] = None
        else:
            matches = search_faces(store, [np.asarray(e) for e in embs], k=1, face_gallery=face_gallery)
            for i, (f, ms) in enumerate(zip(faces, matches, strict=True)):
                f["match"] = ms[0].to_dict() if ms else None
                if not ms:
                    continue
                m = ms[0]
                names[m.person_id] = m.name
                far, sim = getattr(m, "far", None), getattr(m, "similarity", None)
                pm = PersonMatch(
                    m.person_id,
                    float(m.distance),
                    float(m.score),
                    i,
                    None if far is None else float(far),
                    None if sim is None else float(sim),
                )
                if m.person_id not in found or pm.distance < found[m.person_id].distance:
                    found[m.person_id] = pm
        derived = sources.search_frames(features) if sources is not None and features else []
        missing = {m.person_id for m in derived} - set(names)
        if missing:
            from jikimi.store.source_photos import person_names

            with store.session() as s:
                names.update(person_names(s, missing))
        rec["people"] = people_entries(sorted(found.values(), key=lambda p: p.distance), derived, names)


def _worker(path: str, options: AnalyseOptions) -> dict[str, Any]:
    return analyse_file(path, options)


def warm_up(options: AnalyseOptions) -> None:
    """Load the models once per process (dlib, ONNX sessions) before the first file is timed."""
    import numpy as np

    from jikimi.errors import JikimiError

    try:
        if options.faces or options.faceswap:
            from jikimi.signals.faceswap import detect_scored

            detect_scored(np.zeros((64, 64, 3), np.uint8))
        if options.faces and options.embeddings:
            from jikimi.signals.face import detect_faces

            detect_faces(np.zeros((64, 64, 3), np.uint8))
        if options.faceswap:
            from jikimi.signals.faceswap import get_model

            get_model()
        if options.nudity:
            from jikimi.signals.nudity import detect

            detect(np.zeros((64, 64, 3), np.uint8))
    except JikimiError:
        pass  # the same error is reported on each file


def analyse_paths(
    paths: Sequence[str], options: AnalyseOptions, workers: int = 1
) -> Iterator[dict[str, Any]]:
    """Analyse ``paths`` on ``workers`` processes, yielding records (with ``_embeddings``) in input order."""
    n = max(1, min(workers, len(paths)))
    if n == 1:
        warm_up(options)
        for p in paths:
            yield analyse_file(p, options)
        return
    import multiprocessing as mp
    from functools import partial

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["jikimi.cli.cmd_analyze"])
    with ctx.Pool(processes=n, initializer=warm_up, initargs=(options,)) as pool:
        yield from pool.imap(partial(_worker, options=options), paths, chunksize=1)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        paths: list[Path] = typer.Argument(..., help="Files or folders to analyse.", show_default=False),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object per line per file."),
        workers: int = typer.Option(0, "--workers", "-j", min=0, help="Processes (0 = all cores)."),
        every: float = typer.Option(1.0, "--every", min=0.0, help="Video: seconds between analysed frames."),
        max_frames: int = typer.Option(120, "--max-frames", min=1, help="Video: most frames analysed."),
        small_faces: bool = typer.Option(
            False, "--small-faces", help="Also find small faces in large photos (slower)."
        ),
        no_search: bool = typer.Option(
            False, "--no-search", help="Do not match faces against enrolled, consenting people."
        ),
    ) -> None:
        """Analyse images and videos: hashes, faces (matched only against enrolled, consenting people),
        nudity, evidence of generation or editing, and face-swap scores."""
        from jikimi.cli.common import console, emit_json, err_console, progress
        from jikimi.signals.batch import default_workers, iter_items

        items = list(iter_items(paths, recursive=recursive))
        if not items:
            err_console.print("[yellow]no files found[/]")
            raise typer.Exit(0)
        store = face_gallery = sources = None
        if not no_search:
            try:
                from jikimi.store import open_store
                from jikimi.store.people import gallery
                from jikimi.store.source_photos import source_index

                store = open_store()
                face_gallery = gallery(store)
                sources = source_index(store)
            except Exception as exc:  # no database: analyse without matching
                err_console.print(f"[yellow]face search unavailable:[/] {exc}")
        # Embeddings (and ORB features) are only computed when someone is enrolled to compare them with.
        search = face_gallery is not None and len(face_gallery) > 0
        opts = AnalyseOptions(
            every_seconds=every,
            max_frames=max_frames,
            small_faces=small_faces,
            embeddings=search,
            source_features=sources is not None,
        )
        bad = [it for it in items if it.error is not None]
        good = [it.path for it in items if it.error is None]
        failed = 0
        records: list[dict[str, Any]] = [{"path": it.path, "error": it.error} for it in bad]
        stream = analyse_paths(good, opts, workers=workers or default_workers())
        shown = []
        for rec in progress(
            stream, len(good), "analysing", enabled=err_console.is_terminal and len(good) > 1
        ):
            if "error" not in rec:
                add_matches([rec], store, face_gallery, sources)
            shown.append(rec)
        for rec in records + shown:
            rec.pop("_embeddings", None)
            rec.pop("_features", None)
            failed += "error" in rec or bool(rec.get("errors"))
            if json_out:
                emit_json(rec)
            else:
                _print(rec, console)
        if failed and not json_out:
            err_console.print(f"[bold red]{failed} of {len(items)} file(s) failed[/]")
        raise typer.Exit(1 if failed else 0)


def _print(rec: dict[str, Any], console: Any) -> None:
    from rich.markup import escape

    path = escape(rec["path"])
    if "error" in rec:
        console.print(f"[bold]{path}[/]  [red]error:[/] {escape(rec['error'])}")
        return
    size = f"{rec['width']}x{rec['height']}"
    extra = f", {rec['duration']:.1f} s" if "duration" in rec else ""
    console.print(f"[bold]{path}[/]  ({rec['kind']} {rec['format']} {size}{extra})")
    h = rec.get("hashes", {})
    line = f"  md5 {h.get('md5', '?')}  sha256 {str(h.get('sha256', '?'))[:16]}…"
    if isinstance(h.get("pdq"), dict):
        line += f"  pdq {h['pdq']['hash']} (quality {h['pdq']['quality']})"
    if isinstance(h.get("vpdq"), list):
        line += f"  vpdq {len(h['vpdq'])} frames"
    console.print(line)
    faces = rec.get("faces")
    if faces is not None:
        console.print(f"  faces: {len(faces)}")
        for n, f in enumerate(faces[:20], 1):
            m = f.get("match")
            who = f"{escape(m['name'])} (score {m['score']:.2f})" if m else "no enrolled person"
            swap = f"  face-swap {f['faceswap']:.2f}" if f.get("faceswap") is not None else ""
            where = f" frame {f['frame_index']}" if rec["kind"] == "video" else ""
            console.print(f"    #{n}{where} box {f['box']}: {who}{swap}")
    for p in rec.get("people") or []:
        how = []
        if "face" in p["by"]:
            how.append(f"face (false-accept rate {p['far']:.2g})" if p.get("far") is not None else "face")
        if "source_photo" in p["by"]:
            how.append(f"derivative of her source photo {p['source_id']} ({p['inliers']} matching points)")
        console.print(f"  found: [bold]{escape(p['name'])}[/] (person {p['id']}) by {', '.join(how)}")
    nud = rec.get("nudity")
    if nud:
        labels = (nud.get("detections") or (nud.get("worst_frame") or {}).get("detections") or [])[:6]
        text = ", ".join(f"{d['label']} {d['score']:.2f}" for d in labels) or "no labels"
        flag = "[bold red]EXPLICIT[/]" if nud["explicit"] else "not explicit"
        console.print(f"  nudity: {flag} (score {nud['explicit_score']:.2f}); {text}")
    fs = rec.get("faceswap")
    if fs:
        if fs.get("score") is None:
            console.print("  face-swap: no face scored")
        else:
            state = "[bold red]above[/]" if fs["above_threshold"] else "below"
            console.print(f"  face-swap: {fs['score']:.2f} ({state} the threshold {fs['threshold']:.2f})")
    syn = rec.get("synthetic")
    if syn:
        colour = "bold red" if syn["evidence"] else "green"
        console.print(f"  synthetic: [{colour}]{syn['conclusion']}[/]")
        for e in syn["evidence"]:
            console.print(f"    - {escape(e['source'])}: {escape(e['finding'])}")
        checks = "; ".join(f"{k}: {v}" for k, v in syn.get("checks", {}).items())
        console.print(f"    checked — {escape(checks)}")
    for name, reason in (rec.get("errors") or {}).items():
        console.print(f"  [red]{name} failed:[/] {escape(reason)}")
