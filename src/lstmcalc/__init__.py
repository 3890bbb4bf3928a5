"""lstmcalc: a command-line LSTM calculator."""

__version__ = "0.1.0"
