"""The spec's MIP as named rule families (assembled by :func:`stockplan.solver.builder.build_model`).

* :mod:`.segments`: purchase slots and their price segments, read from the agreements.
* :mod:`.context`: what the families share, the :class:`~.context.BuildContext` (problem
  arrays, assembler, stock pairs, segments) and the :class:`~.context.Columns` (index arrays).
* :mod:`.columns`: one function per kind of decision (shipments, dropships, forecast fills,
  stock, safety-stock shortfall, purchase segments, supplier orders, ship-complete choices).
* :mod:`.rows`: one function per business rule (stock balance, safety stock, line quantity,
  dropship balance, segment bounds, one segment per order and the fixed order cost,
  ship-complete, the allocation policy and order smoothing, the stock bound).
"""
