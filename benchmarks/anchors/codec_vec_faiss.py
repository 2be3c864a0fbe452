"""faiss anchors of protocol CODEC-VEC (run by benchmarks/codec_vec.py in benchmarks/.venvs/faiss).

PQ (M sub-quantizers x 8 bits), OPQ + PQ (``OPQ{M},PQ{M}``) and PCA + 4-bit scalar
quantization (``PCAR{2B},SQ4``: 2B dims x 4 bits = B bytes), each trained on the train split
and used to encode then decode the database (``sa_encode`` / ``sa_decode``). Writes the
decoded database per (codec, bytes) to ``OUT.npz`` and timings to ``OUT.json``; the caller
computes every metric with its one shared function.

    python codec_vec_faiss.py --data X.npy --bytes 8,16 --out /tmp/faiss_vec
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

FACTORIES = {
    "pq": lambda b: f"PQ{b}",
    "opq_pq": lambda b: f"OPQ{b},PQ{b}",
    "pca_sq4": lambda b: f"PCAR{2 * b},SQ4",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--bytes", default="8,16,32,64")
    p.add_argument("--codecs", default=",".join(FACTORIES))
    p.add_argument("--out", required=True)
    a = p.parse_args()
    faiss.omp_set_num_threads(1)
    e = np.load(a.data).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(e))
    train, database = e[perm[:5000]], e[perm[6000:]]
    arrays, info = {}, {}
    for codec in a.codecs.split(","):
        for b in (int(s) for s in a.bytes.split(",")):
            index = faiss.index_factory(e.shape[1], FACTORIES[codec](b))
            t0, c0 = time.perf_counter(), time.process_time()
            index.train(train)
            t1, c1 = time.perf_counter(), time.process_time()
            codes = index.sa_encode(database)
            t2, c2 = time.perf_counter(), time.process_time()
            arrays[f"{codec}_{b}"] = index.sa_decode(codes)
            info[f"{codec}_{b}"] = {
                "bytes_per_vector": int(codes.shape[1]),
                "train_wall_s": t1 - t0,
                "train_cpu_s": c1 - c0,
                "encode_us_per_vector": 1e6 * (t2 - t1) / len(database),
                "encode_cpu_us_per_vector": 1e6 * (c2 - c1) / len(database),
            }
            print(codec, b, info[f"{codec}_{b}"], flush=True)
    np.savez(a.out + ".npz", **arrays)
    with open(a.out + ".json", "w") as f:
        json.dump({"faiss": faiss.__version__, "results": info}, f, indent=2)


if __name__ == "__main__":
    main()
