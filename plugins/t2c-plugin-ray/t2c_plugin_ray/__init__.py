"""t2c-plugin-ray: the executor `ray`, which extracts features and sums aligner statistics on a Ray cluster."""
