"""The benchmark workloads, each one module with the same shape (see ``base``)."""

from . import w1_linreg, w2_mlp, w3_rnn, w4_control

WORKLOADS = (w1_linreg, w2_mlp, w3_rnn, w4_control)
