"""The datasets of the neuron experiment, by task (light to import: the params checks read it)."""

CLASSIFICATION_DATASETS = ("iris", "wine", "digits")
SERIES_DATASETS = ("gait",)
NEURON_DATASETS = CLASSIFICATION_DATASETS + SERIES_DATASETS
