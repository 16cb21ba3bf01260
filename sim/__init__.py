"""cocotb regressions of the generated Verilog against the golden model."""
