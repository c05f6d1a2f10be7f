"""Experiments built on the package: the comparison study (``compare``) and the
first-run demo (``demo``)."""
