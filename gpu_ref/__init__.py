"""PyTorch reference of the package's numerics; every function runs on CPU torch and on CUDA."""
