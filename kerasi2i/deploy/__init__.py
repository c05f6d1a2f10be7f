"""Using a trained generator: loading and translating files (``inference``), SavedModel and
TFLite export (``export``), the local demo server with its pages (``serve``) and input
drift monitoring (``monitoring``)."""
