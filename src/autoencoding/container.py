"""The ``.aec`` container: a small self-describing file around a model's bitstreams.

Layout (little endian)::

    magic "AEC\\x00" | u16 format version | 32-byte model fingerprint (SHA-256)
    u8 rank of the batch | u32 × rank: the batch shape (n, *sample shape)
    u8 rank of the latent | u32 × rank: the latent's shape at the bottleneck input
    u8 stream count | u32 × count: stream lengths | the streams | u32 CRC-32 of all before

The fingerprint ties a file to the exact weights and coding tables that wrote it (decoding
with other tables would silently produce noise); the CRC turns a truncated or damaged file
into one clear error instead of garbage.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

import torch

from .errors import AutoencodingError

MAGIC = b"AEC\x00"
FORMAT_VERSION = 1


@dataclass
class Packed:
    fingerprint: bytes
    batch_shape: tuple[int, ...]
    latent_shape: tuple[int, ...]
    streams: list[bytes]


def fingerprint(module: torch.nn.Module, config_json: str) -> bytes:
    """SHA-256 of the config and every parameter and buffer, in name order."""
    h = hashlib.sha256(config_json.encode())
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()


def pack(p: Packed) -> bytes:
    parts = [MAGIC, struct.pack("<H", FORMAT_VERSION), p.fingerprint]
    for shape in (p.batch_shape, p.latent_shape):
        parts.append(struct.pack(f"<B{len(shape)}I", len(shape), *shape))
    parts.append(struct.pack(f"<B{len(p.streams)}I", len(p.streams), *map(len, p.streams)))
    parts.extend(p.streams)
    body = b"".join(parts)
    return body + struct.pack("<I", zlib.crc32(body))


def unpack(data: bytes, where: str = "decompress") -> Packed:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise AutoencodingError(f"{where}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise AutoencodingError(
            f"{where}: not an autoencoding bitstream (expected the magic bytes {MAGIC!r}, "
            f"got {data[:4]!r})"
        )
    if len(data) < 4 + 2 + 32 + 4 or zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise AutoencodingError(
            f"{where}: the bitstream is truncated or damaged ({len(data)} bytes; its checksum "
            f"does not match)"
        )
    (version,) = struct.unpack_from("<H", data, 4)
    if version > FORMAT_VERSION:
        raise AutoencodingError(
            f"{where}: bitstream format version {version} is newer than this library reads "
            f"({FORMAT_VERSION}); upgrade autoencoding"
        )
    pos = 6
    fp = data[pos : pos + 32]
    pos += 32
    shapes = []
    for _ in range(3):
        (n,) = struct.unpack_from("<B", data, pos)
        shapes.append(struct.unpack_from(f"<{n}I", data, pos + 1))
        pos += 1 + 4 * n
    streams = []
    for length in shapes[2]:
        streams.append(data[pos : pos + length])
        pos += length
    if pos != len(data) - 4:
        raise AutoencodingError(f"{where}: the bitstream's stream lengths do not add up")
    return Packed(fp, tuple(shapes[0]), tuple(shapes[1]), streams)
