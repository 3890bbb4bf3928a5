"""Where a spec comes from: a config (YAML or JSON) or a framework's weight file, with the
options that say how to read a weight file. Shared by the command line and the Python API."""

from lstmcalc.errors import UsageError


def load_spec(path: str | None, max_bytes: int, layout=None, forget_bias: float | None = None,
              activations: str | None = None, name: str | None = None,
              lengths_ok: bool = False):
    """The spec of a config (YAML or JSON), or of a framework's weight file. lengths_ok: the
    caller runs an ONNX node's sequence_lens (unroll), or needs only the weights; else such a
    node is refused rather than run as if its sequences were whole."""
    from lstmcalc import config
    from lstmcalc.document import WEIGHT_SUFFIXES, is_weights_file

    if path is None or not is_weights_file(path):
        given = [option for option, value in (("--layout", layout), ("--forget-bias", forget_bias),
                                              ("--activations", activations), ("--name", name))
                 if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                             f"framework weight files ({', '.join(WEIGHT_SUFFIXES)}); a config "
                             "says what it needs itself")
        return config.load_builtin() if path is None else config.load(path, max_bytes)
    from lstmcalc import frameworks

    layout = getattr(layout, "value", layout)  # the CLI's Layout, or its name
    if forget_bias is not None and layout not in (None, "tf1"):
        raise UsageError("--forget-bias goes with the tf1 layout")
    stack, directions, chosen, how, (h0, c0, lengths) = frameworks.load(
        path, layout, forget_bias, max_bytes, name)
    if activations is not None:
        stack = [[with_activations(w, activations) for w in layer] for layer in stack]
    weights = stack[0][0]
    layers = f", {len(stack)} layers" if len(stack) > 1 else ""
    dirs = "" if directions == ("forward",) else f", {'+'.join(directions)}"
    single = len(stack) == 1 and directions == ("forward",)
    if lengths is not None and not lengths_ok:
        from lstmcalc.errors import Unsupported

        raise Unsupported("the LSTM node has sequence_lens (each sequence stops at its own "
                          "length): lstmcalc unroll runs it; this command runs whole sequences")
    return config.Spec(f"{path} ({how}{layers}{dirs})", weights, None,
                       None if h0 is None else (h0[0] if single else h0),
                       None if c0 is None else (c0[0] if single else c0), None, None,
                       stack=stack, directions=directions, layout=chosen, lengths=lengths)


def with_activations(weights, text: str):
    """weights with the activations --activations names (gates, candidate, cell)."""
    from dataclasses import replace

    from lstmcalc.core.activations import Activation

    names = [t.strip() for t in text.split(",")]
    if len(names) != 3 or any(name not in Activation.NAMES for name in names):
        raise UsageError(f"--activations {text!r}: give three of {', '.join(Activation.NAMES)}, "
                         "for the gates, the candidate and the cell state")
    v = replace(weights.variant, gate=Activation(names[0]),
                candidate=Activation(names[1]), cell=Activation(names[2]))
    return replace(weights, variant=v)


def arithmetic(spec, dtype: str, compare_to: str | None = None, ragged: bool = False):
    """The spec's cell in --dtype's arithmetic (float64, float32, float16, bfloat16, qI.F),
    and whether its report compares it with float64: a narrow format always does, float32
    with compare_to "float64". ragged: the sequences have their own lengths, which are run
    as a stack, without a comparison."""
    compare_to = getattr(compare_to, "value", compare_to)  # the CLI's CompareTo, or its name
    if compare_to not in (None, "float64"):
        raise UsageError(f"compare_to {compare_to!r}: lstmcalc compares with float64")
    if compare_to is not None and spec.is_stack:
        from lstmcalc.errors import Unsupported

        raise Unsupported("--compare-to float64 compares one cell: not available yet for "
                          "stacked or bidirectional LSTMs")
    if compare_to is not None and dtype == "float64":
        raise UsageError("--compare-to float64 compares another --dtype (float32, float16, "
                         "bfloat16, qI.F) against float64")
    cell = spec.cell_in(dtype)
    compared = cell.number is not None or compare_to is not None
    if compared and ragged:
        raise UsageError(f"--dtype {dtype}{' --compare-to float64' if compare_to else ''} "
                         "runs whole sequences; a ragged batch (--lengths, sequence_lens) "
                         "runs in float64 or float32")
    return cell, compared


def sequence_lengths(spec, given: str | None):
    """The lengths of a ragged batch: --lengths (N,N,...), else the file's own (an ONNX
    node's sequence_lens), or None. A node whose sequence_lens is a graph input needs
    --lengths; a file's own lengths are not overridden silently."""
    own = spec.lengths
    if given is not None:
        if own is not None and not isinstance(own, str):
            raise UsageError("--lengths: this file gives its own (the LSTM node's "
                             "sequence_lens); lstmcalc runs those")
        try:
            return [float(v) for v in given.split(",")]
        except ValueError:
            raise UsageError(f"--lengths {given!r}: give whole numbers separated by commas, "
                             "one per sequence of the batch") from None
    if isinstance(own, str):
        raise UsageError(f"the LSTM node's sequence_lens is the graph input {own!r}: give the "
                         "lengths with --lengths N,N,... (one per sequence of the batch)")
    return own


def given_sequence(spec, inputs: str | None, input_format: str | None, batch_first: bool,
                   max_bytes: int):
    """x_1..x_T as grad and vectors take them: from --inputs (any format unroll reads), else
    the config's sequence, else its x as one step."""
    import numpy as np

    from lstmcalc import sequences
    from lstmcalc.errors import DataError

    if inputs is not None:
        fmt = sequences.format_of(inputs, input_format)
        return sequences.read(inputs, None if fmt == "auto" else fmt, batch_first,
                              spec.cell.input_size, max_bytes)
    if spec.sequence is not None:
        return spec.sequence
    if spec.x is not None:
        return np.asarray(spec.x)[None]  # one step
    raise DataError("no input: give --inputs FILE, or x or a sequence in the config",
                    spec.source)
