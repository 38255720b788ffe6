"""Entropy models (factorized prior, Gaussian conditional) and the range coder."""

from lvc.entropy.factorized import FactorizedPrior
from lvc.entropy.gaussian import GaussianConditional
from lvc.entropy.quantize import dequantize, quantize

__all__ = ["FactorizedPrior", "GaussianConditional", "dequantize", "quantize"]
