"""The inference service as its callers see it: `client` (InferenceClient), the plain `results`
it returns, and `convert` between those results and the protobuf messages (the service answers
with the same conversions). Every service may import it; none imports the inference service."""
