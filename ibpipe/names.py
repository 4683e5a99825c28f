"""Names that the networks, the stores and params.yaml share: reserved layer names.

Kept apart so that the params checks and the store code can agree on them without importing torch.
"""

INPUT_LAYER = "input"  # the network's input in reduce.layers and in the codes store (codes X)
OUTPUT_LAYER = "output"  # the MLP's read-out, recorded as softmax probabilities
