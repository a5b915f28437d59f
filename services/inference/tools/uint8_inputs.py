"""Give a shipped model a uint8 NHWC input, with the cast (and layout change) inside the graph.

Pixels are 0-255 integers anyway: sending them as uint8 cuts what travels to Triton by 4x and
spares the service a float conversion and a transpose per image. The arithmetic is unchanged
(Cast of 0-255 to float is exact), so outputs are identical to the original graph's.

Developer tool, run once when a model is added (needs the `onnx` package, which Kuzet does not
need at run time); record the new sha256 in models/MANIFEST.json:

    PYTHONPATH=<dir with onnx> python services/inference/tools/uint8_inputs.py MODEL.onnx OUT.onnx [--nchw]
"""

from __future__ import annotations

import argparse

import onnx
from onnx import TensorProto, helper


def convert(model: onnx.ModelProto, nchw: bool) -> onnx.ModelProto:
    graph = model.graph
    (graph_input,) = list(graph.input)
    name = graph_input.name
    tensor_type = graph_input.type.tensor_type
    original_type = tensor_type.elem_type
    cast_out = f"{name}__cast"
    feed = f"{name}__nchw" if nchw else cast_out
    for node in graph.node:
        for i, value in enumerate(node.input):
            if value == name:
                node.input[i] = feed
    added = [helper.make_node("Cast", [name], [cast_out], to=original_type, name=f"{name}__uint8_to_model")]
    if nchw:
        added.append(
            helper.make_node("Transpose", [cast_out], [feed], perm=[0, 3, 1, 2], name=f"{name}__nhwc_to_nchw")
        )
        dims = list(tensor_type.shape.dim)
        # Reorder the declared dims N,C,H,W -> N,H,W,C.
        reordered = [dims[0], dims[2], dims[3], dims[1]]
        copies = [onnx.TensorShapeProto.Dimension() for _ in reordered]
        for target, source in zip(copies, reordered, strict=True):
            target.CopyFrom(source)
        del tensor_type.shape.dim[:]
        tensor_type.shape.dim.extend(copies)
    for node in reversed(added):
        graph.node.insert(0, node)
    tensor_type.elem_type = TensorProto.UINT8
    onnx.checker.check_model(model)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--nchw", action="store_true", help="the graph takes NCHW: add a transpose from NHWC")
    opts = parser.parse_args()
    model = convert(onnx.load(opts.source), opts.nchw)
    onnx.save(model, opts.target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
