"""Backends run a batch of tensors through a model: onnxruntime in-process or NVIDIA Triton."""
