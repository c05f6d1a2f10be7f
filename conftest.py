"""Root pytest configuration: notebooks run in quick mode, offline, on the CPU."""
import os

# Notebook kernels started by nbval inherit this environment.
os.environ.setdefault("KERASI2I_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
