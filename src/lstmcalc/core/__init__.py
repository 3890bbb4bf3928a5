"""The numerical core: NumPy only. Nothing here prints, reads files or knows YAML, Rich or Typer.

    types        Cell (weights, Variant), Step, Run, Grads
    activations  stable sigmoid/tanh, their distances to saturation and slopes; Activation
    precise      the same distances correctly rounded, for the numbers written out
    forward      unroll (every intermediate), outputs (h and the final C), final (h_T, C_T),
                 step
    backward     backpropagation through time; the losses
    stacks       layers and directions
    extras       output layer, stochastic reading, gate slopes, forget products
    finite_diff  central differences against backward's gradients
"""

from lstmcalc.core.precise import precise_gaps
from lstmcalc.core.backward import (backward, linear, loss_given, loss_mse, loss_sum, mean_squared,
                                    sum_last)
from lstmcalc.core.extras import (OUTPUT_ACTIVATIONS, OutputLayer, Reading, cell_path_slopes,
                                  derivative_arrays, forget_products, gate_slopes,
                                  log10_saturation, preactivation_terms, stochastic_reading)
from lstmcalc.core.forward import final, outputs, step, unroll
from lstmcalc.core.stacks import StackGrads, StackRun, stack_backward, stack_unroll
from lstmcalc.core.types import F, G, GATES, I, O, Cell, Grads, Run, Step, Variant

__all__ = ["GATES", "F", "I", "G", "O", "Cell", "Variant", "Step", "Run", "Grads", "unroll",
           "outputs", "final", "step", "backward", "loss_sum", "loss_mse", "loss_given", "sum_last",
           "mean_squared", "linear", "StackRun", "StackGrads", "stack_unroll", "stack_backward",
           "OUTPUT_ACTIVATIONS", "OutputLayer", "Reading", "stochastic_reading", "gate_slopes",
           "forget_products", "derivative_arrays", "preactivation_terms", "cell_path_slopes",
           "log10_saturation", "precise_gaps"]
