"""tinydl.models: Model (functional graphs and subclassed models) and Sequential.

    model.py        Model: structure, forward (a tape of layer calls), backward, weights
    functional.py   the graph of a functional model: order, run, config
    sequential.py   Sequential, the linear case of the graph
    training.py     compile / fit / evaluate / predict, train_step / test_step
    summary.py      summary()'s table
"""
from tinydl.models.model import Model
from tinydl.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True):
    """A model saved by model.save (tinydl.saving.load_model)."""
    from tinydl import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


__all__ = ["Model", "Sequential", "load_model"]
