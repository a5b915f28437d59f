"""Pre- and post-processing shared by every backend: the only code in Kuzet that knows tensors."""
