"""Scoring translations: pixel metrics, FID/KID, the FCN-score, baselines and the
perceptual study.

- ``metrics``: L1, PSNR, SSIM, MS-SSIM, sharpness, segmentation scores, diversity.
- ``fid``: FID and KID (standard FID Inception or Keras' InceptionV3), ``run_evaluation``
  (what ``kerasi2i evaluate`` runs). Its names are importable from here.
- ``fid_inception``: the standard FID network ported to Keras, and its weight converter.
- ``fcn``: the FCN-score of labels -> photo on facades.
- ``adaptation``: domain adaptation scored by a segmenter (CyCADA's lower bound, adapted,
  upper bound; ``kerasi2i evaluate --segmenter``).
- ``baselines``: the trivial baselines every headline result is compared with.
- ``study``: the 2AFC perceptual study (widget and Wilson interval).
"""
from kerasi2i.evaluation.fid import *  # noqa: F401,F403
from kerasi2i.evaluation.fid import __all__ as _fid_all

__all__ = list(_fid_all)
