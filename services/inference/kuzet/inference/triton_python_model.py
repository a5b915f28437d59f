"""Triton python-backend model that runs a Kuzet ONNX file with onnxruntime (CI variant).

The model repository generator copies this file to <model>/1/model.py. Triton's python stub
does not inherit PYTHONPATH, so the interpreter's site-packages come from the model config
parameter ``site_packages``. Requests that Triton's dynamic batcher groups are concatenated
into one onnxruntime execution when their shapes allow.

Tensors cross the stub boundary by DLPack, not ``as_numpy()``/``Tensor(name, array)``: the
stub of Triton 2.51 was built against numpy 1 and, with numpy 2 in the environment, reads
inputs with wrong strides (every element equals the first) and sends empty outputs
("output tensor shape does not match size of output").
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        for path in params.get("site_packages", "").split(os.pathsep):
            if path and path not in sys.path:
                sys.path.append(path)
        import numpy as np
        import onnxruntime as ort

        self.np = np
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "1") or 1)
        options.log_severity_level = 3
        model_file = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [o["name"] for o in config["output"]]
        self.batching = int(config.get("max_batch_size", 0)) > 0

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        np = self.np
        feeds = [
            {name: np.from_dlpack(pb_utils.get_input_tensor_by_name(r, name)) for name in self.inputs}
            for r in requests
        ]
        try:
            results = self._run(feeds)
        except Exception as exc:  # each request gets the error instead of the server failing
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))) for _ in requests]
        return [
            pb_utils.InferenceResponse(
                [
                    pb_utils.Tensor.from_dlpack(n, np.ascontiguousarray(v))
                    for n, v in zip(self.outputs, outs, strict=True)
                ]
            )
            for outs in results
        ]

    def _run(self, feeds: list[dict[str, Any]]) -> list[list[Any]]:
        np = self.np
        same_shape = all(f[n].shape[1:] == feeds[0][n].shape[1:] for f in feeds for n in self.inputs)
        if self.batching and len(feeds) > 1 and same_shape:
            merged = {n: np.concatenate([f[n] for f in feeds]) for n in self.inputs}
            outs = self.session.run(self.outputs, merged)
            sizes = np.cumsum([len(f[self.inputs[0]]) for f in feeds])[:-1]
            split = [np.split(o, sizes) for o in outs]
            return [[s[i] for s in split] for i in range(len(feeds))]
        return [self.session.run(self.outputs, f) for f in feeds]
