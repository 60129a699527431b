"""The core layer: the node, the operator protocol, event time, watermarks, errors.

Nothing here imports from any other part of streamlab; every other layer imports this one.
"""
