"""msdepth: single-image depth prediction with the multi-scale network of Eigen et al. (2014)."""

__version__ = "0.1.0"
