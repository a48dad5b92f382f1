"""Broken files of every kind a user meets, made on the fly for the bad-input matrix."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def rgb_png(path: Path, size: tuple[int, int] = (16, 12), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def depth_png(path: Path, size: tuple[int, int] = (16, 12), mm: int = 1500) -> Path:
    w, h = size
    Image.fromarray(np.full((h, w), mm, np.uint16)).save(path)
    return path


def truncated(path: Path) -> Path:
    """Cut a file inside its pixel data."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def noisy_png(path: Path, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Path:
    """A PNG that does not compress to nothing, so cutting it cuts pixel data."""
    rng = np.random.default_rng(1)
    w, h = size
    if mode == "I;16":
        Image.fromarray(rng.integers(500, 9000, (h, w)).astype(np.uint16)).save(path)
    else:
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def corrupt_png_chunk(path: Path) -> Path:
    """Damage the IHDR chunk so its CRC no longer matches (a bit flip on disk)."""
    data = bytearray(path.read_bytes())
    data[16] ^= 0xFF  # inside IHDR's width field
    path.write_bytes(bytes(data))
    return path


def jpeg(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    rng = np.random.default_rng(2)
    w, h = size
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def pgm16(path: Path, size: tuple[int, int] = (16, 12), mm: int = 1500) -> Path:
    w, h = size
    header = f"P5\n{w} {h}\n65535\n".encode()
    path.write_bytes(header + np.full((h, w), mm, ">u2").tobytes())
    return path


def bomb_png(path: Path) -> Path:
    """A tiny PNG whose header claims 30000 x 30000 pixels (over Pillow's limit of ~89M x 2).

    Pillow refuses it from the header alone (DecompressionBombError) without allocating.
    """
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


class Exploit:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(Exploit(marker)))
    return path


def malicious_torch_file(path: Path, marker: Path) -> Path:
    """A file in torch.save's zip format whose pickle runs code when loaded without weights_only."""
    import torch

    torch.save({"format": "msdepth-train-state", "payload": Exploit(marker)}, path)
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root`` (folders as '<dir>')."""
    found = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        found[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return found
