"""Fingerprint of a run: a hash of every spike of every layer and of the final state, to check that
a change to the kernels left the arithmetic bit for bit as it was (run it in both source trees).

    PYTHONPATH=. python benchmarks/fingerprint.py nmnist nmnist:$STDPNET_DATA/nmnist/Train 40
    PYTHONPATH=. python benchmarks/fingerprint.py nmnist SOURCE 15 '{"conv1": {"reset": "subtract"}}'

The first two thirds of the samples are learned, the rest run with learning off.
"""
import hashlib
import json
import sys

import numpy as np

import streams
from stdpnet.network import Network
from stdpnet.sources import open_source


def fingerprint(net_name: str, data: str, n: int, layers=None):
    src = open_source(data, seed=0)
    idx = np.arange(min(n, len(src.dataset)))
    net = Network.from_spec(net_name, seed=0, layers=layers)
    stream = streams.LabelledStream(src.dataset, indices=idx, shuffle=True, seed=0)
    chunks = list(streams.tick_chunks(stream, dt_us=net.dt_us))
    h = hashlib.sha256()
    n_spikes = 0
    for i, chunk in enumerate(chunks):
        if i == len(chunks) * 2 // 3:
            net.set_learning(False)
        r = net.run(chunk, record=True)
        h.update(r.record.tobytes())
        n_spikes += len(r.record)
    for layer in net.learning_layers:
        for v in layer.state_dict().values():
            h.update(np.ascontiguousarray(v).tobytes())
    h.update(net.rng_state.tobytes())
    return n_spikes, h.hexdigest()[:16]


if __name__ == "__main__":
    layers = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    n_spikes, digest = fingerprint(sys.argv[1], sys.argv[2], int(sys.argv[3]), layers)
    print(sys.argv[1], sys.argv[3], n_spikes, digest)
