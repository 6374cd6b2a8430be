"""Build a sentence-transformers static model folder from the navec Russian word vectors in the natasha wheel.

Run at setup time (`python -m knowledge_base.build_static OUT_DIR`); idempotent: an existing
complete folder is left alone. The folder loads with `SentenceTransformer(OUT_DIR)` where torch
is installed, and with knowledge_base.embeddings.StaticEncoder everywhere else.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

NAVEC_IN_NATASHA = "data/emb/navec_news_v1_1B_250K_300d_100q.tar"


def navec_path() -> Path:
    """Where the natasha wheel keeps its navec archive."""
    import natasha

    return Path(natasha.__file__).parent / NAVEC_IN_NATASHA


def build(out_dir: Path, source: Path | None = None) -> Path:
    """Write modules.json, 0_StaticEmbedding/{model.safetensors,tokenizer.json} and a marker file.

    Args:
        out_dir: The model folder to create.
        source: A navec .tar archive; defaults to the one inside the natasha wheel.

    Returns:
        The folder, ready to load.
    """
    if (out_dir / ".complete").is_file():
        return out_dir
    from navec import Navec
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    navec = Navec.load(str(source or navec_path()))
    words: list[str] = list(navec.vocab.words)
    vectors = navec.pq.unpack().astype(np.float32)
    unk = navec.vocab.unk_id
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "0_StaticEmbedding").mkdir(parents=True)
    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[unk]))
    steps: list[normalizers.Normalizer] = [normalizers.Lowercase()]
    if not any("ё" in w for w in words):  # navec's news corpus spells е for ё
        steps.append(normalizers.Replace("ё", "е"))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp / "0_StaticEmbedding" / "tokenizer.json"))
    save_file({"embedding.weight": vectors}, str(tmp / "0_StaticEmbedding" / "model.safetensors"))
    modules = [
        {"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"},
        {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (tmp / "1_Normalize").mkdir()
    (tmp / "modules.json").write_text(json.dumps(modules, indent=2))
    (tmp / "config_sentence_transformers.json").write_text(json.dumps({"similarity_fn_name": "cosine"}))
    (tmp / "README.md").write_text(
        "Static sentence-transformers model built from navec news_v1_1B_250K_300d_100q (natasha), "
        "by knowledge_base/build_static.py.\n"
    )
    (tmp / ".complete").touch()
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    logger.info("Built %s (%d words, %d dims)", out_dir, len(words), vectors.shape[1])
    return out_dir


def main() -> None:
    """Command line: build into the given folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", type=Path, default=None, help="navec .tar (default: the installed natasha's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(build(args.out_dir, args.source))


if __name__ == "__main__":
    main()
