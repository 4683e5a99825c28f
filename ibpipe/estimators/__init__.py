"""Estimators of entropy and mutual information: numpy arrays in, numbers in bits out."""

from ibpipe.estimators.plugin import entropy_bits, mutual_information_bits, plugin_information
from ibpipe.estimators.rowkeys import row_keys

# One registry drives both params validation and dispatch in the estimate stage.
ESTIMATORS = {"plugin": plugin_information}
QUANTITIES = ("H_T", "I_XT", "I_TY")

__all__ = ["ESTIMATORS", "QUANTITIES", "entropy_bits", "mutual_information_bits", "plugin_information", "row_keys"]
