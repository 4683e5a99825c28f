"""The names the neuron experiment offers (light to import: the params checks read them).

Datasets by task, and the neuron distances k-means can cluster under.
"""

CLASSIFICATION_DATASETS = ("iris", "wine", "digits")
SERIES_DATASETS = ("gait",)
NEURON_DATASETS = CLASSIFICATION_DATASETS + SERIES_DATASETS

# Squared Euclidean distance of the means; squared 2-Wasserstein distance of the Gaussians.
METRICS = ("euclidean", "w2")
